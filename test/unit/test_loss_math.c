// The loss's per-element math against finite differences (double) and hand values.
#include "check.h"
#include "loss_math.h"
#include "rng.h"

int main(void) {
    Rng g;
    rng_seed(&g, 12, 0);
    const double h = 1e-7;
    double worst = 0;
    // BCE with logits: value and derivative
    for (int i = 0; i < 1000; i++) {
        double x = rng_range(&g, -30, 30), t = rng_uniform(&g), d;
        double l = bce_logits_d(x, t, &d);
        double ref = -(t * log(sigmoid_d(x)) + (1 - t) * log(1 - sigmoid_d(x)));
        if (fabs(x) < 15) CHECK_NEAR(l, ref, 1e-9);
        double num = (bce_logits_d(x + h, t, NULL) - bce_logits_d(x - h, t, NULL)) / (2 * h);
        worst = fmax(worst, fabs(num - d));
    }
    CHECK(worst < 1e-6);
    CHECK_NEAR(bce_logits_d(0, 1, NULL), log(2.0), 1e-15);

    // CIoU: identical boxes give 1; hand value for disjoint boxes; gradient vs differences
    double a[4] = { 5, 5, 2, 4 }, grad[4];
    CHECK_NEAR(ciou_d(a, a, grad), 1.0, 1e-6);
    // disjoint, same shape: iou 0, v 0, rho2 = 16 (centres 4 apart), enclosing 6 x 4
    double p[4] = { 1, 2, 2, 4 }, t[4] = { 5, 2, 2, 4 };
    CHECK_NEAR(ciou_d(p, t, NULL), -16.0 / (36 + 16), 1e-6);
    double gworst = 0;
    for (int i = 0; i < 3000; i++) {
        double q[4] = { rng_range(&g, 0, 10), rng_range(&g, 0, 10), rng_range(&g, 0.5, 6), rng_range(&g, 0.5, 6) };
        double r[4] = { q[0] + rng_range(&g, -3, 3), q[1] + rng_range(&g, -3, 3), rng_range(&g, 0.5, 6), rng_range(&g, 0.5, 6) };
        // alpha is a constant of the gradient: differences with alpha held at q's value
        double alpha;
        ciou_alpha_d(q, r, grad, -1, &alpha);
        for (int k = 0; k < 4; k++) {
            double qp[4], qm[4];
            for (int j = 0; j < 4; j++) qp[j] = qm[j] = q[j];
            qp[k] += h;
            qm[k] -= h;
            double num = (ciou_alpha_d(qp, r, NULL, alpha, NULL) - ciou_alpha_d(qm, r, NULL, alpha, NULL)) / (2 * h);
            double err = fabs(num - grad[k]) / fmax(1e-4, fabs(num));
            if (err > gworst) gworst = err;
        }
    }
    printf("largest relative CIoU gradient error: %.2e\n", gworst);
    CHECK(gworst < 1e-4);

    // box decoding and its derivative
    double an[2] = { 1.5, 2.0 }, box[4], dd[4];
    double t0[4] = { 0, 0, 0, 0 };
    box_decode_d(t0, an, box, dd);
    CHECK_NEAR(box[0], 0.5, 1e-15);
    CHECK_NEAR(box[2], 1.5, 1e-15);   // (2 * 0.5)^2 * anchor
    CHECK_NEAR(box[3], 2.0, 1e-15);
    for (int i = 0; i < 200; i++) {
        double tt[4] = { rng_normal(&g), rng_normal(&g), rng_normal(&g), rng_normal(&g) }, bp[4], bm[4];
        box_decode_d(tt, an, box, dd);
        for (int k = 0; k < 4; k++) {
            double tp[4] = { tt[0], tt[1], tt[2], tt[3] }, tm[4] = { tt[0], tt[1], tt[2], tt[3] };
            tp[k] += h; tm[k] -= h;
            box_decode_d(tp, an, bp, NULL);
            box_decode_d(tm, an, bm, NULL);
            CHECK_NEAR((bp[k] - bm[k]) / (2 * h), dd[k], 1e-6);
        }
    }
    // the float build agrees
    float pf[4] = { 1, 2, 2, 4 }, tf[4] = { 5, 2, 2, 4 };
    CHECK_NEAR(ciou_f(pf, tf, NULL), -16.0 / 52, 1e-6);
    return check_report("loss_math");
}
