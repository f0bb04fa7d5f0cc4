// Decoding the Detect outputs into boxes: the best class (all logits negative, as they
// are early in training), the box decoding and its frame, the score, the confidence
// threshold, class-wise NMS and max_det.
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "model.h"

static float logit(double p) { return (float)log(p / (1 - p)); }

// Sets one prediction: level l, anchor a, cell (x, y) of image 0.
static void put(Net *n, int l, int a, int x, int y, const float raw[4], float obj, const float *cls) {
    Node *d = &n->node[n->detect[l]];
    int no = 5 + n->cfg.classes;
    long hw = (long)d->H * d->W, i = (long)y * d->W + x;
    float *p = d->out + (size_t)a * no * hw;
    for (int k = 0; k < 4; k++) p[k * hw + i] = raw[k];
    p[4 * hw + i] = obj;
    for (int c = 0; c < n->cfg.classes; c++) p[(5 + c) * hw + i] = cls[c];
}

int main(void) {
    Net n;
    NetConfig cfg = { 0.0625f, 0.33f, 1, 3, 64 };
    CHECK(net_build(&n, &cfg, 1) == 0);
    CHECK(net_set_batch(&n, 1) == 0);
    for (int l = 0; l < NET_LEVELS; l++) {
        Node *d = &n.node[n.detect[l]];
        for (long i = 0; i < (long)d->C * d->H * d->W; i++) d->out[i] = -20;   // nothing anywhere
    }
    Det out[16];
    CHECK(detect_boxes(&n, 0, 0.001f, 0.6f, 300, out, 16) == 0);

    // one box at level 0 (stride 8), anchor 1, cell (3, 2); raw 0 decodes to offset 0.5
    // and size anchor * 1; every class logit is negative, class 2 the largest
    float zero[4] = { 0, 0, 0, 0 }, cls[3] = { -4.0f, -3.0f, -2.5f };
    put(&n, 0, 1, 3, 2, zero, logit(0.8), cls);
    int k = detect_boxes(&n, 0, 0.001f, 0.6f, 300, out, 16);
    CHECK(k == 1);
    float aw = n.anchors[0][1][0], ah = n.anchors[0][1][1];
    CHECK(out[0].cls == 2);
    CHECK_NEAR(out[0].score, 0.8 / (1 + exp(2.5)), 1e-6);
    CHECK_NEAR((out[0].x1 + out[0].x2) / 2, (3 + 0.5) * 8, 1e-4);
    CHECK_NEAR((out[0].y1 + out[0].y2) / 2, (2 + 0.5) * 8, 1e-4);
    CHECK_NEAR(out[0].x2 - out[0].x1, aw, 1e-4);
    CHECK_NEAR(out[0].y2 - out[0].y1, ah, 1e-4);

    // a second, weaker box of the same class almost on top of it is suppressed; the same
    // box with another best class is kept (NMS is class-wise)
    float near[4] = { 0.05f, 0, 0, 0 }, cls0[3] = { 1.0f, -3.0f, -3.0f };
    put(&n, 0, 2, 3, 2, near, logit(0.5), cls);
    n.anchors[0][2][0] = aw;
    n.anchors[0][2][1] = ah;
    k = detect_boxes(&n, 0, 0.001f, 0.6f, 300, out, 16);
    CHECK(k == 1);
    put(&n, 0, 2, 3, 2, near, logit(0.5), cls0);
    k = detect_boxes(&n, 0, 0.001f, 0.6f, 300, out, 16);
    CHECK(k == 2);
    CHECK(out[0].score >= out[1].score);
    CHECK(out[1].cls == 0 || out[0].cls == 0);

    // the confidence threshold applies to objectness x class probability
    k = detect_boxes(&n, 0, 0.1f, 0.6f, 300, out, 16);
    CHECK(k == 1 && out[0].cls == 0);   // 0.5 * sigmoid(1) = 0.37 kept; 0.8 * sigmoid(-2.5) = 0.06 not
    // max_det keeps the best
    k = detect_boxes(&n, 0, 0.001f, 0.6f, 1, out, 16);
    CHECK(k == 1 && out[0].cls == 0);
    net_free(&n);
    return check_report("detect");
}
