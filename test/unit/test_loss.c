// YOLOv5's loss with EARL weights: target assignment, gradients against finite
// differences (objectness targets held, as the loss holds them), soft class targets
// (one-hot ones reproduce the present loss bit for bit), and EARL's scaling.
#include <stdlib.h>

#include "check.h"
#include "loss.h"
#include "rng.h"

static double total(Net *n, const Target *t, int nt, const LossOptions *o) {
    LossParts lp;
    yolo_loss(n, t, nt, o, &lp, NULL);
    return lp.total;
}

// The largest relative error of the gradient of yolo_loss (options o) against central
// differences, over 40 entries of each level's Detect output (mostly ones the loss touches),
// with CIoU's alpha held at its value, as the gradient holds it. Adds to *checked.
static double worst_gradient_error(Net *n, const Target *t, int nt, const LossOptions *o, Rng *g, int *checked) {
    LossOptions ot = *o;
    LossParts lp;
    float alpha[256];
    ot.alpha = alpha;
    ot.hold_alpha = 0;
    yolo_loss(n, t, nt, &ot, &lp, NULL);
    ot.hold_alpha = 1;
    double worst = 0;
    for (int l = 0; l < NET_LEVELS; l++) {
        Node *d = &n->node[n->detect[l]];
        long m = 2L * d->C * d->H * d->W;
        float *grad = malloc(sizeof(float) * (size_t)m);
        memcpy(grad, d->dout, sizeof(float) * (size_t)m);
        for (int k = 0; k < 40; k++) {
            // mostly entries the term touches
            long i = rng_int(g, 0, (int)m - 1);
            if (k % 4)
                for (int tries = 0; tries < 500 && grad[i] == 0; tries++) i = rng_int(g, 0, (int)m - 1);
            float keep = d->out[i];
            double h = 1e-2;
            d->out[i] = (float)(keep + h);
            double lpl = total(n, t, nt, &ot);
            d->out[i] = (float)(keep - h);
            double lmi = total(n, t, nt, &ot);
            d->out[i] = keep;
            double num = (lpl - lmi) / (2 * h), err = fabs(num - grad[i]) / fmax(fabs(num), 1e-4);
            if (err > worst) worst = err;
            if (err > 2e-2)
                fprintf(stderr, "level %d channel %ld: numeric %g, backward %g\n", l, (i / ((long)d->H * d->W)) % d->C, num, grad[i]);
            (*checked)++;
        }
        free(grad);
    }
    return worst;
}

int main(void) {
    Net n;
    NetConfig cfg = { 0.0625f, 0.33f, 1, 3, 64 };
    CHECK(net_build(&n, &cfg, 5) == 0);
    CHECK(net_set_batch(&n, 2) == 0);
    Rng g;
    rng_seed(&g, 9, 1);
    // random Detect outputs stand in for the network
    for (int l = 0; l < NET_LEVELS; l++) {
        Node *d = &n.node[n.detect[l]];
        for (long i = 0; i < 2L * d->C * d->H * d->W; i++) d->out[i] = (float)rng_normal(&g);
    }
    Target t[] = { { 0, 1, 0.30f, 0.40f, 0.20f, 0.30f, 1.0f, NULL }, { 0, 2, 0.72f, 0.55f, 0.35f, 0.25f, 0.5f, NULL },
                   { 1, 0, 0.51f, 0.52f, 0.6f, 0.7f, 2.0f / 3, NULL }, { 1, 1, 0.1f, 0.9f, 0.05f, 0.08f, 1.0f, NULL } };
    LossOptions o;
    loss_defaults(&o);
    LossParts lp;
    float *tobj[NET_LEVELS];
    for (int l = 0; l < NET_LEVELS; l++) {
        Node *d = &n.node[n.detect[l]];
        tobj[l] = malloc(sizeof(float) * 2 * NET_ANCHORS * (size_t)d->H * d->W);
    }
    CHECK(yolo_loss(&n, t, 4, &o, &lp, tobj) == 0);
    printf("loss: box %.5f obj %.5f cls %.5f total %.5f, %d assignments\n", lp.box, lp.obj, lp.cls, lp.total, lp.assigned);
    CHECK(lp.assigned > 4 && lp.assigned < 256 && lp.box > 0 && lp.obj > 0 && lp.cls > 0);
    CHECK_NEAR(lp.total, lp.box + lp.obj + lp.cls, 1e-9);

    // gradients, each term on its own (the others' rounding would drown small entries),
    // with the objectness targets held at their values; then the class term of soft targets
    Target soft[4];
    float probs[4][3];
    Rng gp;   // its own stream: the entries checked for the other terms stay those drawn before
    rng_seed(&gp, 11, 2);
    for (int i = 0; i < 4; i++) {
        double u[3], su = 0;
        for (int c = 0; c < 3; c++) su += u[c] = rng_uniform(&gp) + 0.05;
        for (int c = 0; c < 3; c++) probs[i][c] = (float)(u[c] / su);
        soft[i] = t[i];
        soft[i].probs = probs[i];
    }
    double worst = 0;
    int checked = 0;
    for (int term = 0; term < 4; term++) {
        LossOptions ot = o;
        ot.box_gain = term == 0 ? 0.05f : 0;
        ot.obj_gain = term == 1 ? 1.0f : 0;
        ot.cls_gain = term >= 2 ? 0.5f : 0;
        for (int l = 0; l < NET_LEVELS; l++) ot.frozen_tobj[l] = tobj[l];
        double e = worst_gradient_error(&n, term == 3 ? soft : t, 4, &ot, &g, &checked);
        printf("loss gradient, %s: largest relative error %.2e\n", term == 0 ? "box" : term == 1 ? "objectness" : term == 2 ? "class" : "class, soft targets", e);
        if (e > worst) worst = e;
    }
    printf("loss gradient: %d entries checked, largest relative error %.2e\n", checked, worst);
    CHECK(worst < 2e-2);

    // one-hot probs are the present targets: the same loss and gradients, bit for bit
    {
        float onehot[4][3] = { { 0 } };
        Target oh[4];
        for (int i = 0; i < 4; i++) {
            onehot[i][t[i].cls] = 1;
            oh[i] = t[i];
            oh[i].probs = onehot[i];
        }
        LossParts a1, a2;
        float *g0[NET_LEVELS];
        CHECK(yolo_loss(&n, t, 4, &o, &a1, NULL) == 0);
        for (int l = 0; l < NET_LEVELS; l++) {
            Node *d = &n.node[n.detect[l]];
            size_t m = sizeof(float) * 2 * (size_t)d->C * d->H * d->W;
            g0[l] = malloc(m);
            memcpy(g0[l], d->dout, m);
        }
        CHECK(yolo_loss(&n, oh, 4, &o, &a2, NULL) == 0);
        CHECK(a1.box == a2.box && a1.obj == a2.obj && a1.cls == a2.cls && a1.total == a2.total && a1.assigned == a2.assigned);
        for (int l = 0; l < NET_LEVELS; l++) {
            Node *d = &n.node[n.detect[l]];
            CHECK(memcmp(g0[l], d->dout, sizeof(float) * 2 * (size_t)d->C * d->H * d->W) == 0);
            free(g0[l]);
        }
    }

    // BCE is affine in its target, so a soft target's class loss and gradients are the
    // probability-weighted means of its one-hot ones (the probs are used, and as weights)
    {
        float p3[3] = { 0.2f, 0.7f, 0.1f }, e3[3][3] = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } };
        Target st = { 0, 1, 0.45f, 0.55f, 0.3f, 0.35f, 0.8f, p3 };
        LossOptions oc = o;
        oc.box_gain = oc.obj_gain = 0;
        Node *d0 = &n.node[n.detect[0]];
        long m0 = 2L * d0->C * d0->H * d0->W;
        double want = 0, got;
        double *gwant = calloc((size_t)m0, sizeof *gwant);
        for (int k = 0; k < 3; k++) {
            Target ek = st;   // one-hot on class k, written both ways
            ek.cls = k;
            ek.probs = e3[k];
            yolo_loss(&n, &ek, 1, &oc, &lp, NULL);
            want += p3[k] * lp.cls;
            for (long i = 0; i < m0; i++) gwant[i] += p3[k] * d0->dout[i];
        }
        yolo_loss(&n, &st, 1, &oc, &lp, NULL);
        got = lp.cls;
        double gerr = 0, gmax = 0;
        for (long i = 0; i < m0; i++) {
            gerr = fmax(gerr, fabs(d0->dout[i] - gwant[i]));
            gmax = fmax(gmax, fabs(gwant[i]));
        }
        printf("soft targets: class loss %.6f, the mean of the one-hot ones %.6f; gradient error %.2e of %.2e\n", got, want, gerr, gmax);
        CHECK(want > 0 && gmax > 0);
        CHECK_NEAR(got, want, 1e-6 * want);
        CHECK(gerr <= 1e-6 * gmax);
        free(gwant);
    }

    // EARL: a target's box and class gradients scale with its weight
    Target one = { 0, 1, 0.5f, 0.5f, 0.3f, 0.3f, 1.0f, NULL };
    yolo_loss(&n, &one, 1, &o, &lp, NULL);
    Node *d0 = &n.node[n.detect[0]];
    long m0 = 2L * d0->C * d0->H * d0->W;
    float *g1 = malloc(sizeof(float) * (size_t)m0);
    memcpy(g1, d0->dout, sizeof(float) * (size_t)m0);
    double box1 = lp.box, cls1 = lp.cls, obj1 = lp.obj;
    one.weight = 0.25f;
    yolo_loss(&n, &one, 1, &o, &lp, NULL);
    CHECK_NEAR(lp.box, 0.25 * box1, 1e-6 * box1);
    CHECK_NEAR(lp.cls, 0.25 * cls1, 1e-6 * cls1);
    CHECK_NEAR(lp.obj, obj1, 1e-9);   // objectness is not weighted by default
    int no = 5 + cfg.classes, scaled = 0, bad = 0;
    long hw = (long)d0->H * d0->W;
    for (long i = 0; i < m0; i++) {
        int k = (int)((i / hw) % no);
        if (k == 4 || g1[i] == 0) continue;   // objectness channels, and untouched entries
        scaled++;
        if (fabsf(d0->dout[i] - 0.25f * g1[i]) > 1e-6f * fabsf(g1[i]) + 1e-12f) bad++;
    }
    CHECK(scaled > 0 && bad == 0);
    // --weight-obj: the positive objectness targets are weighted too
    o.weight_obj = 1;
    yolo_loss(&n, &one, 1, &o, &lp, NULL);
    CHECK(fabs(lp.obj - obj1) > 1e-9);
    // data-parallel: each image alone, normalised by the whole batch's images and
    // assignments (loss.h), gets the whole batch's gradients bit for bit, and the parts of the
    // loss add up to the whole batch's
    {
        o.weight_obj = 0;
        LossParts whole;
        CHECK(yolo_loss(&n, t, 4, &o, &whole, NULL) == 0);
        int counts[2][NET_LEVELS], sum[NET_LEVELS] = { 0 };
        Net half;
        CHECK(net_build(&half, &cfg, 5) == 0 && net_set_batch(&half, 1) == 0);
        Target part[2][4];
        int np[2] = { 0, 0 };
        for (int i = 0; i < 4; i++) {
            part[t[i].image][np[t[i].image]] = t[i];
            part[t[i].image][np[t[i].image]++].image = 0;
        }
        for (int b = 0; b < 2; b++) {
            CHECK(loss_count_assigned(&half, part[b], np[b], &o, counts[b]) == 0);
            for (int l = 0; l < NET_LEVELS; l++) sum[l] += counts[b][l];
        }
        LossOptions go = o;
        go.norm_batch = 2;
        memcpy(go.norm_assigned, sum, sizeof sum);
        double parts = 0;
        int same = 1;
        for (int b = 0; b < 2; b++) {
            for (int l = 0; l < NET_LEVELS; l++) {
                Node *d = &n.node[n.detect[l]], *h = &half.node[half.detect[l]];
                memcpy(h->out, d->out + (size_t)b * d->C * d->H * d->W, sizeof(float) * (size_t)d->C * d->H * d->W);
            }
            LossParts lb;
            CHECK(yolo_loss(&half, part[b], np[b], &go, &lb, NULL) == 0);
            parts += lb.total;
            for (int l = 0; l < NET_LEVELS; l++) {
                Node *d = &n.node[n.detect[l]], *h = &half.node[half.detect[l]];
                size_t m = (size_t)d->C * d->H * d->W;
                same &= memcmp(h->dout, d->dout + b * m, sizeof(float) * m) == 0;
            }
        }
        CHECK(same);
        CHECK_NEAR(parts, whole.total, 1e-12 * whole.total);
        net_free(&half);
    }
    free(g1);
    for (int l = 0; l < NET_LEVELS; l++) free(tobj[l]);
    net_free(&n);
    return check_report("loss");
}
