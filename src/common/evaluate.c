#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numpy.h"

static const double EPS = 2.220446049250313e-16;   // np.spacing(1)

typedef struct {
    double score;
    long seq;      // input order, for a stable sort
    int index;
} Ranked;

typedef struct {
    Ranked *rank;
    double *iou;     // [dets][truth]
    double (*gt)[4], (*dt)[4];   // x, y, w, h as pycocotools holds them
    unsigned char *matched;
    int *members;
    int cap_d, cap_g, cap_in;
} Scratch;

double eval_recall_point(int i) { return numpy_linspace(0.0, 1.0, EVAL_RECALL_POINTS, i); }

void eval_coco_thresholds(double out[10]) {
    for (int k = 0; k < 10; k++) out[k] = numpy_linspace(0.5, 0.95, 10, k);
}

int eval_init(EvalSet *e, const double *thr, int n_thr) {
    memset(e, 0, sizeof *e);
    if (n_thr < 1 || n_thr > EVAL_MAX_THRESHOLDS) return -1;
    e->n_thr = n_thr;
    memcpy(e->thr, thr, sizeof *thr * (size_t)n_thr);
    e->scratch = calloc(1, sizeof(Scratch));
    return e->scratch ? 0 : -1;
}

void eval_free(EvalSet *e) {
    for (int k = 0; k < e->n_classes; k++) {
        free(e->classes[k].label);
        free(e->classes[k].dets);
        free(e->classes[k].truth_by_image);
    }
    free(e->classes);
    Scratch *s = e->scratch;
    if (s) {
        free(s->rank); free(s->iou); free(s->gt); free(s->dt); free(s->matched); free(s->members);
        free(s);
    }
    memset(e, 0, sizeof *e);
}

// The class of a label, created on first sight.
static int class_of(EvalSet *e, const char *label, int len) {
    for (int k = 0; k < e->n_classes; k++)
        if ((int)strlen(e->classes[k].label) == len && memcmp(e->classes[k].label, label, (size_t)len) == 0) return k;
    if (e->n_classes == e->cap_classes) {
        int cap = e->cap_classes ? e->cap_classes * 2 : 16;
        EvalClass *c = realloc(e->classes, sizeof *c * (size_t)cap);
        if (!c) return -1;
        e->classes = c;
        e->cap_classes = cap;
    }
    EvalClass *c = &e->classes[e->n_classes];
    memset(c, 0, sizeof *c);
    c->label = malloc((size_t)len + 1);
    if (!c->label) return -1;
    memcpy(c->label, label, (size_t)len);
    c->label[len] = '\0';
    return e->n_classes++;
}

static int by_score_desc(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static int reserve(Scratch *s, int nd, int ng, int nin) {
    if (nd > s->cap_d) {
        Ranked *r = realloc(s->rank, sizeof *r * (size_t)nd);
        if (r) s->rank = r;
        double (*dt)[4] = realloc(s->dt, sizeof *dt * (size_t)nd);
        if (dt) s->dt = dt;
        if (!r || !dt) return -1;
        s->cap_d = nd;
    }
    if (ng > s->cap_g) {
        double (*gt)[4] = realloc(s->gt, sizeof *gt * (size_t)ng);
        if (gt) s->gt = gt;
        unsigned char *m = realloc(s->matched, (size_t)ng);
        if (m) s->matched = m;
        if (!gt || !m) return -1;
        s->cap_g = ng;
    }
    if ((long)nd * ng > 0) {
        double *iou = realloc(s->iou, sizeof *iou * (size_t)nd * (size_t)ng);
        if (!iou) return -1;
        s->iou = iou;
    }
    if (nin > s->cap_in) {
        int *m = realloc(s->members, sizeof *m * (size_t)nin);
        if (!m) return -1;
        s->members = m;
        s->cap_in = nin;
    }
    return 0;
}

// COCO's bounding-box IoU (maskApi bbIou) on x, y, w, h boxes, no crowd.
static double coco_iou(const double d[4], const double g[4]) {
    double w = fmin(d[2] + d[0], g[2] + g[0]) - fmax(d[0], g[0]);
    if (w <= 0) return 0.0;
    double h = fmin(d[3] + d[1], g[3] + g[1]) - fmax(d[1], g[1]);
    if (h <= 0) return 0.0;
    double i = w * h, u = d[2] * d[3] + g[2] * g[3] - i;
    return i / u;
}

static void to_xywh(Box b, double out[4]) {
    out[0] = b.x1;
    out[1] = b.y1;
    out[2] = b.x2 - b.x1;
    out[3] = b.y2 - b.y1;
}

static int add_det(EvalClass *c, EvalDet d) {
    if (c->n_dets == c->cap_dets) {
        long cap = c->cap_dets ? c->cap_dets * 2 : 256;
        EvalDet *n = realloc(c->dets, sizeof *n * (size_t)cap);
        if (!n) return -1;
        c->dets = n;
        c->cap_dets = cap;
    }
    c->dets[c->n_dets++] = d;
    return 0;
}

static int add_truth_count(EvalClass *c, long image, long n) {
    if (c->n_tbi + 2 > c->cap_tbi) {
        long cap = c->cap_tbi ? c->cap_tbi * 2 : 64;
        long *t = realloc(c->truth_by_image, sizeof *t * (size_t)cap);
        if (!t) return -1;
        c->truth_by_image = t;
        c->cap_tbi = cap;
    }
    c->truth_by_image[c->n_tbi++] = image;
    c->truth_by_image[c->n_tbi++] = n;
    c->n_truth += n;
    return 0;
}

int eval_add_image(EvalSet *e, const EvalBox *truth, int nt, const EvalBox *dets, int nd) {
    Scratch *s = e->scratch;
    long image = e->n_images++;
    int n_in = nt > nd ? nt : nd;
    if (reserve(s, nd, nt, n_in + 1) != 0) return -1;
    // Each class of this image: its truth and detections, matched at every threshold.
    // Classes are visited in order of first appearance; the result does not depend on it.
    unsigned char *done_t = calloc((size_t)nt + 1, 1), *done_d = calloc((size_t)nd + 1, 1);
    if (!done_t || !done_d) { free(done_t); free(done_d); return -1; }
    int rc = 0;
    for (int pass = 0; pass < nt + nd && rc == 0; pass++) {
        const EvalBox *seed = pass < nt ? &truth[pass] : &dets[pass - nt];
        if (pass < nt ? done_t[pass] : done_d[pass - nt]) continue;
        int k = class_of(e, seed->label, seed->label_len);
        if (k < 0) { rc = -1; break; }
        EvalClass *c = &e->classes[k];
        int g = 0, d = 0;
        for (int i = 0; i < nt; i++)
            if (!done_t[i] && truth[i].label_len == seed->label_len &&
                memcmp(truth[i].label, seed->label, (size_t)seed->label_len) == 0) {
                done_t[i] = 1;
                to_xywh(truth[i].box, s->gt[g++]);
            }
        for (int i = 0; i < nd; i++)
            if (!done_d[i] && dets[i].label_len == seed->label_len &&
                memcmp(dets[i].label, seed->label, (size_t)seed->label_len) == 0) {
                done_d[i] = 1;
                s->rank[d] = (Ranked){ dets[i].score, d, i };
                d++;
            }
        if (g > 0 && add_truth_count(c, image, g) != 0) { rc = -1; break; }
        // Highest score first (stable), at most 100.
        if (d > 1) qsort(s->rank, (size_t)d, sizeof *s->rank, by_score_desc);
        if (d > EVAL_MAX_DETS) d = EVAL_MAX_DETS;
        for (int i = 0; i < d; i++) to_xywh(dets[s->rank[i].index].box, s->dt[i]);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < g; j++) s->iou[(size_t)i * g + j] = coco_iou(s->dt[i], s->gt[j]);
        uint32_t *tp = calloc((size_t)d + 1, sizeof *tp);
        if (!tp) { rc = -1; break; }
        for (int t = 0; t < e->n_thr; t++) {
            if (g > 0) memset(s->matched, 0, (size_t)g);
            for (int i = 0; i < d; i++) {
                double best = fmin(e->thr[t], 1 - 1e-10);
                int m = -1;
                for (int j = 0; j < g; j++) {
                    if (s->matched[j]) continue;
                    double iou = s->iou[(size_t)i * g + j];
                    if (iou < best) continue;
                    best = iou;   // equal IoU: the later truth wins
                    m = j;
                }
                if (m >= 0) {
                    s->matched[m] = 1;
                    tp[i] |= 1u << t;
                }
            }
        }
        for (int i = 0; i < d && rc == 0; i++)
            rc = add_det(c, (EvalDet){ s->rank[i].score, (int)image, tp[i] });
        free(tp);
    }
    free(done_t);
    free(done_d);
    return rc;
}

static int by_label(const void *a, const void *b) {
    return strcmp(((const EvalClass *)a)->label, ((const EvalClass *)b)->label);
}

typedef struct {
    EvalDet d;
    long seq;
} SeqDet;

static int by_det_score(const void *a, const void *b) {
    const SeqDet *x = a, *y = b;
    if (x->d.score != y->d.score) return x->d.score > y->d.score ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

void eval_sort_classes(EvalSet *e) {
    if (e->n_classes > 1) qsort(e->classes, (size_t)e->n_classes, sizeof *e->classes, by_label);
    // Each class's detections, by descending score; ties keep image order (a stable sort).
    for (int k = 0; k < e->n_classes; k++) {
        EvalClass *c = &e->classes[k];
        SeqDet *tmp = malloc(sizeof *tmp * (size_t)(c->n_dets + 1));
        if (!tmp) continue;   // left in image order; only the order of ties could differ
        for (long i = 0; i < c->n_dets; i++) tmp[i] = (SeqDet){ c->dets[i], i };
        if (c->n_dets > 1) qsort(tmp, (size_t)c->n_dets, sizeof *tmp, by_det_score);
        for (long i = 0; i < c->n_dets; i++) c->dets[i] = tmp[i].d;
        free(tmp);
    }
}

static double truth_count(const EvalClass *c, const double *w) {
    if (!w) return (double)c->n_truth;
    double n = 0;
    for (long i = 0; i < c->n_tbi; i += 2) n += w[c->truth_by_image[i]] * (double)c->truth_by_image[i + 1];
    return n;
}

double eval_class_ap(const EvalSet *e, int k, int t, ApMethod m, const double *weights, double *q) {
    const EvalClass *c = &e->classes[k];
    double npig = truth_count(c, weights);
    if (npig <= 0) return -1.0;
    long nd = 0;
    double *pr = malloc(sizeof *pr * (size_t)(c->n_dets + 2)), *rc = malloc(sizeof *rc * (size_t)(c->n_dets + 2));
    if (!pr || !rc) { free(pr); free(rc); return -1.0; }
    double tp = 0, fp = 0;
    uint32_t bit = 1u << t;
    for (long i = 0; i < c->n_dets; i++) {
        double w = weights ? weights[c->dets[i].image] : 1.0;
        if (w == 0) continue;
        if (c->dets[i].tp & bit) tp += w; else fp += w;
        rc[nd] = tp / npig;
        pr[nd] = m == AP_COCO ? tp / (fp + tp + EPS) : tp / fmax(tp + fp, EPS);
        nd++;
    }
    double ap;
    if (m == AP_COCO) {
        for (long i = nd - 1; i > 0; i--)
            if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
        double qq[EVAL_RECALL_POINTS] = { 0 };
        long idx = 0;
        for (int r = 0; r < EVAL_RECALL_POINTS; r++) {
            double thr = eval_recall_point(r);
            while (idx < nd && rc[idx] < thr) idx++;   // searchsorted, side='left'
            if (idx >= nd) break;
            qq[r] = pr[idx];
        }
        if (q) memcpy(q, qq, sizeof qq);
        ap = numpy_sum(qq, EVAL_RECALL_POINTS) / EVAL_RECALL_POINTS;
    } else {
        // PASCAL VOC 2010: the area under the monotone precision envelope.
        double prev_r = 0.0;
        for (long i = nd - 1; i > 0; i--) pr[i - 1] = fmax(pr[i - 1], pr[i]);
        ap = 0.0;
        for (long i = 0; i < nd; i++) {
            if (rc[i] != prev_r) ap += (rc[i] - prev_r) * pr[i];
            prev_r = rc[i];
        }
    }
    free(pr);
    free(rc);
    return ap;
}

double eval_mean_ap(const EvalSet *e, int t0, int t1, ApMethod m, const double *weights, int only_class) {
    int K = e->n_classes, T = t1 - t0;
    if (T <= 0) return -1.0;
    double *q = malloc(sizeof *q * (size_t)(K ? K : 1) * (size_t)T * EVAL_RECALL_POINTS);
    int *valid = malloc(sizeof *valid * (size_t)(K ? K : 1));
    double *flat = malloc(sizeof *flat * (size_t)(K ? K : 1) * (size_t)T * EVAL_RECALL_POINTS);
    if (!q || !valid || !flat) { free(q); free(valid); free(flat); return -1.0; }
    int nv = 0;
    for (int k = 0; k < K; k++) {
        valid[k] = only_class < 0 || k == only_class;
        for (int t = t0; t < t1 && valid[k]; t++) {
            double ap = eval_class_ap(e, k, t, m, weights, q + ((size_t)k * T + (t - t0)) * EVAL_RECALL_POINTS);
            if (ap < 0) valid[k] = 0;
            if (m == AP_VOC) q[((size_t)k * T + (t - t0)) * EVAL_RECALL_POINTS] = ap;
        }
        nv += valid[k];
    }
    double result = -1.0;
    if (nv > 0) {
        // The values in the order of COCOeval's precision[t, r, k] with the classes
        // without truth masked out (VOC: one value per threshold and class).
        int n = 0;
        int R = m == AP_COCO ? EVAL_RECALL_POINTS : 1;
        for (int t = 0; t < T; t++)
            for (int r = 0; r < R; r++)
                for (int k = 0; k < K; k++)
                    if (valid[k]) flat[n++] = q[((size_t)k * T + t) * EVAL_RECALL_POINTS + r];
        result = numpy_sum(flat, n) / n;
    }
    free(q);
    free(valid);
    free(flat);
    return result;
}

static int cmp_score_desc(const void *pa, const void *pb) {
    const EvalBox *const *a = pa, *const *b = pb;
    if ((*a)->score != (*b)->score) return (*a)->score > (*b)->score ? -1 : 1;
    return (*a > *b) - (*a < *b);   // stable: input order
}

int eval_label_matches(const EvalBox *truth, int nt, const EvalBox *dets, int nd, double iou_thr, long *matched,
                       long *same) {
    const EvalBox **order = malloc(sizeof *order * (size_t)(nd + 1));
    unsigned char *used = calloc((size_t)nt + 1, 1);
    if (!order || !used) { free(order); free(used); return -1; }
    for (int i = 0; i < nd; i++) order[i] = &dets[i];
    qsort(order, (size_t)nd, sizeof *order, cmp_score_desc);
    for (int i = 0; i < nd; i++) {
        int best = -1;
        double best_iou = iou_thr;
        for (int t = 0; t < nt; t++) {
            if (used[t]) continue;
            double iou = box_iou(order[i]->box, truth[t].box);
            if (iou >= best_iou && (best < 0 || iou > best_iou)) { best = t; best_iou = iou; }
        }
        if (best < 0) continue;
        used[best] = 1;
        (*matched)++;
        *same += order[i]->label_len == truth[best].label_len &&
                 memcmp(order[i]->label, truth[best].label, (size_t)truth[best].label_len) == 0;
    }
    free(order);
    free(used);
    return 0;
}
