// ceiling: the Bayes posterior of simulated records' objects, from the true transition
// matrices and the true clusters: the best that any truth inference can do on them.
//
// It is the only tool that reads `truth_index`, which `simulate` writes on each annotation
// (the true digit it came from). The true clusters are the annotations of each digit, and
// each false positive alone. For a cluster whose readers gave labels l_r:
//   P(real class z | pattern) ∝ n_z * prod_r A_r[z][l_r] / (1 - prod_r A_r[z][no_obj])
//   P(false positive | r drew label l alone) ∝ n_fp * share_r * q_r(l)
// where A_r are the true matrices, n_z the true clusters of class z and n_fp the false
// positives (the record's own counts: the empirical prior of observed clusters), share_r
// the share of false positives that r drew, and q_r its false positives' label
// distribution (row no_obj of A_r over the classes). A real cluster is observed only when
// some reader drew it, hence the division. The box is the precision-weighted mean of the
// cluster's boxes, with each annotator's spread measured against the true boxes.
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "record.h"

static const char *TOOL = "ceiling";

static void usage(void) {
    printf(
        "Usage: ceiling --matrices TRUE.json [options] < simulated.jsonl > objects.jsonl\n"
        "\n"
        "For records written by simulate (each annotation's \"truth_index\" names its true\n"
        "digit), writes each record with \"objects\": the true clusters (the annotations of\n"
        "each digit; each false positive alone) with the Bayes posterior computed from the\n"
        "true transition matrices (simulate --matrices), in the fields fuse --method em\n"
        "writes: \"label\", \"box\", \"probs\", \"exists\", \"conf\", \"votes\", \"annotators\".\n"
        "It is the ceiling for any truth inference, and the only tool that reads\n"
        "\"truth_index\". Records are rewritten through jansson (15 significant digits).\n"
        "\n"
        "  --matrices FILE    the true matrices, as simulate --matrices writes them\n"
        "  --quiet            no summary line\n"
        "  -h, --help         show this help\n"
        "\n"
        "Exit codes: 0 written, 1 bad input (nothing is written), 2 a usage error.\n");
}

typedef struct {
    int K, R;                // classes (no_obj is K), experts
    char **cls, **name;
    double *A;               // (R, K+1, K+1)
} Truth;

static double *cell(const Truth *t, int r, int z, int l) { return &t->A[((long)r * (t->K + 1) + z) * (t->K + 1) + l]; }

static int find_name(char **names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

static void load_truth(const char *path, Truth *t) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) cli_die(TOOL, EXIT_DATA, "%s: %s (line %d)", path, je.text, je.line);
    json_t *classes = json_object_get(root, "classes"), *experts = json_object_get(root, "experts");
    size_t S = json_array_size(classes), R = json_array_size(experts);
    if (S < 2 || !json_is_array(experts) || R == 0 ||
        strcmp(json_string_value(json_array_get(classes, S - 1)) ? json_string_value(json_array_get(classes, S - 1)) : "", "no_obj"))
        cli_die(TOOL, EXIT_DATA, "%s: needs \"classes\" ending in \"no_obj\" and \"experts\", as simulate --matrices writes", path);
    t->K = (int)S - 1;
    t->R = (int)R;
    t->cls = calloc(S, sizeof *t->cls);
    t->name = calloc(R, sizeof *t->name);
    t->A = malloc(sizeof *t->A * R * S * S);
    if (!t->cls || !t->name || !t->A) cli_die(TOOL, EXIT_DATA, "out of memory");
    for (size_t k = 0; k < S; k++) {
        const char *s = json_string_value(json_array_get(classes, k));
        if (!s) cli_die(TOOL, EXIT_DATA, "%s: classes[%zu] is not a string", path, k);
        t->cls[k] = strdup(s);
    }
    for (size_t r = 0; r < R; r++) {
        json_t *e = json_array_get(experts, r), *m = json_object_get(e, "matrix");
        const char *nm = json_string_value(json_object_get(e, "name"));
        if (!nm || json_array_size(m) != S) cli_die(TOOL, EXIT_DATA, "%s: experts[%zu] needs a name and a %zux%zu matrix", path, r, S, S);
        t->name[r] = strdup(nm);
        for (size_t z = 0; z < S; z++) {
            json_t *row = json_array_get(m, z);
            if (json_array_size(row) != S) cli_die(TOOL, EXIT_DATA, "%s: experts[%zu].matrix[%zu] needs %zu numbers", path, r, z, S);
            for (size_t l = 0; l < S; l++) {
                json_t *v = json_array_get(row, l);
                if (!json_is_number(v) || !(json_number_value(v) >= 0))
                    cli_die(TOOL, EXIT_DATA, "%s: experts[%zu].matrix[%zu][%zu] must be a number >= 0", path, r, z, l);
                *cell(t, (int)r, (int)z, (int)l) = json_number_value(v);
            }
        }
    }
    json_decref(root);
}

static void truth_free(Truth *t) {
    for (int k = 0; k <= t->K; k++) free(t->cls[k]);
    for (int r = 0; r < t->R; r++) free(t->name[r]);
    free(t->cls);
    free(t->name);
    free(t->A);
}

// One annotation of a record, as the ceiling sees it.
typedef struct {
    int reader, label, digit;   // digit: truth_index, or -1 for a false positive
    Box box;
} Mark;

typedef struct {
    Record rec;
    Mark *mark;
    int n_mark;
    int *reader;                // the record's readers as expert ids
} Image;

static int read_image(Image *im, const Truth *t, char *err, size_t errn) {
    Record *rec = &im->rec;
    im->mark = malloc(sizeof *im->mark * (size_t)(rec->n_annotations + 1));
    im->reader = malloc(sizeof *im->reader * (size_t)(rec->n_annotators + 1));
    if (!im->mark || !im->reader) { snprintf(err, errn, "line %ld: out of memory", rec->line); return -1; }
    for (int i = 0; i < rec->n_annotators; i++)
        if ((im->reader[i] = find_name(t->name, t->R, rec->annotators[i])) < 0) {
            snprintf(err, errn, "line %ld: annotator \"%s\" has no matrix", rec->line, rec->annotators[i]);
            return -1;
        }
    json_t *anns = json_object_get(rec->json, "annotations");
    for (int i = 0; i < rec->n_annotations; i++) {
        const Annotation *a = &rec->annotations[i];
        json_t *ti = json_object_get(json_array_get(anns, (size_t)i), "truth_index");
        Mark *m = &im->mark[i];
        m->reader = im->reader[a->annotator_index];
        m->box = a->box;
        m->digit = -1;
        if ((m->label = find_name(t->cls, t->K, a->label)) < 0) {
            snprintf(err, errn, "line %ld: annotations[%d]: label \"%s\" is not a class of the matrices", rec->line, i, a->label);
            return -1;
        }
        if (ti) {
            if (!json_is_integer(ti) || json_integer_value(ti) < 0 || json_integer_value(ti) >= rec->n_truth) {
                snprintf(err, errn, "line %ld: annotations[%d]: \"truth_index\" must index \"truth\"", rec->line, i);
                return -1;
            }
            m->digit = (int)json_integer_value(ti);
            for (int j = 0; j < i; j++)
                if (im->mark[j].digit == m->digit && im->mark[j].reader == m->reader) {
                    snprintf(err, errn, "line %ld: annotations[%d]: a second box of \"%s\" on one digit", rec->line, i, a->annotator);
                    return -1;
                }
        }
    }
    im->n_mark = rec->n_annotations;
    return 0;
}

// The counts of the prior and of the false positives, and the spreads, over all images.
typedef struct {
    double *n_class;            // (K) true clusters of each class
    double n_fp;
    double *fp_by;              // (R) false positives each expert drew
    double *spread2;            // (R, 4) mean squared relative error against the truth
} Stats;

static void collect(const Image *ims, long n, const Truth *t, Stats *s) {
    int K = t->K, R = t->R;
    s->n_class = calloc((size_t)K, sizeof(double));
    s->fp_by = calloc((size_t)R, sizeof(double));
    s->spread2 = calloc((size_t)R * 4, sizeof(double));
    double *count = calloc((size_t)R, sizeof(double));
    if (!s->n_class || !s->fp_by || !s->spread2 || !count) cli_die(TOOL, EXIT_DATA, "out of memory");
    for (long i = 0; i < n; i++) {
        const Image *im = &ims[i];
        for (int d = 0; d < im->rec.n_truth; d++) {
            int seen = 0;
            for (int k = 0; k < im->n_mark; k++) seen |= im->mark[k].digit == d;
            int z = find_name(t->cls, K, im->rec.truth[d].label);
            if (seen && z >= 0) s->n_class[z]++;
        }
        for (int k = 0; k < im->n_mark; k++) {
            const Mark *m = &im->mark[k];
            if (m->digit < 0) { s->n_fp++; s->fp_by[m->reader]++; continue; }
            Box tb = im->rec.truth[m->digit].box;
            double w = box_width(tb), h = box_height(tb);
            double e[4] = { (m->box.x1 - tb.x1) / w, (m->box.y1 - tb.y1) / h, (m->box.x2 - tb.x2) / w, (m->box.y2 - tb.y2) / h };
            for (int q = 0; q < 4; q++) s->spread2[m->reader * 4 + q] += e[q] * e[q];
            count[m->reader]++;
        }
    }
    for (int r = 0; r < R; r++)
        for (int q = 0; q < 4; q++) {
            double v = count[r] > 0 ? s->spread2[r * 4 + q] / count[r] : 0.01;
            s->spread2[r * 4 + q] = v > 1e-6 ? v : 1e-6;
        }
    free(count);
}

// The posterior of one true cluster (the marks with digit d, or the lone false positive
// f) over the K classes and no_obj (post, S).
static void posterior(const Image *im, const Truth *t, const Stats *s, int d, int f, double *post) {
    int K = t->K, S = K + 1;
    double total = s->n_fp;
    for (int z = 0; z < K; z++) total += s->n_class[z];
    for (int z = 0; z < K; z++) {
        double lp = log(s->n_class[z] / total), all_missed = 0;
        for (int i = 0; i < im->rec.n_annotators; i++) {
            int r = im->reader[i], l = K;
            for (int k = 0; k < im->n_mark; k++)
                if (im->mark[k].reader == r && (d >= 0 ? im->mark[k].digit == d : k == f)) l = im->mark[k].label;
            lp += log(*cell(t, r, z, l));
            all_missed += log(*cell(t, r, z, K));
        }
        post[z] = all_missed < 0 ? lp - log1p(-exp(all_missed)) : -INFINITY;   // never observed if all always miss
    }
    post[K] = -INFINITY;
    if (d < 0) {   // a lone false positive: its drawer, its share of false positives, its label
        const Mark *m = &im->mark[f];
        double q = 0;
        for (int z = 0; z < K; z++) q += *cell(t, m->reader, K, z);
        post[K] = log(s->n_fp / total) + log(s->fp_by[m->reader] / s->n_fp) + log(*cell(t, m->reader, K, m->label) / q);
    }
    double mx = -INFINITY, sum = 0;
    for (int z = 0; z < S; z++) mx = post[z] > mx ? post[z] : mx;
    for (int z = 0; z < S; z++) sum += (post[z] = isfinite(mx) ? exp(post[z] - mx) : 0);
    for (int z = 0; z < S; z++) post[z] = sum > 0 ? post[z] / sum : 0;
}

static json_t *object_json(const Image *im, const Truth *t, const Stats *s, int d, int f) {
    int K = t->K;
    double *post = malloc(sizeof *post * (size_t)(K + 1)), wsum[4] = { 0 }, xsum[4] = { 0 };
    posterior(im, t, s, d, f, post);
    int best = 0;
    for (int z = 1; z < K; z++)
        if (post[z] > post[best]) best = z;
    double real = 0;
    for (int z = 0; z < K; z++) real += post[z];
    json_t *probs = json_object(), *who = json_array();
    for (int z = 0; z < K; z++) json_object_set_new(probs, t->cls[z], json_real(real > 0 ? post[z] / real : 1.0 / K));
    int votes = 0;
    for (int i = 0; i < im->rec.n_annotators; i++)   // readers in the record's order; sorted below
        for (int k = 0; k < im->n_mark; k++) {
            const Mark *m = &im->mark[k];
            if (m->reader != im->reader[i] || !(d >= 0 ? m->digit == d : k == f)) continue;
            double c[4] = { m->box.x1, m->box.y1, m->box.x2, m->box.y2 };
            for (int q = 0; q < 4; q++) {
                double wt = 1 / s->spread2[m->reader * 4 + q];
                wsum[q] += wt;
                xsum[q] += wt * c[q];
            }
            json_array_append_new(who, json_string(im->rec.annotators[i]));
            votes++;
        }
    // the annotators in byte order, as fuse --method em lists them
    size_t n = json_array_size(who);
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strcmp(json_string_value(json_array_get(who, b - 1)), json_string_value(json_array_get(who, b))) > 0; b--) {
            json_t *x = json_incref(json_array_get(who, b - 1));
            json_array_set(who, b - 1, json_array_get(who, b));
            json_array_set_new(who, b, x);
        }
    Box box = { xsum[0] / wsum[0], xsum[1] / wsum[1], xsum[2] / wsum[2], xsum[3] / wsum[3] };
    box_clamp(&box, im->rec.width, im->rec.height);
    json_t *o = json_pack("{s:s,s:o,s:o,s:f,s:f,s:i,s:o}", "label", t->cls[best], "box", json_box(box), "probs", probs,
                          "exists", 1 - post[K], "conf", post[best], "votes", votes, "annotators", who);
    free(post);
    return o;
}

static int cmp_conf(const void *a, const void *b) {
    double x = json_real_value(json_object_get(*(json_t *const *)a, "conf"));
    double y = json_real_value(json_object_get(*(json_t *const *)b, "conf"));
    return (x < y) - (x > y);
}

int main(int argc, char **argv) {
    const char *matrices = NULL;
    bool quiet = false;
    enum { O_MATRICES = 256, O_QUIET };
    static const struct option opts[] = { { "matrices", required_argument, 0, O_MATRICES },
                                          { "quiet", no_argument, 0, O_QUIET },
                                          { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    int c;
    argv[0] = (char *)TOOL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MATRICES: matrices = optarg; break;
        case O_QUIET: quiet = true; break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", TOOL); return EXIT_USAGE;
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s' (records come on stdin)", argv[optind]);
    if (!matrices) cli_usage_error(TOOL, "--matrices FILE is required (the true matrices of simulate --matrices)");
    Truth t;
    load_truth(matrices, &t);

    RecordReader rd;
    record_reader_init(&rd, stdin, REC_ID | REC_SIZE | REC_ANNOTATORS | REC_ANNOTATIONS | REC_TRUTH, BOX_STRICT);
    long n = 0, cap = 256, objects = 0;
    Image *ims = malloc(sizeof *ims * (size_t)cap);
    char err[1024];
    for (;;) {
        if (n == cap) {
            cap *= 2;
            Image *ni = realloc(ims, sizeof *ims * (size_t)cap);
            if (!ni) cli_die(TOOL, EXIT_DATA, "out of memory");
            ims = ni;
        }
        memset(&ims[n], 0, sizeof ims[n]);
        int rc = record_read(&rd, &ims[n].rec, err, sizeof err);
        if (rc == 0) break;
        if (rc < 0 || read_image(&ims[n], &t, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
        n++;
    }
    if (n == 0) cli_die(TOOL, EXIT_DATA, "no records on stdin");
    Stats s;
    collect(ims, n, &t, &s);
    for (long i = 0; i < n; i++) {
        Image *im = &ims[i];
        json_t *objs = json_array();
        for (int d = 0; d < im->rec.n_truth; d++) {
            int seen = 0;
            for (int k = 0; k < im->n_mark; k++) seen |= im->mark[k].digit == d;
            if (seen) json_array_append_new(objs, object_json(im, &t, &s, d, -1));
        }
        for (int k = 0; k < im->n_mark; k++)
            if (im->mark[k].digit < 0) json_array_append_new(objs, object_json(im, &t, &s, -1, k));
        size_t no = json_array_size(objs);
        json_t **sorted = malloc(sizeof *sorted * (no + 1));
        for (size_t k = 0; k < no; k++) sorted[k] = json_incref(json_array_get(objs, k));
        qsort(sorted, no, sizeof *sorted, cmp_conf);
        json_array_clear(objs);
        for (size_t k = 0; k < no; k++) json_array_append_new(objs, sorted[k]);
        free(sorted);
        objects += (long)no;
        json_object_set_new(im->rec.json, "objects", objs);
        if (record_write(stdout, im->rec.json) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
        free(im->mark);
        free(im->reader);
        record_free(&im->rec);
    }
    if (fflush(stdout) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
    if (!quiet)
        fprintf(stderr, "%s: %ld records, %ld true clusters (%.0f false positives)\n", TOOL, n, objects, s.n_fp);
    free(ims);
    free(rd.buf);
    free(s.n_class);
    free(s.fp_by);
    free(s.spread2);
    truth_free(&t);
    return 0;
}
