// fuse --method em: every record is read and located in parallel, the names of the
// annotators and labels get global ids (in byte order), EM runs over all the clusters,
// and the records are written back with "objects" spliced in, as annotator mode does.
#include "em.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "fsutil.h"
#include "locate.h"

// One input line, and what the parse keeps of it until the output.
typedef struct {
    const char *line;          // into the input buffer, NUL-terminated
    size_t len;
    long lineno;
    char *err;                 // a bad record's message, or NULL
    char *id;                  // the record's id (owned)
    int width, height;
    long boxes_in;
    WbfRepairs rep;
    void *mem;                 // one allocation for the arrays below
    // names, decoded and NUL-terminated in `names`: the readers, then the labels
    char *names;
    int n_readers, n_labels;
    int *name_at;              // (n_readers + n_labels) offsets into names
    int *gid;                  // (n_readers + n_labels) global annotator, then class, ids
    // the kept boxes, grouped by cluster (clusters in order, each cluster's boxes by rank)
    int n_boxes, n_clusters;
    int *box_reader, *box_label;   // local name ids
    Box *box;                  // repaired, pixels
    int *cluster_start;        // (n_clusters + 1)
    long first_cluster;        // the global index of its first cluster
} EmLine;

typedef struct {
    const char *who, *label;
    Box b;
    int i;
} RankKey;

// A thread's reusable memory.
typedef struct {
    Workspace ws;
    LocateWork loc;
    int cap;
    int *reader, *label, *rank, *cluster;   // (cap) each
    Box *box;
    RankKey *key;
} EmWork;

static int work_reserve(EmWork *w, int n) {
    if (n <= w->cap) return 0;
    int cap = n * 2 + 16;
    free(w->reader); free(w->label); free(w->rank); free(w->cluster); free(w->box); free(w->key);
    w->reader = malloc(sizeof(int) * (size_t)cap);
    w->label = malloc(sizeof(int) * (size_t)cap);
    w->rank = malloc(sizeof(int) * (size_t)cap);
    w->cluster = malloc(sizeof(int) * (size_t)cap);
    w->box = malloc(sizeof(Box) * (size_t)cap);
    w->key = malloc(sizeof(RankKey) * (size_t)cap);
    w->cap = cap;
    if (w->reader && w->label && w->rank && w->cluster && w->box && w->key) return 0;
    w->cap = 0;
    return -1;
}

static void work_free(EmWork *w) {
    workspace_free(&w->ws);
    locate_free(&w->loc);
    free(w->reader); free(w->label); free(w->rank); free(w->cluster); free(w->box); free(w->key);
}

// A sorted table of names: ids are positions in byte order.
typedef struct {
    char **name;               // owned
    char **json;               // each as a JSON string, quotes included (owned)
    int n;
} Names;

static void line_fail(EmLine *L, const char *msg) { L->err = strdup(msg); }

static void line_free(EmLine *L) {
    free(L->err);
    free(L->id);
    free(L->mem);
}

// ---- reading ----------------------------------------------------------------------

// Reads all of stdin into one buffer and cuts it into lines (blank lines skipped).
static char *read_all(EmLine **out, long *n_out, const char *tool) {
    size_t cap = 1 << 20, n = 0;
    struct stat st;
    if (fstat(fileno(stdin), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) cap = (size_t)st.st_size + (1 << 17);
    char *buf = malloc(cap);
    if (!buf) cli_die(tool, EXIT_DATA, "out of memory");
    for (;;) {
        if (cap - n < (1 << 16)) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) cli_die(tool, EXIT_DATA, "out of memory reading the records (EM needs all of them at once)");
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0) break;
    }
    if (ferror(stdin)) cli_die(tool, EXIT_DATA, "read error on stdin");
    buf[n] = '\0';
    long cap_l = 1024, n_l = 0, lineno = 0;
    EmLine *lines = malloc(sizeof *lines * (size_t)cap_l);
    if (!lines) cli_die(tool, EXIT_DATA, "out of memory");
    for (size_t i = 0; i < n;) {
        char *nl = memchr(buf + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - buf) : n;
        lineno++;
        size_t j = i;
        while (j < end && (buf[j] == ' ' || buf[j] == '\t' || buf[j] == '\r')) j++;
        if (j < end) {
            if (n_l == cap_l) {
                cap_l *= 2;
                EmLine *nls = realloc(lines, sizeof *nls * (size_t)cap_l);
                if (!nls) cli_die(tool, EXIT_DATA, "out of memory");
                lines = nls;
            }
            buf[end] = '\0';
            lines[n_l] = (EmLine){ .line = buf + i, .len = end - i, .lineno = lineno };
            n_l++;
        }
        i = end + 1;
    }
    *out = lines;
    *n_out = n_l;
    return buf;
}

// ---- one record: names, repaired boxes, clusters ------------------------------------

// Carves the line's arrays out of one allocation and copies the names into it.
static int line_arrays(EmLine *L, const View *v) {
    int n = v->n_src + v->n_labels, m = v->n_ann;
    size_t text = 1;
    for (int t = 0; t < v->n_src; t++) text += (size_t)v->src_name[t].n + 1;
    for (int k = 0; k < v->n_labels; k++) text += (size_t)v->label_name[k].n + 1;
    size_t ints = (size_t)(2 * (n + 1) + 3 * (m + 1));
    char *mem = malloc(sizeof(Box) * (size_t)(m + 1) + sizeof(int) * ints + text);
    if (!mem) return -1;
    L->mem = mem;
    L->box = (Box *)mem;
    L->name_at = (int *)(mem + sizeof(Box) * (size_t)(m + 1));
    L->gid = L->name_at + n + 1;
    L->box_reader = L->gid + n + 1;
    L->box_label = L->box_reader + m + 1;
    L->cluster_start = L->box_label + m + 1;
    L->names = (char *)(L->cluster_start + m + 1);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        Span s = i < v->n_src ? v->src_name[i] : v->label_name[i - v->n_src];
        L->name_at[i] = (int)at;
        memcpy(L->names + at, s.p, (size_t)s.n);
        at += (size_t)s.n;
        L->names[at++] = '\0';
    }
    L->n_readers = v->n_src;
    L->n_labels = v->n_labels;
    return 0;
}

static const char *line_name(const EmLine *L, int i) { return L->names + L->name_at[i]; }

static int cmp_rank(const void *pa, const void *pb) {
    const RankKey *a = pa, *b = pb;
    int c = strcmp(a->who, b->who);
    if (!c) c = strcmp(a->label, b->label);
    if (c) return c;
    double ax[4] = { a->b.x1, a->b.y1, a->b.x2, a->b.y2 }, bx[4] = { b->b.x1, b->b.y1, b->b.x2, b->b.y2 };
    for (int q = 0; q < 4; q++)
        if (ax[q] != bx[q]) return ax[q] < bx[q] ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);   // identical boxes: interchangeable
}

// Keeps the boxes as annotator mode's clean-up does (inverted corners swapped,
// coordinates clamped to the frame, zero-area and below --skip-box-thr dropped), ranks
// them, locates the clusters and groups the boxes by cluster.
static int locate_line(EmLine *L, const View *v, const FuseOptions *o, EmWork *w) {
    int n = 0, m = v->n_ann;
    if (work_reserve(w, m + 1) != 0) return -1;
    for (int i = 0; i < m; i++) {
        const WbfInput *in = &v->in[i];
        if (in->score < o->wbf.skip_box_thr) { L->rep.below_thr++; continue; }
        Box b = v->box[i];
        if (box_fix_order(&b)) L->rep.swapped++;
        if (box_clamp(&b, v->width, v->height)) L->rep.clamped++;
        if (!(box_area(b) > 0)) { L->rep.zero_area++; continue; }
        w->reader[n] = in->source;
        w->label[n] = in->label;
        w->box[n] = b;
        w->key[n] = (RankKey){ line_name(L, in->source), line_name(L, L->n_readers + in->label), b, n };
        n++;
    }
    qsort(w->key, (size_t)n, sizeof *w->key, cmp_rank);
    for (int k = 0; k < n; k++) w->rank[w->key[k].i] = k;
    int nc = locate_clusters(w->box, w->reader, w->rank, n, o->wbf.iou_thr, &w->loc, w->cluster);
    if (nc < 0) return -1;
    int *start = L->cluster_start, *fill = w->rank;   // rank is done with: each cluster's next slot
    memset(start, 0, sizeof *start * (size_t)(nc + 1));
    for (int i = 0; i < n; i++) start[w->cluster[i] + 1]++;
    for (int c = 0; c < nc; c++) start[c + 1] += start[c];
    for (int c = 0; c < nc; c++) fill[c] = start[c];
    for (int k = 0; k < n; k++) {
        int i = w->key[k].i, at = fill[w->cluster[i]]++;
        L->box_reader[at] = w->reader[i];
        L->box_label[at] = w->label[i];
        L->box[at] = w->box[i];
    }
    L->n_boxes = n;
    L->n_clusters = nc;
    return 0;
}

static void parse_line(EmLine *L, const FuseOptions *o, EmWork *w, int force_jansson) {
    char err[1024];
    if (strlen(L->line) != L->len) {
        snprintf(err, sizeof err, "line %ld: contains a NUL byte", L->lineno);
        line_fail(L, err);
        return;
    }
    Record rec = { 0 };
    int how = view_read(L->line, L->len, L->lineno, &w->ws, force_jansson, &rec, err, sizeof err);
    const View *v = &w->ws.view;
    if (how < 0) {
        line_fail(L, err);
    } else {
        L->id = view_id_copy(L->line, &w->ws, how, &rec);
        L->width = v->width;
        L->height = v->height;
        L->boxes_in = v->n_ann;
        if (!L->id || line_arrays(L, v) != 0 || locate_line(L, v, o, w) != 0) {
            snprintf(err, sizeof err, "line %ld: out of memory", L->lineno);
            line_fail(L, err);
        }
    }
    view_release(&w->ws.view);
    record_free(&rec);
}

// ---- global names -------------------------------------------------------------------

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Collects the names [from, from + count) of every good line into a sorted table and
// writes each line's global ids into gid[from ...].
static int name_table(EmLine *lines, long n, int labels, Names *t) {
    json_t *seen = json_object();
    long cap = 64;
    t->n = 0;
    t->name = malloc(sizeof *t->name * (size_t)cap);
    if (!seen || !t->name) return -1;
    for (long i = 0; i < n; i++) {
        EmLine *L = &lines[i];
        if (L->err) continue;
        int from = labels ? L->n_readers : 0, count = labels ? L->n_labels : L->n_readers;
        for (int k = from; k < from + count; k++) {
            const char *name = line_name(L, k);
            if (json_object_get(seen, name)) continue;
            if (t->n == cap) {
                cap *= 2;
                char **nn = realloc(t->name, sizeof *nn * (size_t)cap);
                if (!nn) return -1;
                t->name = nn;
            }
            t->name[t->n++] = strdup(name);
            json_object_set_new(seen, name, json_true());
        }
    }
    qsort(t->name, (size_t)t->n, sizeof *t->name, cmp_str);
    t->json = malloc(sizeof *t->json * (size_t)(t->n + 1));
    if (!t->json) return -1;
    for (int k = 0; k < t->n; k++) {
        json_object_set_new(seen, t->name[k], json_integer(k));
        json_t *s = json_string(t->name[k]);
        t->json[k] = json_dumps(s, JSON_ENCODE_ANY);
        json_decref(s);
        if (!t->json[k]) return -1;
    }
    for (long i = 0; i < n; i++) {
        EmLine *L = &lines[i];
        if (L->err) continue;
        int from = labels ? L->n_readers : 0, count = labels ? L->n_labels : L->n_readers;
        for (int k = from; k < from + count; k++) L->gid[k] = (int)json_integer_value(json_object_get(seen, line_name(L, k)));
    }
    json_decref(seen);
    return 0;
}

static void names_free(Names *t) {
    for (int k = 0; k < t->n; k++) {
        free(t->name[k]);
        if (t->json) free(t->json[k]);
    }
    free(t->name);
    free(t->json);
}

// ---- the data of the fit --------------------------------------------------------------

typedef struct {
    EmData d;
    long *member_start, *cluster_readers, *readers_start;
    int *member_annotator, *member_label, *readers;
    Box *member_box;
    long *records;             // (R) records each annotator read
} Flat;

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static int flatten(EmLine *lines, long n, int K, int R, Flat *f) {
    long C = 0, M = 0, S = 0, RD = 0;
    for (long i = 0; i < n; i++) {
        if (lines[i].err) continue;
        lines[i].first_cluster = C;
        C += lines[i].n_clusters;
        M += lines[i].n_boxes;
        RD += lines[i].n_readers;
        S++;
    }
    f->member_start = malloc(sizeof(long) * (size_t)(C + 1));
    f->cluster_readers = malloc(sizeof(long) * (size_t)(C + 1));
    f->readers_start = malloc(sizeof(long) * (size_t)(S + 1));
    f->member_annotator = malloc(sizeof(int) * (size_t)(M + 1));
    f->member_label = malloc(sizeof(int) * (size_t)(M + 1));
    f->readers = malloc(sizeof(int) * (size_t)(RD + 1));
    f->member_box = malloc(sizeof(Box) * (size_t)(M + 1));
    f->records = calloc((size_t)R + 1, sizeof(long));
    if (!f->member_start || !f->cluster_readers || !f->readers_start || !f->member_annotator || !f->member_label ||
        !f->readers || !f->member_box || !f->records)
        return -1;
    long c = 0, m = 0, s = 0, rd = 0;
    f->member_start[0] = 0;
    f->readers_start[0] = 0;
    for (long i = 0; i < n; i++) {
        EmLine *L = &lines[i];
        if (L->err) continue;
        for (int k = 0; k < L->n_readers; k++) {
            f->readers[rd + k] = L->gid[k];
            f->records[L->gid[k]]++;
        }
        qsort(f->readers + rd, (size_t)L->n_readers, sizeof(int), cmp_int);
        rd += L->n_readers;
        for (int k = 0; k < L->n_clusters; k++) {
            for (int b = L->cluster_start[k]; b < L->cluster_start[k + 1]; b++, m++) {
                f->member_annotator[m] = L->gid[L->box_reader[b]];
                f->member_label[m] = L->gid[L->n_readers + L->box_label[b]];
                f->member_box[m] = L->box[b];
            }
            f->cluster_readers[c] = s;
            f->member_start[++c] = m;
        }
        f->readers_start[++s] = rd;
    }
    f->d = (EmData){ K, R, C, f->member_start, f->member_annotator, f->member_label, f->member_box,
                     f->cluster_readers, f->readers_start, f->readers };
    return 0;
}

static void flat_free(Flat *f) {
    free(f->member_start); free(f->cluster_readers); free(f->readers_start); free(f->member_annotator);
    free(f->member_label); free(f->readers); free(f->member_box); free(f->records);
}

// ---- output -----------------------------------------------------------------------

typedef struct {
    double conf;
    long c;
} Ranked;

static int cmp_ranked(const void *pa, const void *pb) {
    const Ranked *a = pa, *b = pb;
    if (a->conf != b->conf) return a->conf > b->conf ? -1 : 1;
    return (a->c > b->c) - (a->c < b->c);
}

// The "objects" array of one line: by descending conf, then in cluster order.
static int objects_text(const EmLine *L, const Flat *f, const EmFit *fit, const Names *cls, const Names *ann, JBuf *b) {
    int K = fit->K, nc = L->n_clusters, ok = 0;
    Ranked *order = malloc(sizeof *order * (size_t)(nc + 1));
    double *probs = malloc(sizeof *probs * (size_t)(nc + 1) * (size_t)(K + 1));
    int *best = malloc(sizeof *best * (size_t)(nc + 1)), *who = malloc(sizeof *who * (size_t)(fit->R + 1));
    size_t longest = 0;
    for (int z = 0; z < K; z++) longest = strlen(cls->json[z]) > longest ? strlen(cls->json[z]) : longest;
    size_t guess = 2 + (size_t)nc * (200 + (size_t)K * (longest + 26));
    b->s = malloc(guess);
    b->cap = guess;
    b->n = 0;
    if (!order || !probs || !best || !who || !b->s) goto done;
    for (int k = 0; k < nc; k++) {
        long c = L->first_cluster + k;
        best[k] = em_class_probs(fit, c, probs + (size_t)k * K);
        order[k] = (Ranked){ em_posterior(fit, c)[best[k]], c };
    }
    qsort(order, (size_t)nc, sizeof *order, cmp_ranked);
    ok = jbuf_put(b, "[", 1) == 0;
    for (int k = 0; k < nc && ok; k++) {
        long c = order[k].c;
        int j = (int)(c - L->first_cluster);
        const double *pr = probs + (size_t)j * K;
        const double *post = em_posterior(fit, c);
        Box box = em_fused_box(&f->d, fit, c);
        box_clamp(&box, L->width, L->height);
        ok &= jbuf_puts(b, k ? ",{\"label\":" : "{\"label\":") == 0 && jbuf_puts(b, cls->json[best[j]]) == 0;
        ok &= jbuf_puts(b, ",\"box\":[") == 0 && jbuf_real(b, box.x1) == 0 && jbuf_put(b, ",", 1) == 0 &&
              jbuf_real(b, box.y1) == 0 && jbuf_put(b, ",", 1) == 0 && jbuf_real(b, box.x2) == 0 &&
              jbuf_put(b, ",", 1) == 0 && jbuf_real(b, box.y2) == 0 && jbuf_puts(b, "],\"probs\":{") == 0;
        for (int z = 0; z < K && ok; z++)
            ok &= (z == 0 || jbuf_put(b, ",", 1) == 0) && jbuf_puts(b, cls->json[z]) == 0 && jbuf_put(b, ":", 1) == 0 &&
                  jbuf_real(b, pr[z]) == 0;
        ok &= jbuf_puts(b, "},\"exists\":") == 0 && jbuf_real(b, 1 - post[K]) == 0 && jbuf_puts(b, ",\"conf\":") == 0 &&
              jbuf_real(b, order[k].conf) == 0 && jbuf_puts(b, ",\"votes\":") == 0;
        long m0 = f->member_start[c], m1 = f->member_start[c + 1];
        for (long m = m0; m < m1; m++) who[m - m0] = f->member_annotator[m];
        qsort(who, (size_t)(m1 - m0), sizeof *who, cmp_int);
        ok &= jbuf_int(b, m1 - m0) == 0 && jbuf_puts(b, ",\"annotators\":[") == 0;
        for (long m = 0; m < m1 - m0 && ok; m++)
            ok &= (m == 0 || jbuf_put(b, ",", 1) == 0) && jbuf_puts(b, ann->json[who[m]]) == 0;
        ok &= jbuf_puts(b, "]}") == 0;
    }
    ok &= jbuf_put(b, "]", 1) == 0;
done:
    free(order);
    free(probs);
    free(best);
    free(who);
    return ok ? 0 : -1;
}

// The line with its "objects" value, in r's pieces.
static int output_line(const EmLine *L, const Flat *f, const EmFit *fit, const Names *cls, const Names *ann, JTape *tape,
                       LineResult *r) {
    JBuf b = { 0 };
    if (objects_text(L, f, fit, cls, ann, &b) != 0) { free(b.s); return -1; }
    if (jscan(L->line, L->len, 0, tape) == JSCAN_OK && splice_objects(L->line, L->len, tape, r, b.s, b.n) == 0) return 0;
    // a top-level key with escapes: jansson places the field
    json_t *rec = json_loads(L->line, 0, NULL), *objs = json_loadb(b.s, b.n, 0, NULL);
    free(b.s);
    if (!rec || !objs) { json_decref(rec); json_decref(objs); return -1; }
    json_object_set_new(rec, "objects", objs);
    r->owned = json_dumps(rec, RECORD_DUMP_FLAGS);
    json_decref(rec);
    if (!r->owned) return -1;
    r->piece[0] = (Span){ r->owned, (int)strlen(r->owned) };
    return 0;
}

static void write_lines(EmLine *lines, long n, const Flat *f, const EmFit *fit, const Names *cls, const Names *ann,
                        const char *tool) {
    enum { BLOCK = 512 };
    int nt = omp_get_max_threads();
    JTape *tapes = calloc((size_t)nt, sizeof *tapes);
    LineResult *res = calloc(BLOCK, sizeof *res);
    if (!tapes || !res) cli_die(tool, EXIT_DATA, "out of memory");
    for (long start = 0; start < n; start += BLOCK) {
        long count = n - start < BLOCK ? n - start : BLOCK;
        int failed = 0;
        #pragma omp parallel for schedule(dynamic, 8) reduction(|:failed)
        for (long i = 0; i < count; i++) {
            memset(&res[i], 0, sizeof res[i]);
            if (!lines[start + i].err)
                failed |= output_line(&lines[start + i], f, fit, cls, ann, &tapes[omp_get_thread_num()], &res[i]) != 0;
        }
        if (failed) cli_die(tool, EXIT_DATA, "out of memory writing the records");
        for (long i = 0; i < count; i++) {
            if (!lines[start + i].err) {
                for (int k = 0; k < 4; k++)
                    if (res[i].piece[k].n) fwrite(res[i].piece[k].p, 1, (size_t)res[i].piece[k].n, stdout);
                fputc('\n', stdout);
            }
            line_result_free(&res[i]);
        }
        if (ferror(stdout)) cli_die(tool, EXIT_DATA, "cannot write to stdout");
    }
    for (int t = 0; t < nt; t++) jtape_free(&tapes[t]);
    free(tapes);
    free(res);
}

static void write_json_file(const char *path, json_t *root, const char *tool) {
    char *text = root ? json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(root);
    if (!text) cli_die(tool, EXIT_DATA, "out of memory writing %s", path);
    size_t n = strlen(text);
    text[n] = '\n';   // json_dumps leaves room for the NUL; the newline takes it
    char err[512];
    if (write_file_atomic(path, text, n + 1, err, sizeof err) != 0) cli_die(tool, EXIT_DATA, "%s", err);
    free(text);
}

// ---- the run ------------------------------------------------------------------------

int fuse_em(const FuseOptions *o, const EmRun *run, const char *tool) {
    double t0 = cli_now();
    EmLine *lines;
    long n;
    char *buf = read_all(&lines, &n, tool);
    if (n == 0) cli_die(tool, EXIT_DATA, "no records on stdin");

    int nt = omp_get_max_threads(), force_jansson = getenv("FUSE_FORCE_JANSSON") != NULL;
    EmWork *work = calloc((size_t)nt, sizeof *work);
    if (!work) cli_die(tool, EXIT_DATA, "out of memory");
    #pragma omp parallel for schedule(dynamic, 16)
    for (long i = 0; i < n; i++) parse_line(&lines[i], o, &work[omp_get_thread_num()], force_jansson);
    for (int t = 0; t < nt; t++) work_free(&work[t]);
    free(work);

    long bad = 0, boxes_in = 0;
    WbfRepairs rep = { 0 };
    json_t *ids = json_object();   // id -> line of its first record
    for (long i = 0; i < n; i++) {
        EmLine *L = &lines[i];
        char msg[1024];
        if (!L->err && record_id_unique(ids, L->id, strlen(L->id), L->lineno, msg, sizeof msg) != 0) line_fail(L, msg);
        if (L->err) {
            cli_warn(tool, "%s", L->err);
            bad++;
            if (!run->keep_going) {   // nothing was written
                json_decref(ids);
                for (long k = 0; k < n; k++) line_free(&lines[k]);
                free(lines);
                free(buf);
                return EXIT_DATA;
            }
            continue;
        }
        boxes_in += L->boxes_in;
        rep.swapped += L->rep.swapped; rep.clamped += L->rep.clamped;
        rep.zero_area += L->rep.zero_area; rep.below_thr += L->rep.below_thr;
    }
    json_decref(ids);

    // EM learns an annotator's errors from the images it shares with others: where no
    // image has two readers, nothing tells the errors from the truth.
    int shared = 0;
    for (long i = 0; i < n && !shared; i++) shared = !lines[i].err && lines[i].n_readers >= 2;
    if (!shared)
        cli_die(tool, EXIT_DATA, "--method em needs images read by two annotators or more: with one reader per image "
                "its errors cannot be told from the truth (--method wbf keeps each box as it is)");

    Names ann = { 0 }, cls = { 0 };
    Flat f = { 0 };
    if (name_table(lines, n, 0, &ann) != 0 || name_table(lines, n, 1, &cls) != 0 ||
        flatten(lines, n, cls.n, ann.n, &f) != 0)
        cli_die(tool, EXIT_DATA, "out of memory");
    EmFit fit;
    char err[512];
    if (em_fit(&f.d, &run->em, &fit, err, sizeof err) != 0) cli_die(tool, EXIT_DATA, "EM: %s", err);

    // the files first: a path that cannot be written stops the run before any record goes out
    if (run->matrices) write_json_file(run->matrices, em_matrices_json(&fit, cls.name, ann.name), tool);
    if (run->report)
        write_json_file(run->report, em_report_json(&fit, cls.name, ann.name, f.records, o->wbf.iou_thr, run->em.smoothing),
                        tool);
    write_lines(lines, n, &f, &fit, &cls, &ann, tool);
    if (fflush(stdout) != 0) cli_die(tool, EXIT_DATA, "cannot write to stdout");
    if (!run->quiet)
        fprintf(stderr, "%s: %ld records, %ld boxes in, %ld objects out, %.2f s; EM over %ld clusters (%ld patterns), "
                "%d labels, %d annotators: %d iterations, log-likelihood %.6f; repaired %ld inverted, %ld out of frame; "
                "dropped %ld zero-area, %ld below --skip-box-thr%s\n",
                tool, n - bad, boxes_in, f.d.n_clusters, cli_now() - t0, f.d.n_clusters, fit.n_patterns, cls.n, ann.n,
                fit.iterations, fit.log_likelihood, rep.swapped, rep.clamped, rep.zero_area, rep.below_thr,
                bad ? "; bad records skipped" : "");
    em_free(&fit);
    flat_free(&f);
    names_free(&ann);
    names_free(&cls);
    for (long i = 0; i < n; i++) line_free(&lines[i]);
    free(lines);
    free(buf);
    return bad ? EXIT_DATA : 0;
}
