#include "wbf.h"

#include "numpy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// A box after the clean-up: [label, s = score*weight, weight, source, x1, y1, x2, y2].
typedef struct {
    int label;
    int source;
    int input;        // index into the caller's array
    double s, w;
    double c[4];
} Entry;

// A cluster while it grows; its fused values live in float64 storage, as the reference's
// `weighted_boxes` array does.
typedef struct {
    int label;
    double s, w;
    double c[4];
    int head, tail, n;   // members: a list through Priv.next, in joining order
} Cluster;

typedef struct {
    Entry *e;
    int *order, *next, *labels, *perm;
    double *key;
    Cluster *cl;
    WbfCluster *sorted;
    int *members;
    unsigned char *seen;
    double *tmp;
    int cap, src_cap;
} Priv;

static int grow(Priv *p, int n, int n_sources) {
    if (n > p->cap) {
        int cap = n < 64 ? 64 : n * 2;
        Entry *e = realloc(p->e, sizeof *e * (size_t)cap);
        if (e) p->e = e;
        int *o = realloc(p->order, sizeof *o * (size_t)cap);
        if (o) p->order = o;
        int *nx = realloc(p->next, sizeof *nx * (size_t)cap);
        if (nx) p->next = nx;
        int *lb = realloc(p->labels, sizeof *lb * (size_t)cap);
        if (lb) p->labels = lb;
        Cluster *cl = realloc(p->cl, sizeof *cl * (size_t)cap);
        if (cl) p->cl = cl;
        int *m = realloc(p->members, sizeof *m * (size_t)cap);
        if (m) p->members = m;
        int *pm = realloc(p->perm, sizeof *pm * (size_t)cap);
        if (pm) p->perm = pm;
        double *k = realloc(p->key, sizeof *k * (size_t)cap);
        if (k) p->key = k;
        WbfCluster *so = realloc(p->sorted, sizeof *so * (size_t)cap);
        if (so) p->sorted = so;
        if (!e || !o || !nx || !lb || !cl || !m || !pm || !k || !so) return -1;
        p->cap = cap;
    }
    if (n_sources > p->src_cap) {
        unsigned char *s = realloc(p->seen, (size_t)n_sources);
        if (s) p->seen = s;
        double *t = realloc(p->tmp, sizeof *t * (size_t)n_sources);
        if (t) p->tmp = t;
        if (!s || !t) return -1;
        p->src_cap = n_sources;
    }
    return 0;
}

// Clean-up of one box, as the reference's prefilter: swap inverted corners, clamp each
// coordinate to [0,1], drop zero-area boxes. Returns 0 when the box is dropped.
static int clean_box(Box b, double c[4], WbfRepairs *rep) {
    double x1 = b.x1, y1 = b.y1, x2 = b.x2, y2 = b.y2, t;
    int swapped = 0, clamped = 0;
    if (x2 < x1) { t = x1; x1 = x2; x2 = t; swapped = 1; }
    if (y2 < y1) { t = y1; y1 = y2; y2 = t; swapped = 1; }
    if (x1 < 0) { x1 = 0; clamped = 1; }
    if (x1 > 1) { x1 = 1; clamped = 1; }
    if (x2 < 0) { x2 = 0; clamped = 1; }
    if (x2 > 1) { x2 = 1; clamped = 1; }
    if (y1 < 0) { y1 = 0; clamped = 1; }
    if (y1 > 1) { y1 = 1; clamped = 1; }
    if (y2 < 0) { y2 = 0; clamped = 1; }
    if (y2 > 1) { y2 = 1; clamped = 1; }
    rep->swapped += swapped;
    rep->clamped += clamped;
    if ((x2 - x1) * (y2 - y1) == 0.0) { rep->zero_area++; return 0; }
    c[0] = x1; c[1] = y1; c[2] = x2; c[3] = y2;
    return 1;
}

// Order of boxes within a label: the reverse of numpy's argsort of s, as the reference
// takes them (descending s; ties later-first up to 16 boxes, numpy's order above).
static void sort_by_score_desc(const Entry *e, int *idx, int n, double *key, int *perm) {
    for (int i = 0; i < n; i++) key[i] = e[idx[i]].s;
    numpy_argsort(key, perm, n);
    for (int i = 0; i < n; i++) key[i] = idx[perm[n - 1 - i]];   // reversed, kept in key for now
    for (int i = 0; i < n; i++) idx[i] = (int)key[i];
}

// The reference's IoU, in float64, between a cluster's fused box and a box.
static double iou_ref(const double a[4], const double b[4]) {
    double xa = fmax(a[0], b[0]), ya = fmax(a[1], b[1]);
    double xb = fmin(a[2], b[2]), yb = fmin(a[3], b[3]);
    double inter = fmax(xb - xa, 0.0) * fmax(yb - ya, 0.0);
    double area_a = (a[2] - a[0]) * (a[3] - a[1]);
    double area_b = (b[2] - b[0]) * (b[3] - b[1]);
    return inter / (area_a + area_b - inter);
}

// Recomputes a cluster's fused box from its members, in the reference's float32 steps.
static void fuse_members(Cluster *c, const Entry *e, const int *next, ConfType ct) {
    float acc[4] = { 0, 0, 0, 0 };
    double conf = 0.0, w = 0.0, smax = -INFINITY;
    for (int m = c->head; m >= 0; m = next[m]) {
        for (int k = 0; k < 4; k++) acc[k] = (float)((double)acc[k] + e[m].s * e[m].c[k]);
        conf += e[m].s;
        w += e[m].w;
        if (e[m].s > smax) smax = e[m].s;
    }
    c->s = ct == CONF_MAX ? (double)(float)smax : (double)(float)(conf / c->n);
    c->w = (double)(float)w;
    float fconf = (float)conf;
    for (int k = 0; k < 4; k++) c->c[k] = (double)(acc[k] / fconf);
}

// Rescales a finished cluster's confidence, in float64. seen[t] marks the cluster's sources.
static double rescale(const Cluster *c, ConfType ct, const double *weights,
                      int n_sources, double wsum, double wmax, const unsigned char *seen, double *tmp) {
    double s = c->s;
    int k = 0;
    switch (ct) {
    case CONF_BOX_AND_MODEL_AVG:
        s = s * c->n / c->w;
        for (int t = 0; t < n_sources; t++) if (seen[t]) tmp[k++] = weights[t];
        return s * numpy_sum(tmp, k) / wsum;
    case CONF_ABSENT_MODEL_AWARE_AVG:
        for (int t = 0; t < n_sources; t++) if (!seen[t]) tmp[k++] = weights[t];
        return s * c->n / (c->w + numpy_sum(tmp, k));
    case CONF_MAX:
        return s / wmax;
    case CONF_AVG:
    default:
        return s * (n_sources < c->n ? n_sources : c->n) / wsum;
    }
}

int wbf_fuse(const WbfInput *in, int n, const double *weights, int n_sources, const WbfParams *p,
             WbfResult *res, WbfRepairs *rep) {
    if (!res->priv) {
        res->priv = calloc(1, sizeof(Priv));
        if (!res->priv) return -1;
    }
    Priv *pv = res->priv;
    if (grow(pv, n + 1, n_sources + 1) != 0) return -1;
    double *tmp = pv->tmp, *key = pv->key;
    int *perm = pv->perm;
    Entry *e = pv->e;
    int *next = pv->next;

    // Clean-up, source by source, in input order within a source.
    int ne = 0;
    for (int t = 0; t < n_sources; t++)
        for (int i = 0; i < n; i++) {
            if (in[i].source != t) continue;
            if (in[i].score < p->skip_box_thr) { rep->below_thr++; continue; }
            Entry *x = &e[ne];
            if (!clean_box(in[i].box, x->c, rep)) continue;
            x->label = in[i].label;
            x->source = t;
            x->input = i;
            x->s = in[i].score * weights[t];
            x->w = weights[t];
            ne++;
        }

    // Labels in order of first appearance.
    int nl = 0;
    for (int i = 0; i < ne; i++) {
        int k = 0;
        while (k < nl && pv->labels[k] != e[i].label) k++;
        if (k == nl) pv->labels[nl++] = e[i].label;
    }

    double wsum = numpy_sum(weights, n_sources), wmax = 0.0;
    for (int t = 0; t < n_sources; t++) wmax = fmax(wmax, weights[t]);
    int nc = 0;
    for (int l = 0; l < nl; l++) {
        int label = pv->labels[l], no = 0, first = nc;
        for (int i = 0; i < ne; i++) if (e[i].label == label) pv->order[no++] = i;
        sort_by_score_desc(e, pv->order, no, key, perm);
        for (int j = 0; j < no; j++) {
            int i = pv->order[j], best = -1;
            double best_iou = -INFINITY;
            for (int c = first; c < nc; c++) {
                double iou = iou_ref(pv->cl[c].c, e[i].c);
                if (p->one_per_source) {
                    int mine = 0;
                    for (int m = pv->cl[c].head; m >= 0 && !mine; m = next[m]) mine = e[m].source == e[i].source;
                    if (mine) iou = -1.0;
                }
                if (iou > best_iou) { best_iou = iou; best = c; }   // first maximum, as argmax
            }
            next[i] = -1;
            if (best >= 0 && best_iou > p->iou_thr) {
                Cluster *c = &pv->cl[best];
                next[c->tail] = i;
                c->tail = i;
                c->n++;
                fuse_members(c, e, next, p->conf_type);
            } else {
                Cluster *c = &pv->cl[nc++];
                c->label = label;
                c->s = e[i].s;
                c->w = e[i].w;
                memcpy(c->c, e[i].c, sizeof c->c);
                c->head = c->tail = i;
                c->n = 1;
            }
        }
    }

    // Confidence, votes, and (for majority vote) the kept clusters and their mean boxes.
    WbfCluster *out = realloc(res->clusters, sizeof *out * (size_t)(nc + 1));
    if (!out) return -1;
    res->clusters = out;
    int kept = 0, used = 0;
    for (int c = 0; c < nc; c++) {
        Cluster *cl = &pv->cl[c];
        memset(pv->seen, 0, (size_t)n_sources);
        int votes = 0;
        for (int m = cl->head; m >= 0; m = next[m])
            if (!pv->seen[e[m].source]) { pv->seen[e[m].source] = 1; votes++; }
        WbfCluster *o = &out[kept];
        o->label = cl->label;
        o->votes = votes;
        o->n_members = cl->n;
        o->members = pv->members + used;
        int k = 0;
        double mean[4] = { 0, 0, 0, 0 };
        for (int m = cl->head; m >= 0; m = next[m]) {
            o->members[k++] = e[m].input;
            for (int q = 0; q < 4; q++) mean[q] += e[m].c[q];
        }
        if (p->method == FUSE_MV) {
            if (2 * votes <= n_sources) continue;
            o->conf = (double)votes / n_sources;
            o->box = (Box){ mean[0] / cl->n, mean[1] / cl->n, mean[2] / cl->n, mean[3] / cl->n };
        } else {
            o->conf = rescale(cl, p->conf_type, weights, n_sources, wsum, wmax, pv->seen, tmp);
            o->box = (Box){ cl->c[0], cl->c[1], cl->c[2], cl->c[3] };
        }
        used += cl->n;
        kept++;
    }
    res->n_clusters = kept;

    // Descending confidence: the reverse of numpy's argsort, as the reference orders them.
    WbfCluster *sorted = pv->sorted;
    for (int i = 0; i < kept; i++) key[i] = out[i].conf;
    numpy_argsort(key, perm, kept);
    for (int i = 0; i < kept; i++) sorted[i] = out[perm[kept - 1 - i]];
    memcpy(out, sorted, sizeof *out * (size_t)kept);
    return 0;
}

void wbf_free(WbfResult *res) {
    Priv *p = res->priv;
    if (p) {
        free(p->e); free(p->order); free(p->next); free(p->labels);
        free(p->cl); free(p->members); free(p->seen); free(p->perm); free(p->key); free(p->sorted); free(p->tmp);
        free(p);
    }
    free(res->clusters);
    memset(res, 0, sizeof *res);
}
