// score: mAP of detections against truth, exactly as pycocotools' COCOeval computes it.
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "read.h"
#include "rng.h"

static const char *TOOL = "score";

static void usage(void) {
    printf(
        "Usage: score [options] < records.jsonl > score.json\n"
        "\n"
        "Scores each record's \"detections\" against its \"truth\" and prints one JSON object:\n"
        "{\"images\", \"map40\", \"map50\", \"map75\", \"map50_95\", \"classes\": {label: {\"ap40\",\n"
        "\"ap50\", \"ap50_95\", \"truths\", \"detections\"}}}. Every record is an image of the\n"
        "evaluation set. The numbers are those of pycocotools' COCOeval (bbox, area all,\n"
        "maxDets 100): a class without truth has null APs and is left out of the means.\n"
        "A detection may extend past its record's frame (detectors of other toolkits write\n"
        "such boxes); it is scored as it is, unclipped, as COCOeval scores it. Truth boxes\n"
        "must lie in the frame.\n"
        "\n"
        "  --truth FIELD      the truth field [truth]; for example objects (fused targets)\n"
        "  --iou LIST         extra IoU thresholds (comma list in (0,1)), reported as map_custom\n"
        "  --ap METHOD        coco (101-point interpolation) | voc (all-point, VOC 2010) [coco]\n"
        "  --bootstrap N      95%% confidence intervals from N resamplings of the images\n"
        "  --seed S           seed of the resampling [0]\n"
        "  --curves FILE      precision at the 101 recall points, per class and threshold, as\n"
        "                     JSON Lines\n"
        "  --strict-frame     detections must lie in the frame too (an error otherwise)\n"
        "  --label-accuracy   add \"label_accuracy\": {\"iou\", \"matched\", \"correct\", \"accuracy\"}:\n"
        "                     detections matched to truth by IoU >= 0.5 whatever their labels\n"
        "                     (by descending score, one to one), and the share of the matched\n"
        "                     whose label is the truth's\n"
        "  --keep-going       report every bad record, skip it, and exit 1 at the end\n"
        "  -h, --help         show this help\n"
        "\n"
        "Exit codes: 0 scored, 1 bad input (or no records), 2 a usage error.\n");
}

// Threshold layout in the EvalSet: 0.4, the ten COCO thresholds, then --iou.
enum { T40 = 0, T50 = 1, T75 = 6, T_COCO_END = 11 };

static void put_real(JBuf *b, double v) {
    char tmp[48];
    if (v < 0 || !isfinite(v)) { jbuf_puts(b, "null"); return; }
    int n = jfmt_exact(v, tmp);
    jbuf_put(b, tmp, (size_t)n);
}

static void put_key(JBuf *b, const char *key, int first) {
    if (!first) jbuf_put(b, ",", 1);
    json_t *s = json_string(key);
    char *text = json_dumps(s, JSON_ENCODE_ANY);
    jbuf_puts(b, text);
    jbuf_put(b, ":", 1);
    free(text);
    json_decref(s);
}

// The four means of one set of image weights (NULL: the data as it is).
static void means(const EvalSet *e, ApMethod m, const double *w, int n_custom, double out[5]) {
    out[0] = eval_mean_ap(e, T40, T40 + 1, m, w, -1);
    out[1] = eval_mean_ap(e, T50, T50 + 1, m, w, -1);
    out[2] = eval_mean_ap(e, T75, T75 + 1, m, w, -1);
    out[3] = eval_mean_ap(e, T50, T_COCO_END, m, w, -1);
    out[4] = n_custom ? eval_mean_ap(e, T_COCO_END, T_COCO_END + n_custom, m, w, -1) : -1;
}

static int by_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// numpy.percentile's default (linear) of sorted values.
static double percentile(const double *v, int n, double p) {
    double pos = p / 100.0 * (n - 1);
    int lo = (int)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

static void bootstrap(const EvalSet *e, ApMethod m, int n_custom, int reps, uint64_t seed, double ci[5][2]) {
    double *vals = malloc(sizeof *vals * (size_t)reps * 5);
    long n = e->n_images;
    #pragma omp parallel for schedule(dynamic, 4)
    for (int r = 0; r < reps; r++) {
        double *w = calloc((size_t)n + 1, sizeof *w);
        Rng g;
        rng_seed(&g, seed, 0x626f6f74ULL + (uint64_t)r);   // one stream per resampling
        for (long i = 0; i < n; i++) w[rng_int(&g, 0, (int)n - 1)] += 1.0;
        means(e, m, w, n_custom, vals + (size_t)r * 5);
        free(w);
    }
    for (int j = 0; j < 5; j++) {
        double *col = malloc(sizeof *col * (size_t)reps);
        int k = 0;
        for (int r = 0; r < reps; r++)
            if (vals[(size_t)r * 5 + j] >= 0) col[k++] = vals[(size_t)r * 5 + j];
        if (k > 1) qsort(col, (size_t)k, sizeof *col, by_double);
        ci[j][0] = k ? percentile(col, k, 2.5) : -1;
        ci[j][1] = k ? percentile(col, k, 97.5) : -1;
        free(col);
    }
    free(vals);
}

static int write_curves(const EvalSet *e, const char *path, int n_custom) {
    JBuf b = { 0 };
    int ts[3 + 21], nt = 0;
    ts[nt++] = T40; ts[nt++] = T50; ts[nt++] = T75;
    for (int c = 0; c < n_custom; c++) ts[nt++] = T_COCO_END + c;
    double q[EVAL_RECALL_POINTS];
    for (int k = 0; k < e->n_classes; k++)
        for (int i = 0; i < nt; i++) {
            double ap = eval_class_ap(e, k, ts[i], AP_COCO, NULL, q);
            if (ap < 0) continue;
            jbuf_put(&b, "{", 1);
            put_key(&b, "label", 1);
            json_t *s = json_string(e->classes[k].label);
            char *text = json_dumps(s, JSON_ENCODE_ANY);
            jbuf_puts(&b, text);
            free(text);
            json_decref(s);
            put_key(&b, "iou", 0); put_real(&b, e->thr[ts[i]]);
            put_key(&b, "ap", 0); put_real(&b, ap);
            put_key(&b, "recall", 0); jbuf_put(&b, "[", 1);
            for (int r = 0; r < EVAL_RECALL_POINTS; r++) { if (r) jbuf_put(&b, ",", 1); put_real(&b, eval_recall_point(r)); }
            jbuf_puts(&b, "]");
            put_key(&b, "precision", 0); jbuf_put(&b, "[", 1);
            for (int r = 0; r < EVAL_RECALL_POINTS; r++) { if (r) jbuf_put(&b, ",", 1); put_real(&b, q[r]); }
            jbuf_puts(&b, "]}\n");
        }
    char err[512];
    int rc = write_file_atomic(path, b.s ? b.s : "", b.n, err, sizeof err);
    if (rc != 0) cli_warn(TOOL, "%s", err);
    free(b.s);
    return rc;
}

int main(int argc, char **argv) {
    const char *truth_field = "truth", *curves = NULL;
    double custom[21];
    int n_custom = 0, keep_going = 0, reps = 0;
    uint64_t seed = 0;
    ApMethod method = AP_COCO;
    int label_accuracy = 0, strict_frame = 0;
    long la_matched = 0, la_same = 0;
    enum { O_TRUTH = 256, O_IOU, O_AP, O_BOOT, O_SEED, O_CURVES, O_KEEP, O_LABACC, O_STRICT_FRAME };
    static const struct option opts[] = {
        { "truth", required_argument, 0, O_TRUTH }, { "iou", required_argument, 0, O_IOU },
        { "ap", required_argument, 0, O_AP }, { "bootstrap", required_argument, 0, O_BOOT },
        { "seed", required_argument, 0, O_SEED }, { "curves", required_argument, 0, O_CURVES },
        { "keep-going", no_argument, 0, O_KEEP }, { "label-accuracy", no_argument, 0, O_LABACC },
        { "strict-frame", no_argument, 0, O_STRICT_FRAME },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    int c;
    long v;
    argv[0] = (char *)TOOL;   // getopt's own messages then start with the tool's name
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_TRUTH:
            if (!*optarg) cli_usage_error(TOOL, "--truth needs a field name");
            truth_field = optarg;
            break;
        case O_IOU:
            n_custom = cli_parse_double_list(optarg, 1e-9, 1 - 1e-9, custom, 21);
            if (n_custom < 1) cli_usage_error(TOOL, "--iou needs up to 21 thresholds in (0,1), got '%s'", optarg);
            break;
        case O_AP:
            if (strcmp(optarg, "coco") == 0) method = AP_COCO;
            else if (strcmp(optarg, "voc") == 0) method = AP_VOC;
            else cli_usage_error(TOOL, "unknown --ap '%s' (coco, voc)", optarg);
            break;
        case O_BOOT:
            if (cli_parse_long(optarg, 1, 100000, &v)) cli_usage_error(TOOL, "--bootstrap needs 1..100000, got '%s'", optarg);
            reps = (int)v;
            break;
        case O_SEED: if (cli_parse_u64(optarg, &seed)) cli_usage_error(TOOL, "--seed needs an integer >= 0, got '%s'", optarg); break;
        case O_CURVES: curves = optarg; break;
        case O_KEEP: keep_going = 1; break;
        case O_LABACC: label_accuracy = 1; break;
        case O_STRICT_FRAME: strict_frame = 1; break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", TOOL); return EXIT_USAGE;
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s' (records come on stdin)", argv[optind]);

    double thr[EVAL_MAX_THRESHOLDS];
    thr[T40] = 0.4;
    eval_coco_thresholds(thr + T50);
    memcpy(thr + T_COCO_END, custom, sizeof *custom * (size_t)n_custom);
    EvalSet e;
    if (eval_init(&e, thr, T_COCO_END + n_custom) != 0) cli_die(TOOL, EXIT_DATA, "out of memory");

    // Every exit after this point goes through `done`, which frees what was allocated
    // (the sanitized tests run with leak detection on).
    ScoreLine sl = { 0 };
    json_t *ids = json_object();
    char *line = NULL, err[1024];
    size_t cap = 0;
    long lineno = 0, bad = 0;
    int status = 0;
    JBuf b = { 0 };
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        const char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        int nul = (size_t)len != strlen(line);
        if (!*p && !nul) continue;
        int rc;
        if (nul) {
            snprintf(err, sizeof err, "line %ld: contains a NUL byte", lineno);
            rc = -1;
        } else {
            rc = score_read_line(&sl, line, (size_t)len, lineno, truth_field, strict_frame, err, sizeof err);
        }
        if (rc == 0 && record_id_unique(ids, sl.id, (size_t)sl.id_len, lineno, err, sizeof err) != 0) rc = -1;
        if (rc == 0 && eval_add_image(&e, sl.truth, sl.n_truth, sl.dets, sl.n_dets) != 0)
            cli_die(TOOL, EXIT_DATA, "out of memory");
        if (rc == 0 && label_accuracy &&
            eval_label_matches(sl.truth, sl.n_truth, sl.dets, sl.n_dets, 0.5, &la_matched, &la_same) != 0)
            cli_die(TOOL, EXIT_DATA, "out of memory");
        if (rc != 0) {
            bad++;
            cli_warn(TOOL, "%s", err);
            if (!keep_going) { status = EXIT_DATA; goto done; }
        }
    }
    if (ferror(stdin)) {
        cli_warn(TOOL, "line %ld: read error", lineno + 1);
        status = EXIT_DATA;
        goto done;
    }
    if (e.n_images == 0) {
        cli_warn(TOOL, bad ? "no valid records" : "no records on stdin");
        status = EXIT_DATA;
        goto done;
    }

    eval_sort_classes(&e);
    double m[5];
    means(&e, method, NULL, n_custom, m);
    double ci[5][2];
    if (reps) bootstrap(&e, method, n_custom, reps, seed, ci);

    jbuf_puts(&b, "{\"images\":");
    jbuf_int(&b, e.n_images);
    static const char *names[5] = { "map40", "map50", "map75", "map50_95", "map_custom" };
    for (int i = 0; i < 5; i++) {
        if (i == 4 && !n_custom) break;
        put_key(&b, names[i], 0);
        put_real(&b, m[i]);
    }
    put_key(&b, "ap", 0);
    jbuf_puts(&b, method == AP_COCO ? "\"coco\"" : "\"voc\"");
    if (label_accuracy) {
        put_key(&b, "label_accuracy", 0);
        jbuf_puts(&b, "{\"iou\":0.5,\"matched\":");
        jbuf_int(&b, la_matched);
        jbuf_puts(&b, ",\"correct\":");
        jbuf_int(&b, la_same);
        jbuf_puts(&b, ",\"accuracy\":");
        if (la_matched) put_real(&b, (double)la_same / (double)la_matched);
        else jbuf_puts(&b, "null");
        jbuf_put(&b, "}", 1);
    }
    if (reps) {
        put_key(&b, "ci95", 0);
        jbuf_put(&b, "{", 1);
        for (int i = 0; i < 5; i++) {
            if (i == 4 && !n_custom) break;
            put_key(&b, names[i], i == 0);
            jbuf_put(&b, "[", 1); put_real(&b, ci[i][0]); jbuf_put(&b, ",", 1); put_real(&b, ci[i][1]); jbuf_put(&b, "]", 1);
        }
        jbuf_puts(&b, "}");
        put_key(&b, "bootstrap", 0);
        jbuf_int(&b, reps);
    }
    put_key(&b, "classes", 0);
    jbuf_put(&b, "{", 1);
    for (int k = 0; k < e.n_classes; k++) {
        put_key(&b, e.classes[k].label, k == 0);
        jbuf_put(&b, "{", 1);
        put_key(&b, "ap40", 1); put_real(&b, eval_mean_ap(&e, T40, T40 + 1, method, NULL, k));
        put_key(&b, "ap50", 0); put_real(&b, eval_mean_ap(&e, T50, T50 + 1, method, NULL, k));
        put_key(&b, "ap50_95", 0); put_real(&b, eval_mean_ap(&e, T50, T_COCO_END, method, NULL, k));
        if (n_custom) { put_key(&b, "ap_custom", 0); put_real(&b, eval_mean_ap(&e, T_COCO_END, T_COCO_END + n_custom, method, NULL, k)); }
        put_key(&b, "truths", 0); jbuf_int(&b, e.classes[k].n_truth);
        put_key(&b, "detections", 0); jbuf_int(&b, e.classes[k].n_dets);
        jbuf_put(&b, "}", 1);
    }
    jbuf_puts(&b, "}}\n");
    fputs(b.s, stdout);
    if (fflush(stdout) != 0) {
        cli_warn(TOOL, "cannot write to stdout");
        status = EXIT_DATA;
    } else if (curves && write_curves(&e, curves, n_custom) != 0) {
        status = EXIT_DATA;
    }
done:
    free(line);
    score_line_free(&sl);
    free(b.s);
    json_decref(ids);
    eval_free(&e);
    return status ? status : bad ? EXIT_DATA : 0;
}
