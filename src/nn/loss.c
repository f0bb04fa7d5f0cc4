#include "loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss_math.h"

static const float BALANCE[NET_LEVELS] = { 4.0f, 1.0f, 0.4f };
static const int STRIDE[NET_LEVELS] = { 8, 16, 32 };

void loss_defaults(LossOptions *o) {
    memset(o, 0, sizeof *o);
    o->anchor_t = 4.0f;
    o->box_gain = 0.05f;
    o->cls_gain = 0.5f;
    o->obj_gain = 1.0f;
}

typedef struct {
    int b, a, gj, gi;        // image, anchor, cell row and column
    float tbox[4];           // target: offset within the cell (x, y) and size (w, h), grid units
    int cls;
    float weight;
} Assign;

// YOLOv5's build_targets for one level: up to 3 cells per matching anchor.
static int assign_level(const Net *net, int l, const Target *t, int nt, float anchor_t, Assign *out) {
    int H = net->node[net->detect[l]].H, W = net->node[net->detect[l]].W, n = 0;
    const float g = 0.5f;
    static const int off[5][2] = { { 0, 0 }, { 1, 0 }, { 0, 1 }, { -1, 0 }, { 0, -1 } };
    for (int k = 0; k < 5; k++)
        for (int a = 0; a < NET_ANCHORS; a++) {
            float aw = net->anchors[l][a][0] / STRIDE[l], ah = net->anchors[l][a][1] / STRIDE[l];
            for (int i = 0; i < nt; i++) {
                float gx = t[i].x * W, gy = t[i].y * H, gw = t[i].w * W, gh = t[i].h * H;
                float rw = gw / aw, rh = gh / ah;
                float worst = fmaxf(fmaxf(rw, 1 / rw), fmaxf(rh, 1 / rh));
                if (!(worst < anchor_t)) continue;
                float ix = W - gx, iy = H - gy;   // distances from the far edges
                int use;
                switch (k) {
                case 0: use = 1; break;
                case 1: use = fmodf(gx, 1) < g && gx > 1; break;     // the cell to the left
                case 2: use = fmodf(gy, 1) < g && gy > 1; break;     // above
                case 3: use = fmodf(ix, 1) < g && ix > 1; break;     // to the right
                default: use = fmodf(iy, 1) < g && iy > 1; break;    // below
                }
                if (!use) continue;
                float cx = gx - off[k][0] * g, cy = gy - off[k][1] * g;
                int gi = (int)cx, gj = (int)cy;
                if (gi < 0) gi = 0;
                if (gi > W - 1) gi = W - 1;
                if (gj < 0) gj = 0;
                if (gj > H - 1) gj = H - 1;
                // the box target is relative to the (clamped) cell, as YOLOv5 computes it
                out[n++] = (Assign){ t[i].image, a, gj, gi, { gx - gi, gy - gj, gw, gh }, t[i].cls, t[i].weight };
            }
        }
    return n;
}

int yolo_loss(Net *net, const Target *t, int nt, const LossOptions *o, LossParts *parts, float *tobj_out[NET_LEVELS]) {
    memset(parts, 0, sizeof *parts);
    int B = net->batch, nc = net->cfg.classes, no = 5 + nc;
    float box_gain = o->box_gain * 3.0f / NET_LEVELS;
    float cls_gain = o->cls_gain * nc / 80.0f * 3.0f / NET_LEVELS;
    float obj_gain = o->obj_gain * (net->cfg.size / 640.0f) * (net->cfg.size / 640.0f) * 3.0f / NET_LEVELS;
    Assign *as = malloc(sizeof *as * (size_t)(nt * 5 * NET_ANCHORS + 1));
    if (!as) return -1;
    double lbox = 0, lobj = 0, lcls = 0;
    int alpha_at = 0;
    for (int l = 0; l < NET_LEVELS; l++) {
        Node *d = &net->node[net->detect[l]];
        int H = d->H, W = d->W;
        long hw = (long)H * W, cells = (long)B * NET_ANCHORS * hw;
        const float *p = d->out;
        float *dp = d->dout;
        memset(dp, 0, sizeof(float) * (size_t)B * d->C * hw);
        float *tobj = calloc((size_t)cells, sizeof *tobj), *wobj = NULL;
        if (!tobj) { free(as); return -1; }
        if (o->weight_obj) {
            wobj = malloc(sizeof *wobj * (size_t)cells);
            for (long i = 0; i < cells; i++) wobj[i] = 1;
        }
        int n = assign_level(net, l, t, nt, o->anchor_t, as);
        parts->assigned += n;
        double sbox = 0, scls = 0;
        for (int i = 0; i < n; i++) {
            const Assign *s = &as[i];
            // the prediction at the assigned anchor and cell: element k at channel a*no + k
            const float *pk = p + ((size_t)s->b * d->C + (size_t)s->a * no) * hw + (size_t)s->gj * W + s->gi;
            float *dk = dp + ((size_t)s->b * d->C + (size_t)s->a * no) * hw + (size_t)s->gj * W + s->gi;
            float raw[4] = { pk[0], pk[hw], pk[2 * hw], pk[3 * hw] }, pbox[4], dbox[4], g4[4];
            float anchor[2] = { net->anchors[l][s->a][0] / STRIDE[l], net->anchors[l][s->a][1] / STRIDE[l] };
            box_decode_f(raw, anchor, pbox, dbox);
            float *al = o->alpha ? &o->alpha[alpha_at++] : NULL;
            float iou = ciou_alpha_f(pbox, s->tbox, g4, al && o->hold_alpha ? *al : -1, al);
            sbox += (1.0 - iou) * s->weight;
            float cb = -box_gain * B * s->weight / n;   // d loss / d ciou
            for (int q = 0; q < 4; q++) dk[q * hw] += cb * g4[q] * dbox[q];
            long cell = ((long)s->b * NET_ANCHORS + s->a) * hw + (long)s->gj * W + s->gi;
            tobj[cell] = iou > 0 ? iou : 0;   // held constant; the last assignment wins
            if (wobj) wobj[cell] = s->weight;
            if (nc > 1) {
                for (int c = 0; c < nc; c++) {
                    float dx;
                    scls += s->weight * bce_logits_f(pk[(5 + c) * hw], c == s->cls ? 1.0f : 0.0f, &dx);
                    dk[(5 + c) * hw] += cls_gain * B * s->weight * dx / ((float)n * nc);
                }
            }
        }
        if (n) {
            lbox += sbox / n;
            if (nc > 1) lcls += scls / ((double)n * nc);
        }
        if (o->frozen_tobj[l]) memcpy(tobj, o->frozen_tobj[l], sizeof(float) * (size_t)cells);
        // objectness over every cell of the level
        double sobj = 0;
        float go = obj_gain * BALANCE[l] * B / (float)cells;
        for (int b = 0; b < B; b++)
            for (int a = 0; a < NET_ANCHORS; a++) {
                const float *po = p + ((size_t)b * d->C + (size_t)a * no + 4) * hw;
                float *dpo = dp + ((size_t)b * d->C + (size_t)a * no + 4) * hw;
                const float *to = tobj + ((long)b * NET_ANCHORS + a) * hw;
                const float *wo = wobj ? wobj + ((long)b * NET_ANCHORS + a) * hw : NULL;
                for (long i = 0; i < hw; i++) {
                    float dx, w = wo ? wo[i] : 1;
                    sobj += w * bce_logits_f(po[i], to[i], &dx);
                    dpo[i] += go * w * dx;
                }
            }
        lobj += sobj / cells * BALANCE[l];
        if (tobj_out && tobj_out[l]) memcpy(tobj_out[l], tobj, sizeof(float) * (size_t)cells);
        free(tobj);
        free(wobj);
    }
    free(as);
    parts->box = lbox * box_gain * B;
    parts->obj = lobj * obj_gain * B;
    parts->cls = lcls * cls_gain * B;
    parts->total = parts->box + parts->obj + parts->cls;
    return 0;
}
