#include "data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "image.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int class_index(char *const *classes, int nc, const char *label) {
    for (int c = 0; c < nc; c++) if (strcmp(classes[c], label) == 0) return c;
    return -1;
}

// The boxes of one record for the chosen field: label, pixel box, weight, and (soft
// targets) the checked "probs". The reader has already checked the field, each label and
// each box (dataset_load's record_read).
typedef struct {
    const char *label;
    Box box;
    float weight;
    json_t *probs;           // borrowed from the record; NULL: one-hot on label
    size_t index;            // its position in the field's array, for messages
} RawBox;

static const char *weight_mode_name(WeightMode m) {
    static const char *names[] = { "votes", "conf", "none", "probs", "probs-exists", "exists" };
    return names[m];
}

// The object's EARL weight under mode m into *w; -1 with a message when it is missing or
// out of range: votes and conf (with one-hot targets) positive, exists and conf (with soft
// targets) probabilities in [0, 1].
static int object_weight(json_t *e, WeightMode m, float *w, char *msg, size_t msgn) {
    *w = 1;
    if (m == WEIGHT_NONE) return 0;
    const char *field = m == WEIGHT_VOTES ? "votes" : m == WEIGHT_CONF || m == WEIGHT_PROBS ? "conf" : "exists";
    json_t *v = json_object_get(e, field);
    double x = json_number_value(v);
    if (m == WEIGHT_VOTES || m == WEIGHT_CONF) {
        if (!(x > 0)) { snprintf(msg, msgn, "needs a positive \"%s\" for --weight", field); return -1; }
    } else if (!json_is_number(v)) {
        snprintf(msg, msgn, "needs a number \"%s\" for --weight %s", field, weight_mode_name(m));
        return -1;
    } else if (!(x >= 0 && x <= 1)) {
        snprintf(msg, msgn, "\"%s\" must be a probability in [0, 1], got %.9g", field, x);
        return -1;
    }
    *w = (float)x;
    return 0;
}

// Checks an object's "probs" (p, NULL when absent): an object of label -> finite number >= 0,
// the numbers summing to 1 within PROBS_SUM_TOL. -1 with a message otherwise.
static int check_probs(json_t *p, WeightMode m, char *msg, size_t msgn) {
    if (!p) { snprintf(msg, msgn, "needs \"probs\" for --weight %s", weight_mode_name(m)); return -1; }
    if (!json_is_object(p)) { snprintf(msg, msgn, "\"probs\" must be an object of label: probability"); return -1; }
    double sum = 0;
    const char *label;
    json_t *v;
    json_object_foreach(p, label, v) {
        double x = json_number_value(v);
        if (!json_is_number(v) || !isfinite(x) || x < 0) {
            snprintf(msg, msgn, "\"probs\": \"%s\" must be a finite number >= 0", label);
            return -1;
        }
        sum += x;
    }
    if (!(fabs(sum - 1) <= PROBS_SUM_TOL)) {
        snprintf(msg, msgn, "\"probs\" sum to %.9g, not 1 (within %g)", sum, PROBS_SUM_TOL);
        return -1;
    }
    return 0;
}

// The soft targets of a checked "probs" whose labels are all classes: row (nc) in the
// classes' order, each probability divided by their sum, 0 for the classes it leaves out.
static void probs_row(json_t *p, char *const *classes, int nc, float *row) {
    double sum = 0;
    const char *label;
    json_t *v;
    json_object_foreach(p, label, v) sum += json_number_value(v);
    for (int c = 0; c < nc; c++) row[c] = 0;
    json_object_foreach(p, label, v) row[class_index(classes, nc, label)] = (float)(json_number_value(v) / sum);
}

// Frees the first n records' raw boxes, and the arrays.
static void raw_boxes_free(RawBox **raw, int *nraw, int n) {
    for (int i = 0; i < n; i++) free(raw[i]);
    free(raw);
    free(nraw);
}

static int record_boxes(json_t *rec, const DataOptions *o, RawBox **out, char *err, size_t errn, long line) {
    if (o->field == TARGETS_NONE) { *out = NULL; return 0; }
    const char *field = o->field == TARGETS_OBJECTS ? "objects" : o->field == TARGETS_TRUTH ? "truth" : "annotations";
    int soft = o->field == TARGETS_OBJECTS && weight_soft_targets(o->weight);
    json_t *arr = json_object_get(rec, field);
    size_t n = json_array_size(arr), k = 0, i;
    *out = malloc(sizeof **out * (n + 1));
    if (!*out) { snprintf(err, errn, "line %ld: out of memory", line); return -1; }
    json_t *e;
    char msg[512];
    json_array_foreach(arr, i, e) {
        const char *label = json_string_value(json_object_get(e, "label"));
        json_t *b = json_object_get(e, "box");
        if (o->field == TARGETS_ANNOTATIONS && o->annotator &&
            strcmp(json_string_value(json_object_get(e, "annotator")) ? json_string_value(json_object_get(e, "annotator")) : "", o->annotator) != 0)
            continue;
        float w = 1;
        json_t *probs = soft ? json_object_get(e, "probs") : NULL;
        if (o->field == TARGETS_OBJECTS &&
            (object_weight(e, o->weight, &w, msg, sizeof msg) != 0 || (soft && check_probs(probs, o->weight, msg, sizeof msg) != 0))) {
            snprintf(err, errn, "line %ld: objects[%zu]: %s", line, i, msg);
            free(*out);
            return -1;
        }
        Box bx = { json_number_value(json_array_get(b, 0)), json_number_value(json_array_get(b, 1)),
                   json_number_value(json_array_get(b, 2)), json_number_value(json_array_get(b, 3)) };
        (*out)[k++] = (RawBox){ label, bx, w, probs, i };
    }
    return (int)k;
}

int dataset_load(Dataset *d, FILE *fp, const char *name, const DataOptions *o, char ***classes, int *n_classes,
                 char *err, size_t errn) {
    memset(d, 0, sizeof *d);
    d->size = o->size;
    d->ch = o->ch;
    // the target boxes are validated as the record reader validates them (4 finite numbers,
    // x1 < x2, y1 < y2, inside the frame), with the line number in any error
    RecordReader rd;
    unsigned need = REC_ID | REC_IMAGE | REC_SIZE;
    if (o->field == TARGETS_ANNOTATIONS) need |= REC_ANNOTATIONS;
    else if (o->field != TARGETS_NONE || o->check) need |= REC_TRUTH;
    record_reader_init(&rd, fp, need, BOX_STRICT);
    rd.truth_field = o->field == TARGETS_OBJECTS ? "objects" : o->field == TARGETS_NONE ? o->check : "truth";
    long cap = 0;
    char e2[1024];
    json_t *ids = json_object();   // id -> line of its first record
    for (;;) {
        Record rec;
        int rc = record_read_unique(&rd, ids, &rec, e2, sizeof e2);
        if (rc == 0) break;
        if (rc < 0) {
            snprintf(err, errn, "%s: %s", name, e2);
            free(rd.buf);
            json_decref(ids);
            return -1;
        }
        if (d->n == cap) {
            cap = cap ? cap * 2 : 256;
            json_t **r = realloc(d->records, sizeof *d->records * (size_t)cap);
            long *l = realloc(d->lines, sizeof *d->lines * (size_t)cap);
            if (r) d->records = r;
            if (l) d->lines = l;
            if (!r || !l) {
                snprintf(err, errn, "%s: out of memory", name);
                record_free(&rec);
                free(rd.buf);
                json_decref(ids);
                return -1;
            }
        }
        d->lines[d->n] = rec.line;
        d->records[d->n++] = json_incref(rec.json);
        record_free(&rec);
    }
    free(rd.buf);
    json_decref(ids);
    if (d->n == 0) { snprintf(err, errn, "%s: no records", name); return -1; }
    // class names: given, or the sorted labels of the targets
    RawBox **raw = calloc((size_t)d->n, sizeof *raw);
    int *nraw = calloc((size_t)d->n, sizeof *nraw);
    if (!raw || !nraw) { free(raw); free(nraw); snprintf(err, errn, "%s: out of memory", name); return -1; }
    json_t *seen = json_object();
    for (int i = 0; i < d->n; i++) {
        nraw[i] = record_boxes(d->records[i], o, &raw[i], e2, sizeof e2, d->lines[i]);
        if (nraw[i] < 0) {
            snprintf(err, errn, "%s: %s", name, e2);
            json_decref(seen);
            raw_boxes_free(raw, nraw, i);
            return -1;
        }
        for (int k = 0; k < nraw[i]; k++) {
            json_object_set_new(seen, raw[i][k].label, json_true());
            const char *l;
            json_t *v;
            if (raw[i][k].probs) json_object_foreach(raw[i][k].probs, l, v) json_object_set_new(seen, l, json_true());
        }
    }
    if (*n_classes == 0) {
        *n_classes = (int)json_object_size(seen);
        *classes = malloc(sizeof **classes * (size_t)(*n_classes + 1));
        if (!*classes) { snprintf(err, errn, "%s: out of memory", name); json_decref(seen); raw_boxes_free(raw, nraw, d->n); return -1; }
        const char *l;
        json_t *v;
        int k = 0;
        json_object_foreach(seen, l, v) (*classes)[k++] = strdup(l);
        qsort(*classes, (size_t)*n_classes, sizeof **classes, cmp_str);
    }
    json_decref(seen);
    // given classes: every label of a "probs" must be one (collected ones are by construction)
    int soft = 0;
    for (int i = 0; i < d->n; i++)
        for (int k = 0; k < nraw[i]; k++) {
            const char *l;
            json_t *v;
            if (!raw[i][k].probs) continue;
            soft = 1;
            json_object_foreach(raw[i][k].probs, l, v)
                if (class_index(*classes, *n_classes, l) < 0) {
                    snprintf(err, errn, "%s: line %ld: objects[%zu]: \"probs\" names \"%s\", not a class of the model", name, d->lines[i],
                             raw[i][k].index, l);
                    raw_boxes_free(raw, nraw, d->n);
                    return -1;
                }
        }
    d->pixels = malloc((size_t)d->n * d->ch * d->size * d->size);
    d->start = malloc(sizeof *d->start * (size_t)d->n);
    d->count = calloc((size_t)d->n, sizeof *d->count);
    d->scale_x = malloc(sizeof(double) * (size_t)d->n); d->scale_y = malloc(sizeof(double) * (size_t)d->n);
    d->pad_x = malloc(sizeof(double) * (size_t)d->n); d->pad_y = malloc(sizeof(double) * (size_t)d->n);
    long total = 0;
    for (int i = 0; i < d->n; i++) total += nraw[i];
    d->boxes = malloc(sizeof *d->boxes * (size_t)(total + 1));
    if (soft) d->probs = malloc(sizeof *d->probs * (size_t)(total + 1) * (size_t)*n_classes);
    if (!d->pixels || !d->start || !d->count || !d->scale_x || !d->scale_y || !d->pad_x || !d->pad_y || !d->boxes ||
        (soft && !d->probs)) {
        snprintf(err, errn, "%s: out of memory", name);
        raw_boxes_free(raw, nraw, d->n);
        return -1;
    }
    // decode and letterbox every image (of this process's block), in parallel
    int failed = -1, parts = o->parts > 1 ? o->parts : 1;
    long lo = (long)d->n * o->part / parts, hi = (long)d->n * (o->part + 1) / parts;
    if (parts == 1) { lo = 0; hi = d->n; }
    char ferr[1024] = "";
    #pragma omp parallel for schedule(dynamic, 8)
    for (int i = (int)lo; i < (int)hi; i++) {
        int stop;
        #pragma omp critical(dataset_failed)
        stop = failed >= 0;
        if (stop) continue;
        const char *img = json_string_value(json_object_get(d->records[i], "image"));
        char le[900];
        Image im, lb;
        Letterbox L;
        if (image_load_record(&o->images, img, &im, d->ch, le, sizeof le) != 0) {
            #pragma omp critical(dataset_failed)
            if (failed < 0) { failed = i; snprintf(ferr, sizeof ferr, "%s", le); }
            continue;
        }
        // letterbox from the record's frame: the file may be a resized copy
        double fw = (double)json_integer_value(json_object_get(d->records[i], "width"));
        double fh = (double)json_integer_value(json_object_get(d->records[i], "height"));
        if (image_letterbox(&im, d->size, d->size, 114, &lb, &L) != 0) {
            image_free(&im);
            #pragma omp critical(dataset_failed)
            if (failed < 0) { failed = i; snprintf(ferr, sizeof ferr, "out of memory"); }
            continue;
        }
        d->scale_x[i] = L.scale_x * im.w / fw;
        d->scale_y[i] = L.scale_y * im.h / fh;
        d->pad_x[i] = L.pad_x;
        d->pad_y[i] = L.pad_y;
        // HWC to CHW
        size_t plane = (size_t)d->size * d->size;
        uint8_t *dst = d->pixels + (size_t)i * d->ch * plane;
        for (size_t p = 0; p < plane; p++)
            for (int c = 0; c < d->ch; c++) dst[c * plane + p] = lb.data[p * d->ch + c];
        image_free(&im);
        image_free(&lb);
    }
    if (failed >= 0) { snprintf(err, errn, "%s: line %ld: %s", name, d->lines[failed], ferr); return -1; }
    if (parts > 1 && o->share(o->share_ctx, d, parts) != 0) { snprintf(err, errn, "%s: cannot share the decoded images", name); return -1; }
    for (int i = 0; i < d->n; i++) {
        d->start[i] = (int)d->n_boxes;
        for (int k = 0; k < nraw[i]; k++) {
            int cls = class_index(*classes, *n_classes, raw[i][k].label);
            if (cls < 0) continue;
            Box b = raw[i][k].box;
            BoxT *t = &d->boxes[d->n_boxes];
            t->x1 = (float)(b.x1 * d->scale_x[i] + d->pad_x[i]); t->x2 = (float)(b.x2 * d->scale_x[i] + d->pad_x[i]);
            t->y1 = (float)(b.y1 * d->scale_y[i] + d->pad_y[i]); t->y2 = (float)(b.y2 * d->scale_y[i] + d->pad_y[i]);
            t->cls = cls;
            t->weight = raw[i][k].weight;
            t->probs = NULL;
            if (raw[i][k].probs) {
                float *row = d->probs + (size_t)d->n_boxes * *n_classes;
                probs_row(raw[i][k].probs, *classes, *n_classes, row);
                t->probs = row;
            }
            if (t->x2 - t->x1 < 1e-3f || t->y2 - t->y1 < 1e-3f) continue;
            d->n_boxes++;
            d->count[i]++;
        }
        if (d->count[i] > d->max_count) d->max_count = d->count[i];
        free(raw[i]);
    }
    free(raw);
    free(nraw);
    return 0;
}

void dataset_free(Dataset *d) {
    for (int i = 0; i < d->n; i++) json_decref(d->records[i]);
    free(d->records); free(d->lines); free(d->pixels); free(d->start); free(d->count); free(d->boxes); free(d->probs);
    free(d->scale_x); free(d->scale_y); free(d->pad_x); free(d->pad_y);
    memset(d, 0, sizeof *d);
}

// Samples canvas (cw x ch_, CHW, uint8) at the inverse of x' = s x + t, bilinear, 114 outside.
static void warp(const uint8_t *src, int C, int sw, int sh, float s, float tx, float ty, float *dst, int size) {
    size_t plane = (size_t)size * size, splane = (size_t)sw * sh;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            float fx = (x + 0.5f - tx) / s - 0.5f, fy = (y + 0.5f - ty) / s - 0.5f;
            int x0 = (int)floorf(fx), y0 = (int)floorf(fy);
            float ax = fx - x0, ay = fy - y0;
            for (int c = 0; c < C; c++) {
                const uint8_t *sp = src + c * splane;
                float v = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int xx = x0 + dx, yy = y0 + dy;
                        float wgt = (dx ? ax : 1 - ax) * (dy ? ay : 1 - ay);
                        v += wgt * ((xx >= 0 && xx < sw && yy >= 0 && yy < sh) ? sp[(size_t)yy * sw + xx] : 114);
                    }
                dst[c * plane + (size_t)y * size + x] = v / 255.0f;
            }
        }
}

int dataset_batch(const Dataset *d, const int *idx, int B, const AugOptions *aug, Rng *r, float *x, Target *t, int cap) {
    return dataset_batch_part(d, idx, B, 0, B, aug, r, x, t, cap);
}

int dataset_batch_part(const Dataset *d, const int *idx, int B, int b0, int b1, const AugOptions *aug, Rng *r, float *x,
                       Target *t, int cap) {
    int S = d->size, C = d->ch, nt = 0;
    size_t plane = (size_t)S * S;
    uint8_t *canvas = malloc((size_t)C * 4 * plane);
    BoxT *boxes = malloc(sizeof *boxes * (size_t)(4 * d->max_count + 1));   // a mosaic's four images
    if (!canvas || !boxes) { free(canvas); free(boxes); return -1; }
    for (int b = 0; b < B; b++) {
        // an image outside [b0, b1) draws its random numbers and nothing else
        int own = b >= b0 && b < b1;
        int nb = 0, cw = S, chh = S;
        const uint8_t *src = NULL;
        if (aug && rng_uniform(r) < aug->mosaic) {
            // mosaic: four images around a random centre of a 2S canvas
            cw = chh = 2 * S;
            if (own) memset(canvas, 114, (size_t)C * 4 * plane);
            int xc = rng_int(r, S / 2, 3 * S / 2), yc = rng_int(r, S / 2, 3 * S / 2);
            for (int q = 0; q < 4; q++) {
                int id = q == 0 ? idx[b] : rng_int(r, 0, d->n - 1);
                if (!own) continue;
                // the tile's placement in the canvas (x0, y0) and the part of the image used
                int x0 = q % 2 == 0 ? xc - S : xc, y0 = q < 2 ? yc - S : yc;
                const uint8_t *img = d->pixels + (size_t)id * C * plane;
                for (int c = 0; c < C; c++)
                    for (int y = 0; y < S; y++) {
                        int cy = y0 + y;
                        if (cy < 0 || cy >= 2 * S) continue;
                        for (int xx = 0; xx < S; xx++) {
                            int cx = x0 + xx;
                            if (cx >= 0 && cx < 2 * S) canvas[(size_t)c * 4 * plane + (size_t)cy * 2 * S + cx] = img[c * plane + (size_t)y * S + xx];
                        }
                    }
                for (int k = 0; k < d->count[id]; k++) {
                    BoxT bx = d->boxes[d->start[id] + k];
                    bx.x1 = fmaxf(bx.x1 + x0, 0); bx.x2 = fminf(bx.x2 + x0, 2.0f * S);
                    bx.y1 = fmaxf(bx.y1 + y0, 0); bx.y2 = fminf(bx.y2 + y0, 2.0f * S);
                    if (bx.x2 - bx.x1 > 1 && bx.y2 - bx.y1 > 1) boxes[nb++] = bx;
                }
            }
            src = canvas;
        } else if (own) {
            src = d->pixels + (size_t)idx[b] * C * plane;
            for (int k = 0; k < d->count[idx[b]]; k++) boxes[nb++] = d->boxes[d->start[idx[b]] + k];
        }
        // random scale and translation, mapping the canvas centre near the output centre
        float s = 1, tx = 0, ty = 0;
        if (aug) {
            s = (float)rng_range(r, 1 - aug->scale, 1 + aug->scale);
            tx = (float)(S * rng_range(r, 0.5 - aug->translate, 0.5 + aug->translate)) - s * cw / 2.0f;
            ty = (float)(S * rng_range(r, 0.5 - aug->translate, 0.5 + aug->translate)) - s * chh / 2.0f;
        }
        if (!own) continue;
        float *xb = x + (size_t)(b - b0) * C * plane;
        warp(src, C, cw, chh, s, tx, ty, xb, S);
        for (int k = 0; k < nb; k++) {
            BoxT bx = boxes[k];
            float w0 = bx.x2 - bx.x1, h0 = bx.y2 - bx.y1;
            float x1 = fmaxf(bx.x1 * s + tx, 0), x2 = fminf(bx.x2 * s + tx, (float)S);
            float y1 = fmaxf(bx.y1 * s + ty, 0), y2 = fminf(bx.y2 * s + ty, (float)S);
            float w = x2 - x1, h = y2 - y1;
            // YOLOv5's box candidates: > 2 px, > 10% of the area kept, aspect < 20
            if (w <= 2 || h <= 2 || w * h / (w0 * h0 * s * s + 1e-16f) <= 0.1f || fmaxf(w / h, h / w) >= 20) continue;
            if (nt < cap) t[nt++] = (Target){ b - b0, bx.cls, (x1 + x2) / 2 / S, (y1 + y2) / 2 / S, w / S, h / S, bx.weight, bx.probs };
        }
    }
    free(canvas);
    free(boxes);
    return nt;
}

int fit_anchors(const Dataset *d, float anchors[3][3][2], Rng *r) {
    long n = d->n_boxes;
    if (n < 9) return -1;
    float (*wh)[2] = malloc(sizeof *wh * (size_t)n), c[9][2];
    int *asg = malloc(sizeof *asg * (size_t)n);
    if (!wh || !asg) { free(wh); free(asg); return -1; }
    for (long i = 0; i < n; i++) { wh[i][0] = d->boxes[i].x2 - d->boxes[i].x1; wh[i][1] = d->boxes[i].y2 - d->boxes[i].y1; }
    for (int k = 0; k < 9; k++) { long i = rng_int(r, 0, (int)n - 1); c[k][0] = wh[i][0]; c[k][1] = wh[i][1]; }
    for (int iter = 0; iter < 50; iter++) {
        for (long i = 0; i < n; i++) {
            float best = -1;
            for (int k = 0; k < 9; k++) {
                float inter = fminf(wh[i][0], c[k][0]) * fminf(wh[i][1], c[k][1]);
                float iou = inter / (wh[i][0] * wh[i][1] + c[k][0] * c[k][1] - inter);
                if (iou > best) { best = iou; asg[i] = k; }
            }
        }
        double sw[9] = { 0 }, sh[9] = { 0 };
        long cnt[9] = { 0 };
        for (long i = 0; i < n; i++) { sw[asg[i]] += wh[i][0]; sh[asg[i]] += wh[i][1]; cnt[asg[i]]++; }
        for (int k = 0; k < 9; k++)
            if (cnt[k]) { c[k][0] = (float)(sw[k] / cnt[k]); c[k][1] = (float)(sh[k] / cnt[k]); }
    }
    // by area, smallest to the finest level
    for (int i = 1; i < 9; i++)
        for (int j = i; j > 0 && c[j][0] * c[j][1] < c[j - 1][0] * c[j - 1][1]; j--) {
            float t0 = c[j][0], t1 = c[j][1];
            c[j][0] = c[j - 1][0]; c[j][1] = c[j - 1][1];
            c[j - 1][0] = t0; c[j - 1][1] = t1;
        }
    for (int k = 0; k < 9; k++) { anchors[k / 3][k % 3][0] = c[k][0]; anchors[k / 3][k % 3][1] = c[k][1]; }
    free(wh);
    free(asg);
    return 0;
}
