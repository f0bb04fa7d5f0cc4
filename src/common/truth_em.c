#include "truth_em.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Clusters per block of the spreads' sums: the blocks, not the threads, fix the order of
// the additions.
enum { SPREAD_BLOCK = 1024 };

// ---- patterns: the distinct (readers, observations) of the clusters ----------------

typedef struct {
    long n;                // patterns
    long *start;           // (P + 1) into obs
    int *obs;              // (2 * observations): annotator, label (K: no box)
    double *count;         // (P) clusters with this pattern
} Patterns;

static uint64_t hash_ints(const int *v, long n) {
    uint64_t h = 1469598103934665603ULL;
    for (long i = 0; i < n; i++) {
        h ^= (uint32_t)v[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

// Cluster c's observations into buf (pairs), one per reader of its image, readers ascending.
static long cluster_observations(const EmData *d, long c, int *buf) {
    const int *rd = d->readers + d->readers_start[d->cluster_readers[c]];
    long n_rd = d->readers_start[d->cluster_readers[c] + 1] - d->readers_start[d->cluster_readers[c]];
    for (long k = 0; k < n_rd; k++) {
        int label = d->n_classes;
        for (long m = d->member_start[c]; m < d->member_start[c + 1]; m++)
            if (d->member_annotator[m] == rd[k]) label = d->member_label[m];
        buf[2 * k] = rd[k];
        buf[2 * k + 1] = label;
    }
    return n_rd;
}

// Checks the contract of EmData: ids in range, reader sets ascending, every box's
// annotator a reader of its image and at most once per cluster.
static int check_data(const EmData *d, char *err, size_t errn) {
    int K = d->n_classes, R = d->n_annotators;
    if (K < 0 || R < 0) { snprintf(err, errn, "negative class or annotator count"); return -1; }
    for (long c = 0; c < d->n_clusters; c++) {
        long s = d->cluster_readers[c];
        const int *rd = d->readers + d->readers_start[s];
        long n_rd = d->readers_start[s + 1] - d->readers_start[s];
        for (long k = 0; k < n_rd; k++)
            if (rd[k] < 0 || rd[k] >= R || (k && rd[k] <= rd[k - 1])) {
                snprintf(err, errn, "cluster %ld: its readers are not ascending annotator ids", c);
                return -1;
            }
        for (long m = d->member_start[c]; m < d->member_start[c + 1]; m++) {
            int a = d->member_annotator[m], in = 0;
            if (d->member_label[m] < 0 || d->member_label[m] >= K) {
                snprintf(err, errn, "cluster %ld: label %d out of range", c, d->member_label[m]);
                return -1;
            }
            for (long k = 0; k < n_rd && !in; k++) in = rd[k] == a;
            for (long q = d->member_start[c]; q < m && in; q++) in = d->member_annotator[q] != a;
            if (!in) {
                snprintf(err, errn, "cluster %ld: annotator %d is not a reader of its image, or has two boxes", c, a);
                return -1;
            }
        }
    }
    return 0;
}

static void patterns_free(Patterns *p) {
    free(p->start); free(p->obs); free(p->count);
    memset(p, 0, sizeof *p);
}

// Numbers the clusters' patterns in order of first appearance (pattern_of) with an
// open-addressing table keyed by the observation pairs.
static int build_patterns(const EmData *d, Patterns *p, long *pattern_of) {
    memset(p, 0, sizeof *p);
    long max_rd = 0, total_obs = 0;
    for (long c = 0; c < d->n_clusters; c++) {
        long s = d->cluster_readers[c], n = d->readers_start[s + 1] - d->readers_start[s];
        if (n > max_rd) max_rd = n;
    }
    long slots = 16;
    while (slots < 2 * d->n_clusters + 2) slots *= 2;
    long *table = malloc(sizeof *table * (size_t)slots);
    int *buf = malloc(sizeof *buf * (size_t)(2 * max_rd + 2));
    long cap_p = 64, cap_o = 256;
    p->start = malloc(sizeof *p->start * (size_t)(cap_p + 1));
    p->count = malloc(sizeof *p->count * (size_t)cap_p);
    p->obs = malloc(sizeof *p->obs * (size_t)cap_o);
    if (!table || !buf || !p->start || !p->count || !p->obs) goto oom;
    for (long i = 0; i < slots; i++) table[i] = -1;
    p->start[0] = 0;
    for (long c = 0; c < d->n_clusters; c++) {
        long n = cluster_observations(d, c, buf);
        uint64_t h = hash_ints(buf, 2 * n);
        long slot = (long)(h & (uint64_t)(slots - 1)), found = -1;
        for (; table[slot] >= 0; slot = (slot + 1) & (slots - 1)) {
            long q = table[slot];
            if (p->start[q + 1] - p->start[q] == 2 * n && !memcmp(p->obs + p->start[q], buf, sizeof *buf * (size_t)(2 * n))) {
                found = q;
                break;
            }
        }
        if (found < 0) {
            if (p->n == cap_p) {
                cap_p *= 2;
                long *ns = realloc(p->start, sizeof *ns * (size_t)(cap_p + 1));
                if (ns) p->start = ns;
                double *nc = realloc(p->count, sizeof *nc * (size_t)cap_p);
                if (nc) p->count = nc;
                if (!ns || !nc) goto oom;
            }
            while (total_obs + 2 * n > cap_o) {
                cap_o *= 2;
                int *no = realloc(p->obs, sizeof *no * (size_t)cap_o);
                if (!no) goto oom;
                p->obs = no;
            }
            memcpy(p->obs + total_obs, buf, sizeof *buf * (size_t)(2 * n));
            total_obs += 2 * n;
            found = p->n++;
            p->start[p->n] = total_obs;
            p->count[found] = 0;
            table[slot] = found;
        }
        p->count[found] += 1;
        pattern_of[c] = found;
    }
    free(table);
    free(buf);
    return 0;
oom:
    free(table);
    free(buf);
    patterns_free(p);
    return -1;
}

// ---- EM over the patterns ---------------------------------------------------------

// The vote shares: T[p][l] = the share of the readers who gave l.
static void vote_shares(const Patterns *p, int S, double *post) {
    for (long q = 0; q < p->n; q++) {
        double *t = post + q * S;
        long n = (p->start[q + 1] - p->start[q]) / 2;
        for (int z = 0; z < S; z++) t[z] = 0;
        for (long k = 0; k < n; k++) t[p->obs[p->start[q] + 2 * k + 1]] += 1.0 / (double)n;
        if (n == 0) t[S - 1] = 1;   // nobody read it: no evidence of an object
    }
}

// M-step: the prior and the matrices from the posteriors, with smoothing.
static void m_step(const Patterns *p, int R, int S, const double *post, double alpha, double *prior, double *matrix) {
    for (int z = 0; z < S; z++) prior[z] = alpha;
    for (long i = 0; i < (long)R * S * S; i++) matrix[i] = alpha;
    for (long q = 0; q < p->n; q++) {
        const double *t = post + q * S;
        double cnt = p->count[q];
        for (int z = 0; z < S; z++) prior[z] += cnt * t[z];
        for (long k = p->start[q]; k < p->start[q + 1]; k += 2) {
            int r = p->obs[k], l = p->obs[k + 1];
            double *col = matrix + (long)r * S * S + l;
            for (int z = 0; z < S; z++) col[(long)z * S] += cnt * t[z];
        }
    }
    double sum = 0;
    for (int z = 0; z < S; z++) sum += prior[z];
    for (int z = 0; z < S; z++) prior[z] = sum > 0 ? prior[z] / sum : 1.0 / S;
    for (long row = 0; row < (long)R * S; row++) {
        double *m = matrix + row * S, rs = 0;
        for (int l = 0; l < S; l++) rs += m[l];
        for (int l = 0; l < S; l++) m[l] = rs > 0 ? m[l] / rs : 1.0 / S;
    }
}

// E-step: each pattern's posterior and log-posterior (unnormalised by the evidence), and
// its log-evidence in ll[q]. log_prior (S) and log_matrix (R, S, S) are the logarithms.
static void e_step(const Patterns *p, int S, const double *log_prior, const double *log_matrix, double *post,
                   double *log_post, double *ll) {
    #pragma omp parallel for schedule(static) if (p->n > 4096)
    for (long q = 0; q < p->n; q++) {
        double *lp = log_post + q * S, *t = post + q * S;
        for (int z = 0; z < S; z++) lp[z] = log_prior[z];
        for (long k = p->start[q]; k < p->start[q + 1]; k += 2) {
            const double *col = log_matrix + (long)p->obs[k] * S * S + p->obs[k + 1];
            for (int z = 0; z < S; z++) lp[z] += col[(long)z * S];
        }
        double m = lp[0];
        for (int z = 1; z < S; z++) m = lp[z] > m ? lp[z] : m;
        double s = 0;
        for (int z = 0; z < S; z++) s += (t[z] = exp(lp[z] - m));
        for (int z = 0; z < S; z++) t[z] /= s;
        ll[q] = m + log(s);
    }
}

// ---- box spreads ------------------------------------------------------------------

// Coordinate q of a box: x1, y1, x2, y2.
static double box_coord(Box b, int q) { return q == 0 ? b.x1 : q == 1 ? b.y1 : q == 2 ? b.x2 : b.y2; }

// The spreads' inputs that do not change between iterations: each box's coordinates
// relative to its cluster's mean side (rel, (M, 4)) and each cluster's P(real) (exists).
static void spread_inputs(const EmData *d, const EmFit *fit, double *rel, double *exists) {
    int K = fit->K, S = K + 1;
    #pragma omp parallel for schedule(static) if (d->n_clusters > 20000)
    for (long c = 0; c < d->n_clusters; c++) {
        long a = d->member_start[c], b = d->member_start[c + 1];
        exists[c] = 1 - fit->post[fit->pattern_of[c] * S + K];
        double side[2] = { 0, 0 };
        for (long m = a; m < b; m++) {
            side[0] += box_width(d->member_box[m]) / (double)(b - a);
            side[1] += box_height(d->member_box[m]) / (double)(b - a);
        }
        for (long m = a; m < b; m++)
            for (int q = 0; q < 4; q++) rel[m * 4 + q] = box_coord(d->member_box[m], q) / side[q & 1];
    }
}

// Adds block [c0, c1)'s sums for the spreads: per (annotator, coordinate) the weighted
// squared error against the other boxes' precision-weighted mean (e2), the weight (w),
// and the weighted variance of that mean (v); and the boxes counted per annotator (n).
// prec (R, 4) is 1 / spread^2.
static void spread_sums(const EmData *d, const double *rel, const double *exists, const double *prec, long c0, long c1,
                        double *e2, double *w, double *v, long *n) {
    for (long c = c0; c < c1; c++) {
        long a = d->member_start[c], b = d->member_start[c + 1];
        if (b - a < 2) continue;
        double ex = exists[c];
        for (int q = 0; q < 4; q++) {
            double sw = 0, swx = 0;   // the cluster's precisions, and precision-weighted coordinates
            for (long m = a; m < b; m++) {
                double pr = prec[d->member_annotator[m] * 4 + q];
                sw += pr;
                swx += rel[m * 4 + q] * pr;
            }
            for (long m = a; m < b; m++) {
                int i = d->member_annotator[m] * 4 + q;
                double x = rel[m * 4 + q], pr = prec[i], inv_rest = 1 / (sw - pr), err = x - (swx - x * pr) * inv_rest;
                e2[i] += ex * err * err;
                w[i] += ex;
                v[i] += ex * inv_rest;
            }
        }
        for (long m = a; m < b; m++) n[d->member_annotator[m]]++;
    }
}

static int fit_spreads(const EmData *d, EmFit *fit) {
    int R = fit->R;
    for (long i = 0; i < (long)R * 4; i++) fit->spread[i] = 0.1;
    if (!d->member_box || R == 0 || d->n_clusters == 0) return 0;
    long blocks = (d->n_clusters + SPREAD_BLOCK - 1) / SPREAD_BLOCK, M = d->member_start[d->n_clusters];
    size_t per = ((size_t)R * 4 * 3 + 7) / 8 * 8;   // whole cache lines: no two threads write one line
    double *part = aligned_alloc(64, sizeof *part * per * (size_t)blocks), *tot = malloc(sizeof *tot * per);
    size_t per_n = ((size_t)R + 7) / 8 * 8;
    long *part_n = aligned_alloc(64, sizeof *part_n * per_n * (size_t)blocks);
    double *rel = malloc(sizeof *rel * (size_t)(M + 1) * 4), *exists = malloc(sizeof *exists * (size_t)d->n_clusters);
    double *prec = malloc(sizeof *prec * (size_t)R * 4);
    int rc = -1;
    if (!part || !part_n || !tot || !rel || !exists || !prec) goto done;
    spread_inputs(d, fit, rel, exists);
    for (int it = 0; it < 100; it++) {
        for (long i = 0; i < (long)R * 4; i++) prec[i] = 1 / (fit->spread[i] * fit->spread[i]);
        #pragma omp parallel for schedule(dynamic, 1) if (blocks > 4)
        for (long b = 0; b < blocks; b++) {
            double *pb = part + per * (size_t)b;
            long *nb = part_n + per_n * (size_t)b;
            memset(pb, 0, sizeof *pb * per);
            memset(nb, 0, sizeof *nb * (size_t)R);
            long c1 = (b + 1) * SPREAD_BLOCK < d->n_clusters ? (b + 1) * SPREAD_BLOCK : d->n_clusters;
            spread_sums(d, rel, exists, prec, b * SPREAD_BLOCK, c1, pb, pb + R * 4, pb + R * 8, nb);
        }
        memset(tot, 0, sizeof *tot * per);
        memset(fit->spread_n, 0, sizeof *fit->spread_n * (size_t)R);
        for (long b = 0; b < blocks; b++) {
            for (size_t i = 0; i < per; i++) tot[i] += part[per * (size_t)b + i];
            for (int r = 0; r < R; r++) fit->spread_n[r] += part_n[per_n * (size_t)b + (size_t)r];
        }
        double change = 0;
        for (long i = 0; i < (long)R * 4; i++) {
            double e2 = tot[i], w = tot[R * 4 + i], v = tot[R * 8 + i];
            if (!(w > 0)) continue;
            double var = (e2 - v) / w, s = var > EM_MIN_SPREAD * EM_MIN_SPREAD ? sqrt(var) : EM_MIN_SPREAD;
            double rel_change = fabs(s - fit->spread[i]) / fit->spread[i];
            change = rel_change > change ? rel_change : change;
            fit->spread[i] = s;
        }
        fit->spread_iterations = it + 1;
        if (change <= 1e-6) break;
    }
    rc = 0;
done:
    free(part); free(part_n); free(tot); free(rel); free(exists); free(prec);
    return rc;
}

// ---- the fit ----------------------------------------------------------------------

int em_fit(const EmData *d, const EmOptions *o, EmFit *fit, char *err, size_t errn) {
    memset(fit, 0, sizeof *fit);
    if (check_data(d, err, errn) != 0) return -1;
    int K = d->n_classes, R = d->n_annotators, S = K + 1;
    fit->K = K;
    fit->R = R;
    Patterns p;
    fit->pattern_of = malloc(sizeof *fit->pattern_of * (size_t)(d->n_clusters + 1));
    if (!fit->pattern_of || build_patterns(d, &p, fit->pattern_of) != 0) {
        free(fit->pattern_of);
        fit->pattern_of = NULL;
        snprintf(err, errn, "out of memory");
        return -1;
    }
    fit->n_patterns = p.n;
    size_t RSS = (size_t)(R ? R : 1) * (size_t)S * (size_t)S, PS = (size_t)(p.n ? p.n : 1) * (size_t)S;
    fit->prior = malloc(sizeof(double) * (size_t)S);
    fit->matrix = malloc(sizeof(double) * RSS);
    fit->spread = malloc(sizeof(double) * (size_t)(R ? R : 1) * 4);
    fit->spread_n = calloc((size_t)(R ? R : 1), sizeof(long));
    fit->boxes = calloc((size_t)(R ? R : 1), sizeof(long));
    fit->clusters_read = calloc((size_t)(R ? R : 1), sizeof(long));
    fit->post = malloc(sizeof(double) * PS);
    fit->log_post = malloc(sizeof(double) * PS);
    double *log_prior = malloc(sizeof(double) * (size_t)S), *log_matrix = malloc(sizeof(double) * RSS);
    double *ll = malloc(sizeof(double) * (size_t)(p.n ? p.n : 1));
    int rc = 0;
    if (!fit->prior || !fit->matrix || !fit->spread || !fit->spread_n || !fit->boxes || !fit->clusters_read ||
        !fit->post || !fit->log_post || !log_prior || !log_matrix || !ll) {
        rc = -1;
        goto done;
    }
    for (long q = 0; q < p.n; q++)
        for (long k = p.start[q]; k < p.start[q + 1]; k += 2) {
            fit->clusters_read[p.obs[k]] += (long)p.count[q];
            if (p.obs[k + 1] < K) fit->boxes[p.obs[k]] += (long)p.count[q];
        }

    vote_shares(&p, S, fit->post);
    double prev = 0;
    for (int it = 1; it <= o->max_iter; it++) {
        m_step(&p, R, S, fit->post, o->smoothing, fit->prior, fit->matrix);
        for (int z = 0; z < S; z++) log_prior[z] = log(fit->prior[z]);
        for (size_t i = 0; i < (size_t)R * S * S; i++) log_matrix[i] = log(fit->matrix[i]);
        e_step(&p, S, log_prior, log_matrix, fit->post, fit->log_post, ll);
        double total = 0;
        for (long q = 0; q < p.n; q++) total += p.count[q] * ll[q];
        fit->iterations = it;
        fit->log_likelihood = total;
        if (it > 1 && fabs(total - prev) <= o->tol * fabs(total)) break;
        prev = total;
    }
    if (fit_spreads(d, fit) != 0) rc = -1;
done:
    free(log_prior);
    free(log_matrix);
    free(ll);
    patterns_free(&p);
    if (rc != 0) {
        em_free(fit);
        snprintf(err, errn, "out of memory");
    }
    return rc;
}

void em_free(EmFit *fit) {
    free(fit->prior); free(fit->matrix); free(fit->spread); free(fit->spread_n); free(fit->boxes);
    free(fit->clusters_read); free(fit->pattern_of); free(fit->post); free(fit->log_post);
    memset(fit, 0, sizeof *fit);
}

const double *em_posterior(const EmFit *fit, long c) { return fit->post + fit->pattern_of[c] * (fit->K + 1); }

int em_class_probs(const EmFit *fit, long c, double *out) {
    int K = fit->K, best = 0;
    const double *lp = fit->log_post + fit->pattern_of[c] * (K + 1);
    for (int z = 1; z < K; z++)
        if (lp[z] > lp[best]) best = z;
    double s = 0;
    for (int z = 0; z < K; z++) s += (out[z] = exp(lp[z] - lp[best]));
    for (int z = 0; z < K; z++) out[z] /= s;
    return best;
}

Box em_fused_box(const EmData *d, const EmFit *fit, long c) {
    long a = d->member_start[c], b = d->member_start[c + 1];
    if (b - a == 1) return d->member_box[a];
    double sum[4] = { 0, 0, 0, 0 }, wsum[4] = { 0, 0, 0, 0 };
    for (long m = a; m < b; m++)
        for (int q = 0; q < 4; q++) {
            double s = fit->spread[d->member_annotator[m] * 4 + q], wt = 1 / (s * s);
            sum[q] += wt * box_coord(d->member_box[m], q);
            wsum[q] += wt;
        }
    return (Box){ sum[0] / wsum[0], sum[1] / wsum[1], sum[2] / wsum[2], sum[3] / wsum[3] };
}

// P(z | real) weighted sum of one column of annotator r's real-class rows: col = z (the
// diagonal) or col = K (misses).
static double real_weighted(const EmFit *fit, int r, int diagonal) {
    int K = fit->K, S = K + 1;
    double real = 0, acc = 0;
    for (int z = 0; z < K; z++) {
        real += fit->prior[z];
        acc += fit->prior[z] * fit->matrix[((long)r * S + z) * S + (diagonal ? z : K)];
    }
    return real > 0 ? acc / real : 0;
}

double em_accuracy(const EmFit *fit, int r) { return real_weighted(fit, r, 1); }
double em_miss_rate(const EmFit *fit, int r) { return real_weighted(fit, r, 0); }
