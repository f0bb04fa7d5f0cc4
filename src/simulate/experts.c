#include "experts.h"

#include <math.h>

void expert_draw_matrix(Rng *r, const ExpertParams *ep, double A[N_COLS][N_COLS]) {
    for (int i = 0; i < N_COLS; i++) {
        double alpha = ep->p + ep->sigma * rng_normal(r);
        double d = fmin(fmax(ep->zeta, alpha), 1.0);
        double ones[N_COLS - 1], w[N_COLS - 1];
        for (int j = 0; j < N_COLS - 1; j++) ones[j] = 1.0;
        rng_dirichlet(r, ones, N_COLS - 1, w);
        double rest = 1.0 - d, m = 0.0, even = 1.0 / (N_COLS - 1);
        for (int j = 0; j < N_COLS - 1; j++) m = fmax(m, w[j]);
        // Mixing w with the even spread by t lowers the largest share linearly:
        // rest * ((1-t) m + t even) must stay below d (with a small margin).
        double t = 0.0, target = d * (1.0 - 1e-6);
        if (rest > 0.0 && rest * m >= target) {
            if (rest * even >= target) t = 1.0;
            else t = fmin(1.0, (rest * m - target) / (rest * (m - even)));
        }
        int k = 0;
        for (int j = 0; j < N_COLS; j++) {
            if (j == i) { A[i][j] = d; continue; }
            A[i][j] = rest * ((1.0 - t) * w[k] + t * even);
            k++;
        }
    }
}

static int draw_from(Rng *r, const double *p, int n) {
    double total = 0.0;
    for (int j = 0; j < n; j++) total += p[j];
    double u = rng_uniform(r) * total, acc = 0.0;
    for (int j = 0; j < n; j++) {
        acc += p[j];
        if (u < acc) return j;
    }
    for (int j = n - 1; j >= 0; j--)   // rounding left u at the top: last non-zero column
        if (p[j] > 0.0) return j;
    return n - 1;
}

int expert_draw_label(Rng *r, const double A[N_COLS][N_COLS], int truth) {
    return draw_from(r, A[truth], N_COLS);
}

int expert_draw_false_label(Rng *r, const double A[N_COLS][N_COLS]) {
    double p[N_DIGITS], total = 0.0;
    for (int j = 0; j < N_DIGITS; j++) { p[j] = A[NO_OBJ][j]; total += p[j]; }
    if (total <= 0.0) return rng_int(r, 0, N_DIGITS - 1);
    return draw_from(r, p, N_DIGITS);
}

static double round2(double v) { return round(v * 100.0) / 100.0; }

Box expert_perturb_box(Rng *r, Box truth, double min_iou, double jitter, double w, double h) {
    if (min_iou >= 1.0 || jitter <= 0.0) return truth;
    double sw = jitter * box_width(truth), sh = jitter * box_height(truth);
    for (int tries = 0; tries < 10000; tries++) {
        Box b = { truth.x1 + sw * rng_normal(r), truth.y1 + sh * rng_normal(r),
                  truth.x2 + sw * rng_normal(r), truth.y2 + sh * rng_normal(r) };
        box_clamp(&b, w, h);
        b = (Box){ round2(b.x1), round2(b.y1), round2(b.x2), round2(b.y2) };
        if (b.x1 < b.x2 && b.y1 < b.y2 && box_iou(b, truth) > min_iou) return b;
    }
    return truth;
}
