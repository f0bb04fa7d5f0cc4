// fuse: truth inference from several annotators (Weighted Boxes Fusion or majority vote),
// and ensembles of models' detections.
#include <getopt.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "em.h"
#include "ensemble.h"
#include "fsutil.h"
#include "fuse.h"

static const char *TOOL = "fuse";

static void usage(void) {
    printf(
        "Usage: fuse [options] < records.jsonl > fused.jsonl\n"
        "       fuse --ensemble [options] A.jsonl B.jsonl ... > fused.jsonl\n"
        "\n"
        "Annotator mode (default): fuses each record's \"annotations\" into \"objects\",\n"
        "{\"label\", \"box\", \"conf\", \"votes\", \"annotators\"}, with Weighted Boxes Fusion as\n"
        "ensemble-boxes 1.0.9 computes it. Every name in \"annotators\" is a source, also a\n"
        "reader who drew nothing. With scores 1 and equal weights, \"conf\" is the share of\n"
        "annotators who agree, and \"votes\" the number of distinct annotators in a cluster.\n"
        "\n"
        "Ensemble mode: joins the files' records by \"id\" (each file is a source) and fuses\n"
        "their \"detections\" into \"detections\", keeping the other fields of the first file.\n"
        "\n"
        "  --iou-thr X          a box joins a cluster when IoU > X, 0 < X < 1 [0.4]\n"
        "  --skip-box-thr X     drop boxes scoring below X [0]\n"
        "  --conf-type T        avg | max | box_and_model_avg | absent_model_aware_avg [avg]\n"
        "  --weights LIST       NAME=W,... one weight > 0 per source (annotator, or file path);\n"
        "                       in ensemble mode also W1,W2,... by position [all 1]\n"
        "  --one-per-annotator  a source puts at most one box into a cluster\n"
        "  --method M           wbf | mv (majority vote: clusters with more than half of the\n"
        "                       sources, box = mean of its members, conf = share of sources) |\n"
        "                       em (Dawid-Skene: see below) [wbf]\n"
        "  --report FILE        per-annotator statistics as JSON (annotator mode; with em, each\n"
        "                       annotator's estimated accuracy, miss rate and box spread)\n"
        "  --ensemble           ensemble mode: the files are the sources\n"
        "  --allow-missing      ensemble mode: a record missing from a file is not an error\n"
        "  --keep-going         report every bad record, skip it, and exit 1 at the end\n"
        "  --quiet              no summary line\n"
        "  -h, --help           show this help\n"
        "\n"
        "Boxes are repaired as the reference does: inverted corners swapped, coordinates\n"
        "clamped to the frame, zero-area boxes dropped. The summary line on stderr counts them.\n"
        "\n"
        "Cost: WBF and mv compare each box with the clusters of its label so far, so one\n"
        "record of n boxes of one label costs up to n^2 IoUs: 10,000 boxes take 0.7 s, 40,000\n"
        "take 12 s (one core here). Records of tens or hundreds of boxes, as in medical\n"
        "images, are not affected; --method em stays near linear (40,000: 0.6 s).\n"
        "\n"
        "--method em learns each annotator. An image's boxes are clustered across labels, at\n"
        "most one box per annotator in a cluster (pairs of boxes from two annotators with\n"
        "IoU > --iou-thr, taken greedily by descending IoU). Dawid-Skene EM over the clusters of\n"
        "all records then estimates each annotator's confusion matrix P(given | true), over the\n"
        "labels and no_obj (a miss; as a true state, a false positive), from the images it read\n"
        "(\"annotators\"), a class prior, and each annotator's box noise. Each object gets\n"
        "\"label\" (the most probable class), \"box\" (the precision-weighted mean of its boxes),\n"
        "\"probs\" (P(class | real), every class), \"exists\" (P(real)), \"conf\" (P(real and\n"
        "label)), \"votes\" and \"annotators\". EM needs every record, so it reads the whole input\n"
        "before it writes anything, and holds it in memory with about 150 bytes per box besides\n"
        "(1.2 million boxes in 85 MB of records: 250 MB in all). A bad record stops it with\n"
        "nothing written. Data where no image has two readers are refused.\n"
        "  --matrices FILE      write the estimated matrices as JSON, in the schema of\n"
        "                       simulate --matrices\n"
        "  --smoothing A        Dirichlet pseudo-count in every cell of the matrices and the\n"
        "                       prior, A >= 0 [0.1]\n"
        "  --max-iter N         at most N EM iterations [200]\n"
        "  --tol X              stop when the log-likelihood changes by at most X of itself [1e-7]\n");
}

static ConfType parse_conf_type(const char *s) {
    if (strcmp(s, "avg") == 0) return CONF_AVG;
    if (strcmp(s, "max") == 0) return CONF_MAX;
    if (strcmp(s, "box_and_model_avg") == 0) return CONF_BOX_AND_MODEL_AVG;
    if (strcmp(s, "absent_model_aware_avg") == 0) return CONF_ABSENT_MODEL_AWARE_AVG;
    cli_usage_error(TOOL, "unknown --conf-type '%s' (avg, max, box_and_model_avg, absent_model_aware_avg)", s);
}

// --weights: "R1=0.9,R2=0.7" into o->weights_by_name, or "2,1" into o->weights_by_pos.
static void parse_weights(const char *s, FuseOptions *o) {
    char *copy = strdup(s), *save = NULL;
    int named = strchr(s, '=') != NULL, n = 0;
    if (named) o->weights_by_name = json_object();
    else o->weights_by_pos = malloc(sizeof(double) * (strlen(s) + 1));
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if ((eq != NULL) != named) cli_usage_error(TOOL, "--weights: mix of NAME=W and plain W in '%s'", s);
        double w;
        const char *num = named ? eq + 1 : tok;
        if (cli_parse_double(num, -1e300, 1e300, &w) != 0) cli_usage_error(TOOL, "--weights: '%s' is not a number", num);
        if (!(w > 0)) cli_usage_error(TOOL, "--weights: weights must be > 0, got %s", num);
        if (named) {
            *eq = '\0';
            if (!*tok) cli_usage_error(TOOL, "--weights: empty name in '%s'", s);
            if (json_object_get(o->weights_by_name, tok)) cli_usage_error(TOOL, "--weights: '%s' is given twice", tok);
            json_object_set_new(o->weights_by_name, tok, json_real(w));
        } else {
            o->weights_by_pos[n] = w;
        }
        n++;
    }
    if (n == 0) cli_usage_error(TOOL, "--weights needs NAME=W,... or W1,W2,...");
    o->n_weights_by_pos = named ? 0 : n;
    free(copy);
}

// Totals of --report, by annotator name.
typedef struct {
    json_t *index;            // name -> position
    AnnotatorStats *s;
    long *records;
    int n, cap;
} Report;

static void report_add(Report *rp, const LineResult *r) {
    for (int t = 0; t < r->n_stats; t++) {
        json_t *pos = json_object_getn(rp->index, r->names[t].p, (size_t)r->names[t].n);
        int k;
        if (pos) {
            k = (int)json_integer_value(pos);
        } else {
            if (rp->n == rp->cap) {
                rp->cap = rp->cap ? rp->cap * 2 : 16;
                rp->s = realloc(rp->s, sizeof *rp->s * (size_t)rp->cap);
                rp->records = realloc(rp->records, sizeof *rp->records * (size_t)rp->cap);
                if (!rp->s || !rp->records) cli_die(TOOL, EXIT_DATA, "out of memory");
            }
            k = rp->n++;
            memset(&rp->s[k], 0, sizeof rp->s[k]);
            rp->records[k] = 0;
            json_object_setn_new(rp->index, r->names[t].p, (size_t)r->names[t].n, json_integer(k));
        }
        AnnotatorStats *a = &rp->s[k], *b = &r->stats[t];
        a->boxes += b->boxes; a->agreed += b->agreed; a->iou_sum += b->iou_sum; a->iou_n += b->iou_n;
        a->pairs += b->pairs; a->same_label += b->same_label;
        rp->records[k]++;
    }
}

static json_t *ratio(double a, double b) { return b > 0 ? json_real(a / b) : json_null(); }

static void report_write(const Report *rp, const char *path, const FuseOptions *o) {
    json_t *ann = json_object();
    const char *name;
    json_t *pos;
    json_object_foreach(rp->index, name, pos) {
        const AnnotatorStats *s = &rp->s[json_integer_value(pos)];
        json_object_set_new(ann, name, json_pack("{s:I,s:I,s:o,s:o,s:o}",
            "records", (json_int_t)rp->records[json_integer_value(pos)], "boxes", (json_int_t)s->boxes,
            "agreed_share", ratio((double)s->agreed, (double)s->boxes),
            "mean_iou", ratio(s->iou_sum, (double)s->iou_n),
            "label_agreement", ratio((double)s->same_label, (double)s->pairs)));
    }
    json_t *root = json_pack("{s:f,s:o}", "iou_thr", o->wbf.iou_thr, "annotators", ann);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(15));
    char err[512];
    size_t n = strlen(text);
    text[n] = '\n';
    if (write_file_atomic(path, text, n + 1, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    free(text);
    json_decref(root);
}

// Annotator mode streams blocks of lines: while the threads fuse one block, one of them
// first writes the block before it and reads the block after it, then joins in.
enum { BLOCK = 512 };

typedef struct {
    char *lines[BLOCK];
    size_t caps[BLOCK], lens[BLOCK];
    long linenos[BLOCK];
    LineResult res[BLOCK];
    int n;
} Block;

typedef struct {
    long lineno, records, bad, boxes_in, objects;
    WbfRepairs rep;
    int eof, stop;
    bool keep_going;
    Report *report;           // NULL without --report
    json_t *ids;              // id -> line of its first record
} Stream;

static void block_read(Block *b, Stream *st) {
    b->n = 0;
    while (b->n < BLOCK && !st->eof) {
        int n = b->n;
        ssize_t len = getline(&b->lines[n], &b->caps[n], stdin);
        if (len < 0) {
            if (ferror(stdin)) cli_die(TOOL, EXIT_DATA, "line %ld: read error", st->lineno + 1);
            st->eof = 1;
            break;
        }
        st->lineno++;
        int nul = (size_t)len != strlen(b->lines[n]);
        const char *p = b->lines[n];
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (!*p && !nul) continue;   // a blank line
        if (nul) b->lines[n][0] = '\0';   // reported at this line by the worker
        b->lens[n] = (size_t)len;
        b->linenos[b->n++] = st->lineno;
    }
}

static void block_fuse(Block *b, int i, const FuseOptions *o, Workspace *ws, int force_jansson) {
    LineResult *r = &b->res[i];
    memset(r, 0, sizeof *r);
    if (!b->lines[i][0]) {
        snprintf(r->err, sizeof r->err, "line %ld: contains a NUL byte", b->linenos[i]);
        r->failed = 1;
        return;
    }
    fuse_annotators_line(b->lines[i], b->lens[i], b->linenos[i], o, ws, force_jansson, r);
}

// Writes a fused block in order; stops at the first bad record unless --keep-going.
static void block_emit(Block *b, Stream *st) {
    for (int i = 0; i < b->n; i++) {
        LineResult *r = &b->res[i];
        if (!st->stop) {
            st->records++;
            if (!r->failed && record_id_unique(st->ids, r->id, strlen(r->id), b->linenos[i], r->err, sizeof r->err) != 0)
                r->failed = 1;
            if (r->failed) {
                st->bad++;
                cli_warn(TOOL, "%s", r->err);
                if (!st->keep_going) st->stop = 1;
            } else {
                for (int k = 0; k < 4; k++)
                    if (r->piece[k].n) fwrite(r->piece[k].p, 1, (size_t)r->piece[k].n, stdout);
                fputc('\n', stdout);
                st->boxes_in += r->boxes_in;
                st->objects += r->clusters_out;
                st->rep.swapped += r->rep.swapped; st->rep.clamped += r->rep.clamped;
                st->rep.zero_area += r->rep.zero_area; st->rep.below_thr += r->rep.below_thr;
                if (st->report) report_add(st->report, r);
            }
        }
        line_result_free(r);
    }
    if (ferror(stdout)) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
}

static int run_annotators(const FuseOptions *o, bool keep_going, const char *report_path, bool quiet) {
    Block *blk = calloc(2, sizeof *blk);
    int nt = omp_get_max_threads();
    Workspace *work = calloc((size_t)nt, sizeof *work);
    int force_jansson = getenv("FUSE_FORCE_JANSSON") != NULL;   // for the tests of both paths
    if (!blk || !work) cli_die(TOOL, EXIT_DATA, "out of memory");
    Report rp = { json_object(), NULL, NULL, 0, 0 };
    Stream st = { .keep_going = keep_going, .report = report_path ? &rp : NULL, .ids = json_object() };
    double t0 = cli_now();
    int cur = 0, pending = 0;
    block_read(&blk[cur], &st);
    while (blk[cur].n > 0 || pending) {
        Block *c = &blk[cur], *p = &blk[1 - cur];
        #pragma omp parallel
        {
            #pragma omp single nowait
            {
                if (pending) block_emit(p, &st);
                p->n = 0;
                if (!st.stop) block_read(p, &st);
            }
            #pragma omp for schedule(dynamic, 8) nowait
            for (int i = 0; i < c->n; i++) block_fuse(c, i, o, &work[omp_get_thread_num()], force_jansson);
        }
        pending = c->n > 0;
        cur = 1 - cur;
        if (st.stop) {
            if (pending) block_emit(c, &st);   // frees what was fused after the bad record
            break;
        }
    }
    if (fflush(stdout) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < BLOCK; i++) free(blk[k].lines[i]);
    for (int i = 0; i < nt; i++) workspace_free(&work[i]);
    free(blk);
    free(work);
    if (st.records == 0) cli_die(TOOL, EXIT_DATA, "no records on stdin");
    if (report_path && !st.stop) report_write(&rp, report_path, o);
    json_decref(rp.index);
    json_decref(st.ids);
    free(rp.s);
    free(rp.records);
    if (!quiet)
        fprintf(stderr, "%s: %ld records, %ld boxes in, %ld objects out, %.2f s; repaired %ld inverted, "
                "%ld out of frame; dropped %ld zero-area, %ld below --skip-box-thr%s\n",
                TOOL, st.records - st.bad, st.boxes_in, st.objects, cli_now() - t0, st.rep.swapped, st.rep.clamped,
                st.rep.zero_area, st.rep.below_thr, st.bad ? "; bad records skipped" : "");
    return st.bad ? EXIT_DATA : 0;
}

int main(int argc, char **argv) {
    FuseOptions o = { .wbf = { FUSE_WBF, 0.4, 0.0, CONF_AVG, false } };
    bool ensemble = false, allow_missing = false, keep_going = false, quiet = false, em = false, em_option = false;
    bool conf_type_given = false;
    const char *report = NULL;
    EmRun run = { .em = { 0.1, 200, 1e-7 } };
    enum { O_IOU = 256, O_SKIP, O_CONF, O_WEIGHTS, O_ONE, O_METHOD, O_REPORT, O_ENS, O_MISSING, O_KEEP, O_QUIET,
           O_MATRICES, O_SMOOTH, O_MAXIT, O_TOL };
    static const struct option opts[] = {
        { "iou-thr", required_argument, 0, O_IOU }, { "skip-box-thr", required_argument, 0, O_SKIP },
        { "conf-type", required_argument, 0, O_CONF }, { "weights", required_argument, 0, O_WEIGHTS },
        { "one-per-annotator", no_argument, 0, O_ONE }, { "method", required_argument, 0, O_METHOD },
        { "report", required_argument, 0, O_REPORT }, { "ensemble", no_argument, 0, O_ENS },
        { "allow-missing", no_argument, 0, O_MISSING }, { "keep-going", no_argument, 0, O_KEEP },
        { "quiet", no_argument, 0, O_QUIET }, { "matrices", required_argument, 0, O_MATRICES },
        { "smoothing", required_argument, 0, O_SMOOTH }, { "max-iter", required_argument, 0, O_MAXIT },
        { "tol", required_argument, 0, O_TOL }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    int c;
    argv[0] = (char *)TOOL;   // getopt's own messages then start with the tool's name
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_IOU:
            if (cli_parse_double(optarg, 0, 1, &o.wbf.iou_thr) || o.wbf.iou_thr <= 0 || o.wbf.iou_thr >= 1)
                cli_usage_error(TOOL, "--iou-thr must be a number strictly between 0 and 1, got '%s'", optarg);
            break;
        case O_SKIP:
            if (cli_parse_double(optarg, 0, 1, &o.wbf.skip_box_thr))
                cli_usage_error(TOOL, "--skip-box-thr must be a number in [0,1], got '%s'", optarg);
            break;
        case O_CONF: o.wbf.conf_type = parse_conf_type(optarg); conf_type_given = true; break;
        case O_WEIGHTS: parse_weights(optarg, &o); break;
        case O_ONE: o.wbf.one_per_source = true; break;
        case O_METHOD:
            if (strcmp(optarg, "wbf") == 0) o.wbf.method = FUSE_WBF;
            else if (strcmp(optarg, "mv") == 0) o.wbf.method = FUSE_MV;
            else if (strcmp(optarg, "em") == 0) em = true;
            else cli_usage_error(TOOL, "unknown --method '%s' (wbf, mv, em)", optarg);
            if (strcmp(optarg, "em") != 0) em = false;
            break;
        case O_MATRICES: run.matrices = optarg; em_option = true; break;
        case O_SMOOTH:
            if (cli_parse_double(optarg, 0, 1e6, &run.em.smoothing))
                cli_usage_error(TOOL, "--smoothing must be a number >= 0, got '%s'", optarg);
            em_option = true;
            break;
        case O_MAXIT: {
            long v;
            if (cli_parse_long(optarg, 1, 1000000, &v)) cli_usage_error(TOOL, "--max-iter must be an integer >= 1, got '%s'", optarg);
            run.em.max_iter = (int)v;
            em_option = true;
            break;
        }
        case O_TOL:
            if (cli_parse_double(optarg, 0, 1, &run.em.tol)) cli_usage_error(TOOL, "--tol must be a number in [0,1], got '%s'", optarg);
            em_option = true;
            break;
        case O_REPORT: report = optarg; break;
        case O_ENS: ensemble = true; break;
        case O_MISSING: allow_missing = true; break;
        case O_KEEP: keep_going = true; break;
        case O_QUIET: quiet = true; break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", TOOL); return EXIT_USAGE;
        }
    }
    o.report = report != NULL;
    if (em_option && !em) cli_usage_error(TOOL, "--matrices, --smoothing, --max-iter and --tol need --method em");
    if (em) {
        if (ensemble) cli_usage_error(TOOL, "--method em is for annotator mode, not --ensemble");
        if (o.weights_by_name || o.weights_by_pos) cli_usage_error(TOOL, "--weights is for --method wbf or mv: em learns each annotator");
        if (conf_type_given) cli_usage_error(TOOL, "--conf-type is for --method wbf: em's conf is P(real and label)");
        if (allow_missing) cli_usage_error(TOOL, "--allow-missing needs --ensemble");
        if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s' (records come on stdin)", argv[optind]);
        run.report = report;
        run.keep_going = keep_going;
        run.quiet = quiet;
        return fuse_em(&o, &run, TOOL);
    }
    if (!ensemble) {
        if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s' (records come on stdin; files need --ensemble)", argv[optind]);
        if (allow_missing) cli_usage_error(TOOL, "--allow-missing needs --ensemble");
        if (o.weights_by_pos) cli_usage_error(TOOL, "--weights needs NAME=W pairs in annotator mode");
        return run_annotators(&o, keep_going, report, quiet);
    }
    int k = argc - optind;
    if (k < 2) cli_usage_error(TOOL, "--ensemble needs at least two files");
    if (report) cli_usage_error(TOOL, "--report is for annotator mode");
    if (o.weights_by_pos && o.n_weights_by_pos != k)
        cli_usage_error(TOOL, "--weights gives %d weights for %d files", o.n_weights_by_pos, k);
    EnsembleSummary sum;
    double t0 = cli_now();
    int rc = fuse_ensemble(argv + optind, k, &o, allow_missing, keep_going, stdout, &sum, TOOL);
    if (fflush(stdout) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
    if (sum.records == 0 && rc == 0) cli_die(TOOL, EXIT_DATA, "%s holds no records", argv[optind]);
    if (!quiet)
        fprintf(stderr, "%s: %ld records from %d files, %ld detections in, %ld out, %.2f s; repaired %ld inverted, "
                "%ld out of frame; dropped %ld zero-area, %ld below --skip-box-thr; %ld records missing from some file\n",
                TOOL, sum.records - sum.bad, k, sum.boxes_in, sum.boxes_out, cli_now() - t0, sum.rep.swapped,
                sum.rep.clamped, sum.rep.zero_area, sum.rep.below_thr, sum.partial);
    json_decref(o.weights_by_name);
    free(o.weights_by_pos);
    return rc == 0 ? 0 : EXIT_DATA;
}
