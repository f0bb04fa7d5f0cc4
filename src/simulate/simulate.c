#include "simulate.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "record.h"

// Random streams: canvas i uses stream i*STRIDE, expert k of image i stream i*STRIDE+1+k,
// and the matrix of expert k stream MATRIX_STREAM+k. Adding an expert or changing the
// annotator options therefore leaves the canvases, and the other experts, unchanged.
#define STRIDE 1024ULL
#define MATRIX_STREAM 0x4d41545249584553ULL

void sim_params_default(SimParams *sp) {
    memset(sp, 0, sizeof *sp);
    sp->n = 1000;
    sp->prefix = "med";
    sp->quality = 95;
    sp->canvas = (CanvasParams){ 128, 128, 1, 4, 12, 40, 0.2, 0.0, 0, 0 };
    sp->n_experts = 3;
    for (int k = 0; k < SIM_MAX_EXPERTS; k++) sp->proficiency[k] = 0.8;
    sp->sigma = 0.5;
    sp->zeta = 0.05;
    sp->jitter = 0.1;
    sp->fp_rate = 0.0;
}

void sim_draw_matrices(const SimParams *sp, double (*A)[N_COLS][N_COLS]) {
    for (int k = 0; k < sp->n_experts; k++) {
        Rng r;
        rng_seed(&r, sp->seed, MATRIX_STREAM + (uint64_t)k);
        ExpertParams ep = { sp->proficiency[k], sp->sigma, sp->zeta };
        expert_draw_matrix(&r, &ep, A[k]);
    }
}

static int write_matrices(const SimParams *sp, double (*A)[N_COLS][N_COLS], char *err, size_t errn) {
    json_t *root = json_object(), *classes = json_array(), *experts = json_array();
    for (int j = 0; j < N_DIGITS; j++) {
        char s[16];
        snprintf(s, sizeof s, "%d", j);
        json_array_append_new(classes, json_string(s));
    }
    json_array_append_new(classes, json_string("no_obj"));
    for (int k = 0; k < sp->n_experts; k++) {
        json_t *rows = json_array();
        for (int i = 0; i < N_COLS; i++) {
            json_t *row = json_array();
            for (int j = 0; j < N_COLS; j++) json_array_append_new(row, json_real(A[k][i][j]));
            json_array_append_new(rows, row);
        }
        char name[16];
        snprintf(name, sizeof name, "R%d", k + 1);
        json_array_append_new(experts, json_pack("{s:s,s:f,s:o}", "name", name, "proficiency",
                                                 sp->proficiency[k], "matrix", rows));
    }
    json_object_set_new(root, "classes", classes);
    json_object_set_new(root, "rows", json_string("true class (no_obj last: labels of false positives)"));
    json_object_set_new(root, "experts", experts);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text) { snprintf(err, errn, "out of memory"); return -1; }
    size_t n = strlen(text);
    text[n] = '\n';   // json_dumps leaves room for the NUL; reuse it for the newline
    int rc = write_file_atomic(sp->matrices, text, n + 1, err, errn);
    free(text);
    return rc;
}

// A box of about digit size that overlaps no true digit, or 0 when none is found.
static int false_positive_box(Rng *r, const CanvasParams *cp, const Placed *digits, int n, Box *out) {
    for (int tries = 0; tries < 100; tries++) {
        double h = rng_int(r, cp->size_min, cp->size_max);
        double w = h * rng_range(r, 0.4, 1.0);
        double x = rng_range(r, 0, cp->width - w), y = rng_range(r, 0, cp->height - h);
        Box b = { round(x * 100) / 100, round(y * 100) / 100, round((x + w) * 100) / 100, round((y + h) * 100) / 100 };
        int clear = b.x2 > b.x1 && b.y2 > b.y1;
        for (int j = 0; j < n && clear; j++)
            if (box_intersection(b, digits[j].box) > 0) clear = 0;
        if (clear) { *out = b; return 1; }
    }
    return 0;
}

typedef struct {
    char *line;        // the record, compact JSON without newline
    int digits, annotations;
    char err[512];
    int failed;
} ImageResult;

static void digit_label(int k, char s[16]) { snprintf(s, 16, "%d", k); }

// Makes image i: canvas, file, annotations and the record text.
static void make_image(const SimParams *sp, const Digits *d, double (*A)[N_COLS][N_COLS], long i,
                       ImageResult *res) {
    enum { MAX_DIGITS = 1024 };
    Placed *digits = malloc(sizeof *digits * MAX_DIGITS);
    Rng r;
    rng_seed(&r, sp->seed, (uint64_t)i * STRIDE);
    Image im = { 0 };
    int n = digits ? canvas_compose(&r, d, &sp->canvas, &im, digits, MAX_DIGITS) : -1;
    if (n < 0) {
        snprintf(res->err, sizeof res->err, "out of memory");
        res->failed = 1;
        free(digits);
        return;
    }
    char id[256], name[300];
    snprintf(id, sizeof id, "%s-%06ld", sp->prefix, i);
    snprintf(name, sizeof name, "%s.jpg", id);
    char *path = path_join(sp->out, name);
    if (image_save_jpeg(path, &im, sp->quality, res->err, sizeof res->err) != 0) {
        res->failed = 1;
        goto done;
    }

    json_t *annotators = json_array(), *annotations = json_array(), *truth = json_array();
    char lab[16];
    for (int j = 0; j < n; j++) {
        digit_label(digits[j].label, lab);
        json_t *t = json_labeled_box(lab, digits[j].box);
        json_object_set_new(t, "mnist_index", json_integer(digits[j].source));
        json_array_append_new(truth, t);
    }
    int n_ann = 0;
    for (int k = 0; k < sp->n_experts; k++) {
        char who[16];
        snprintf(who, sizeof who, "R%d", k + 1);
        json_array_append_new(annotators, json_string(who));
        Rng er;
        rng_seed(&er, sp->seed, (uint64_t)i * STRIDE + 1 + (uint64_t)k);
        double p = sp->proficiency[k];
        for (int j = 0; j < n; j++) {
            int given = expert_draw_label(&er, A[k], digits[j].label);
            if (given == NO_OBJ) continue;
            Box b = expert_perturb_box(&er, digits[j].box, p, sp->jitter, sp->canvas.width, sp->canvas.height);
            digit_label(given, lab);
            json_array_append_new(annotations, json_pack("{s:s,s:s,s:o,s:i}", "annotator", who, "label", lab,
                                                         "box", json_box(b), "truth_index", j));
            n_ann++;
        }
        int fp = rng_poisson(&er, sp->fp_rate);
        for (int f = 0; f < fp; f++) {
            Box b;
            if (!false_positive_box(&er, &sp->canvas, digits, n, &b)) continue;
            digit_label(expert_draw_false_label(&er, A[k]), lab);
            json_array_append_new(annotations, json_pack("{s:s,s:s,s:o}", "annotator", who, "label", lab,
                                                         "box", json_box(b)));
            n_ann++;
        }
    }
    json_t *rec = json_pack("{s:s,s:s,s:i,s:i,s:o,s:o,s:o}", "id", id, "image", path,
                            "width", sp->canvas.width, "height", sp->canvas.height,
                            "annotators", annotators, "annotations", annotations, "truth", truth);
    res->line = rec ? json_dumps(rec, RECORD_DUMP_FLAGS) : NULL;
    json_decref(rec);
    if (!res->line) {
        snprintf(res->err, sizeof res->err, "out of memory");
        res->failed = 1;
    }
    res->digits = n;
    res->annotations = n_ann;
done:
    free(path);
    image_free(&im);
    free(digits);
}

int simulate_run(const SimParams *sp, const Digits *d, FILE *records, Progress *pr, SimSummary *sum,
                 char *err, size_t errn) {
    memset(sum, 0, sizeof *sum);
    double (*A)[N_COLS][N_COLS] = malloc(sizeof *A * (size_t)sp->n_experts);
    if (!A) { snprintf(err, errn, "out of memory"); return -1; }
    sim_draw_matrices(sp, A);
    if (sp->matrices && write_matrices(sp, A, err, errn) != 0) { free(A); return -1; }

    enum { BLOCK = 256 };
    ImageResult *res = calloc(BLOCK, sizeof *res);
    if (!res) { free(A); snprintf(err, errn, "out of memory"); return -1; }
    int rc = 0;
    for (long start = 0; start < sp->n && rc == 0; start += BLOCK) {
        long count = sp->n - start < BLOCK ? sp->n - start : BLOCK;
        memset(res, 0, sizeof *res * BLOCK);
        #pragma omp parallel for schedule(dynamic, 4)
        for (long j = 0; j < count; j++) make_image(sp, d, A, sp->first + start + j, &res[j]);
        for (long j = 0; j < count; j++) {
            if (res[j].failed && rc == 0) {
                snprintf(err, errn, "%s", res[j].err);
                rc = -1;
            }
            if (rc == 0) {
                fputs(res[j].line, records);
                fputc('\n', records);
                sum->digits += res[j].digits;
                sum->annotations += res[j].annotations;
                sum->empty += res[j].digits == 0;
            }
            free(res[j].line);
        }
        if (rc == 0 && ferror(records)) { snprintf(err, errn, "cannot write the records: output error"); rc = -1; }
        progress_update(pr, start + count);
    }
    if (rc == 0 && fflush(records) != 0) { snprintf(err, errn, "cannot write the records: output error"); rc = -1; }
    free(res);
    free(A);
    return rc;
}
