// Ensemble mode: the detections of several files, joined by id, fused into one set.
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ensemble.h"

typedef struct {
    json_t *json;
    long line;
    int used;
} Stored;

typedef struct {
    const char *path;
    Stored *recs;
    long n;
    json_t *index;   // id -> position in recs
    json_t *seen;    // id -> line, for duplicates
} SourceFile;

static int load_file(SourceFile *f, char *err, size_t errn) {
    FILE *fp = fopen(f->path, "r");
    if (!fp) { snprintf(err, errn, "cannot open %s: %s", f->path, strerror(errno)); return -1; }
    RecordReader rd;
    record_reader_init(&rd, fp, REC_ID, BOX_LENIENT);
    f->index = json_object();
    f->seen = json_object();
    long cap = 0;
    for (;;) {
        Record rec;
        char e[1024];
        int rc = record_read(&rd, &rec, e, sizeof e);
        if (rc == 0) break;
        if (rc < 0) { snprintf(err, errn, "%s: %s", f->path, e); fclose(fp); free(rd.buf); return -1; }
        if (record_id_unique(f->seen, rec.id, strlen(rec.id), rec.line, e, sizeof e) != 0) {
            snprintf(err, errn, "%s: %s", f->path, e);
            record_free(&rec);
            fclose(fp);
            free(rd.buf);
            return -1;
        }
        if (f->n == cap) {
            cap = cap ? cap * 2 : 256;
            Stored *s = realloc(f->recs, sizeof *s * (size_t)cap);
            if (!s) { snprintf(err, errn, "out of memory"); record_free(&rec); fclose(fp); free(rd.buf); return -1; }
            f->recs = s;
        }
        json_object_set_new(f->index, rec.id, json_integer(f->n));
        f->recs[f->n++] = (Stored){ json_incref(rec.json), rec.line, 0 };
        record_free(&rec);
    }
    fclose(fp);
    free(rd.buf);
    return 0;
}

static double weight_of(const FuseOptions *o, int k, const char *path) {
    if (o->weights_by_pos) return o->weights_by_pos[k];
    if (o->weights_by_name) {
        json_t *v = json_object_get(o->weights_by_name, path);
        return v ? json_real_value(v) : -1.0;
    }
    return 1.0;
}

// Label id of a detection label, shared across the sources of one record.
static int label_id(const char *label, const char **names, int *n) {
    for (int k = 0; k < *n; k++)
        if (strcmp(names[k], label) == 0) return k;
    names[*n] = label;
    return (*n)++;
}

int fuse_ensemble(char **paths, int k, const FuseOptions *o, bool allow_missing, bool keep_going, FILE *out,
                  EnsembleSummary *sum, const char *tool) {
    memset(sum, 0, sizeof *sum);
    char err[2048];
    double *w = malloc(sizeof *w * (size_t)k);
    SourceFile *files = calloc((size_t)k, sizeof *files);
    Record *recs = calloc((size_t)k, sizeof *recs);
    if (!w || !files || !recs) cli_die(tool, EXIT_DATA, "out of memory");
    for (int i = 0; i < k; i++) {
        files[i].path = paths[i];
        w[i] = weight_of(o, i, paths[i]);
        if (w[i] <= 0) cli_usage_error(tool, "--weights gives no weight for %s", paths[i]);
    }
    for (int i = 1; i < k; i++)
        if (load_file(&files[i], err, sizeof err) != 0) cli_die(tool, EXIT_DATA, "%s", err);

    FILE *fp = fopen(paths[0], "r");
    if (!fp) cli_die(tool, EXIT_DATA, "cannot open %s: %s", paths[0], strerror(errno));
    RecordReader rd;
    record_reader_init(&rd, fp, REC_ID | REC_SIZE | REC_DETECTIONS, BOX_LENIENT);
    WbfResult work = { 0 };
    int bad = 0;
    for (;;) {
        Record first;
        int rc = record_read(&rd, &first, err, sizeof err);
        if (rc == 0) break;
        if (rc == -2) cli_die(tool, EXIT_DATA, "%s: %s", paths[0], err);
        sum->records++;
        int ok = rc == 1;
        if (!ok) cli_warn(tool, "%s: %s", paths[0], err);
        // The other sources' records of this id.
        int present = 1;
        for (int i = 1; i < k && ok; i++) {
            memset(&recs[i], 0, sizeof recs[i]);
            json_t *pos = json_object_get(files[i].index, first.id);
            if (!pos) {
                if (allow_missing) continue;
                cli_warn(tool, "%s: no record with id \"%s\" (line %ld of %s)", paths[i], first.id, first.line, paths[0]);
                ok = 0;
                break;
            }
            Stored *s = &files[i].recs[json_integer_value(pos)];
            s->used = 1;
            if (record_from_json(json_incref(s->json), s->line, REC_ID | REC_SIZE | REC_DETECTIONS, BOX_LENIENT,
                                 "truth", &recs[i], err, sizeof err) != 0) {
                cli_warn(tool, "%s: %s", paths[i], err);
                record_free(&recs[i]);
                ok = 0;
                break;
            }
            if (recs[i].width != first.width || recs[i].height != first.height) {
                cli_warn(tool, "%s: line %ld: frame %dx%d of id \"%s\" differs from %dx%d in %s", paths[i], s->line,
                         recs[i].width, recs[i].height, first.id, first.width, first.height, paths[0]);
                record_free(&recs[i]);
                ok = 0;
                break;
            }
            present++;
        }
        if (ok) {
            recs[0] = first;
            int n = 0;
            for (int i = 0; i < k; i++) n += recs[i].n_detections;
            WbfInput *in = malloc(sizeof *in * (size_t)(n + 1));
            const char **names = malloc(sizeof *names * (size_t)(n + 1));
            int nl = 0, j = 0;
            double W = first.width, H = first.height;
            for (int i = 0; i < k; i++)
                for (int d = 0; d < recs[i].n_detections; d++) {
                    const LabeledBox *b = &recs[i].detections[d];
                    in[j++] = (WbfInput){ label_id(b->label, names, &nl), i, b->score, box_normalise(b->box, W, H) };
                }
            if (wbf_fuse(in, n, w, k, &o->wbf, &work, &sum->rep) != 0) cli_die(tool, EXIT_DATA, "out of memory");
            json_t *dets = json_array();
            for (int c = 0; c < work.n_clusters; c++) {
                const WbfCluster *cl = &work.clusters[c];
                json_array_append_new(dets, json_pack("{s:s,s:o,s:f}", "label", names[cl->label], "box",
                                                      json_box(box_denormalise(cl->box, W, H)), "score", cl->conf));
            }
            json_object_set_new(first.json, "detections", dets);
            if (record_write(out, first.json) != 0) cli_die(tool, EXIT_DATA, "cannot write to stdout");
            sum->boxes_in += n;
            sum->boxes_out += work.n_clusters;
            sum->partial += present < k;
            free(in);
            free(names);
        }
        for (int i = 1; i < k; i++) record_free(&recs[i]);
        record_free(&first);
        if (!ok) {
            bad++;
            if (!keep_going) break;
        }
    }
    fclose(fp);
    free(rd.buf);
    // Records that only the other files hold.
    if (!bad || keep_going)
        for (int i = 1; i < k; i++)
            for (long r = 0; r < files[i].n; r++) {
                if (files[i].recs[r].used) continue;
                const char *id = json_string_value(json_object_get(files[i].recs[r].json, "id"));
                if (allow_missing) { sum->only_elsewhere++; continue; }
                cli_warn(tool, "%s: line %ld: id \"%s\" is not in %s", paths[i], files[i].recs[r].line, id, paths[0]);
                bad++;
                if (!keep_going) { r = files[i].n; i = k; }
            }
    for (int i = 1; i < k; i++) {
        for (long r = 0; r < files[i].n; r++) json_decref(files[i].recs[r].json);
        free(files[i].recs);
        json_decref(files[i].index);
        json_decref(files[i].seen);
    }
    wbf_free(&work);
    free(files);
    free(recs);
    free(w);
    sum->bad = bad;
    return bad ? -1 : 0;
}
