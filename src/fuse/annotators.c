// Annotator mode: one record's annotations fused into "objects".
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

// Maps each annotation's label string to a small integer, in order of first appearance.
static int label_ids(const Record *rec, int *ids, const char **names) {
    int n = 0;
    for (int i = 0; i < rec->n_annotations; i++) {
        int k = 0;
        while (k < n && strcmp(names[k], rec->annotations[i].label) != 0) k++;
        if (k == n) names[n++] = rec->annotations[i].label;
        ids[i] = k;
    }
    return n;
}

static int source_weights(const Record *rec, const FuseOptions *o, double *w, char *err, size_t errn) {
    for (int t = 0; t < rec->n_annotators; t++) {
        w[t] = 1.0;
        if (!o->weights_by_name) continue;
        json_t *v = json_object_get(o->weights_by_name, rec->annotators[t]);
        if (!v) {
            snprintf(err, errn, "line %ld: annotator \"%s\" has no weight in --weights", rec->line, rec->annotators[t]);
            return -1;
        }
        w[t] = json_real_value(v);
    }
    return 0;
}

static void collect_stats(const Record *rec, const WbfResult *res, const WbfParams *p, LineResult *r) {
    int m = rec->n_annotators;
    r->stats = calloc((size_t)(m ? m : 1), sizeof *r->stats);
    r->names = rec->annotators;
    r->n_stats = m;
    if (!r->stats) return;
    double W = rec->width, H = rec->height;
    for (int i = 0; i < rec->n_annotations; i++) r->stats[rec->annotations[i].annotator_index].boxes++;
    for (int c = 0; c < res->n_clusters; c++) {
        const WbfCluster *cl = &res->clusters[c];
        Box fused = box_denormalise(cl->box, W, H);
        for (int k = 0; k < cl->n_members; k++) {
            const Annotation *a = &rec->annotations[cl->members[k]];
            AnnotatorStats *s = &r->stats[a->annotator_index];
            if (cl->votes >= 2) s->agreed++;
            Box b = a->box;
            box_fix_order(&b);
            box_clamp(&b, W, H);
            s->iou_sum += box_iou(b, fused);
            s->iou_n++;
        }
    }
    // Label agreement: each box against the best-overlapping box of every other annotator.
    for (int i = 0; i < rec->n_annotations; i++) {
        const Annotation *a = &rec->annotations[i];
        for (int t = 0; t < m; t++) {
            if (t == a->annotator_index) continue;
            int best = -1;
            double best_iou = p->iou_thr;
            for (int j = 0; j < rec->n_annotations; j++) {
                if (rec->annotations[j].annotator_index != t) continue;
                double iou = box_iou(a->box, rec->annotations[j].box);
                if (iou > best_iou) { best_iou = iou; best = j; }
            }
            if (best < 0) continue;
            r->stats[a->annotator_index].pairs++;
            r->stats[a->annotator_index].same_label += strcmp(a->label, rec->annotations[best].label) == 0;
        }
    }
}

// The "objects" array: labels, pixel boxes, agreement, votes and the annotators.
static json_t *objects_json(const Record *rec, const WbfResult *res, const char **label_names) {
    json_t *arr = json_array();
    for (int c = 0; c < res->n_clusters; c++) {
        const WbfCluster *cl = &res->clusters[c];
        json_t *who = json_array();
        for (int t = 0; t < rec->n_annotators; t++)
            for (int k = 0; k < cl->n_members; k++)
                if (rec->annotations[cl->members[k]].annotator_index == t) {
                    json_array_append_new(who, json_string(rec->annotators[t]));
                    break;
                }
        Box b = box_denormalise(cl->box, rec->width, rec->height);
        json_array_append_new(arr, json_pack("{s:s,s:o,s:f,s:i,s:o}", "label", label_names[cl->label],
                                             "box", json_box(b), "conf", cl->conf, "votes", cl->votes,
                                             "annotators", who));
    }
    return arr;
}

void fuse_annotators_line(const char *line, long lineno, const FuseOptions *o, WbfResult *work, LineResult *r) {
    json_error_t je;
    json_t *obj = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    if (!obj) {
        snprintf(r->err, sizeof r->err, "line %ld: malformed JSON: %s (column %d)", lineno, je.text, je.column);
        r->failed = 1;
        return;
    }
    Record *rec = &r->rec;
    if (record_from_json(obj, lineno, REC_ID | REC_SIZE | REC_ANNOTATORS | REC_ANNOTATIONS, BOX_LENIENT,
                         "truth", rec, r->err, sizeof r->err) != 0) {
        r->failed = 1;
        return;
    }
    int n = rec->n_annotations, m = rec->n_annotators;
    WbfInput *in = malloc(sizeof *in * (size_t)(n + 1));
    int *ids = malloc(sizeof *ids * (size_t)(n + 1));
    const char **label_names = malloc(sizeof *label_names * (size_t)(n + 1));
    double *w = malloc(sizeof *w * (size_t)(m + 1));
    if (!in || !ids || !label_names || !w) {
        snprintf(r->err, sizeof r->err, "line %ld: out of memory", lineno);
        r->failed = 1;
        goto done;
    }
    if (source_weights(rec, o, w, r->err, sizeof r->err) != 0) { r->failed = 1; goto done; }
    label_ids(rec, ids, label_names);
    double W = rec->width, H = rec->height;
    for (int i = 0; i < n; i++) {
        const Annotation *a = &rec->annotations[i];
        in[i] = (WbfInput){ ids[i], a->annotator_index, a->score, box_normalise(a->box, W, H) };
    }
    if (wbf_fuse(in, n, w, m, &o->wbf, work, &r->rep) != 0) {
        snprintf(r->err, sizeof r->err, "line %ld: out of memory", lineno);
        r->failed = 1;
        goto done;
    }
    json_object_set_new(rec->json, "objects", objects_json(rec, work, label_names));
    r->text = json_dumps(rec->json, RECORD_DUMP_FLAGS);
    r->boxes_in = n;
    r->clusters_out = work->n_clusters;
    if (o->report) collect_stats(rec, work, &o->wbf, r);
done:
    free(in);
    free(ids);
    free(label_names);
    free(w);
}

void line_result_free(LineResult *r) {
    free(r->text);
    free(r->stats);
    record_free(&r->rec);
    memset(r, 0, sizeof *r);
}
