#include "loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss_math.h"

const float LOSS_BALANCE[NET_LEVELS] = { 4.0f, 1.0f, 0.4f };
static const int STRIDE[NET_LEVELS] = { 8, 16, 32 };

void loss_defaults(LossOptions *o) {
    memset(o, 0, sizeof *o);
    o->anchor_t = 4.0f;
    o->box_gain = 0.05f;
    o->cls_gain = 0.5f;
    o->obj_gain = 1.0f;
}

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
                out[n++] = (Assign){ t[i].image, a, gj, gi, { gx - gi, gy - gj, gw, gh }, t[i].cls, t[i].weight, t[i].probs };
            }
        }
    return n;
}

void loss_gains(const Net *net, const LossOptions *o, float gain[3]) {
    int nc = net->cfg.classes;
    gain[0] = o->box_gain * 3.0f / NET_LEVELS;
    gain[1] = o->obj_gain * (net->cfg.size / 640.0f) * (net->cfg.size / 640.0f) * 3.0f / NET_LEVELS;
    gain[2] = o->cls_gain * nc / 80.0f * 3.0f / NET_LEVELS;
}

void loss_sparse_free(LossSparse *s) {
    free(s->as); free(s->off); free(s->val); free(s->grad); free(s->cell); free(s->tobj); free(s->wobj);
    memset(s, 0, sizeof *s);
}

int loss_assign(const Net *net, const Target *t, int nt, const LossOptions *o, LossSparse *s) {
    int nc = net->cfg.classes, no = 5 + nc, cap = nt * 5 * NET_ANCHORS * NET_LEVELS + 1;
    s->per = 4 + (nc > 1 ? nc : 0);
    if (cap > s->cap) {
        loss_sparse_free(s);
        s->per = 4 + (nc > 1 ? nc : 0);
        s->as = malloc(sizeof *s->as * (size_t)cap);
        s->off = malloc(sizeof *s->off * (size_t)cap * (4 + nc));
        s->val = malloc(sizeof *s->val * (size_t)cap * (4 + nc));
        s->grad = malloc(sizeof *s->grad * (size_t)cap * (4 + nc));
        s->cell = malloc(sizeof *s->cell * (size_t)cap);
        s->tobj = malloc(sizeof *s->tobj * (size_t)cap);
        s->wobj = malloc(sizeof *s->wobj * (size_t)cap);
        if (!s->as || !s->off || !s->val || !s->grad || !s->cell || !s->tobj || !s->wobj) return -1;
        s->cap = cap;
    }
    int n = 0;
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &net->node[net->detect[l]];
        long hw = (long)d->H * d->W;
        s->start[l] = n;
        int m = assign_level(net, l, t, nt, o->anchor_t, s->as + n);
        for (int i = n; i < n + m; i++) {
            const Assign *a = &s->as[i];
            // the prediction at the assigned anchor and cell: element k at channel a*no + k
            long base = ((long)a->b * d->C + (long)a->a * no) * hw + (long)a->gj * d->W + a->gi;
            long *o4 = s->off + (size_t)i * s->per;
            for (int q = 0; q < 4; q++) o4[q] = base + q * hw;
            for (int c = 0; c < s->per - 4; c++) o4[4 + c] = base + (5 + c) * hw;
            s->cell[i] = ((long)a->b * NET_ANCHORS + a->a) * hw + (long)a->gj * d->W + a->gi;
        }
        n += m;
    }
    s->start[NET_LEVELS] = n;
    return 0;
}

int loss_count_assigned(const Net *net, const Target *t, int nt, const LossOptions *o, int counts[NET_LEVELS]) {
    LossSparse s = { 0 };
    int rc = loss_assign(net, t, nt, o, &s);
    for (int l = 0; l < NET_LEVELS; l++) counts[l] = rc == 0 ? s.start[l + 1] - s.start[l] : 0;
    loss_sparse_free(&s);
    return rc;
}

void loss_sparse_terms(const Net *net, const LossOptions *o, LossSparse *s, double *lbox, double *lcls) {
    int B = loss_norm_batch(net, o), nc = net->cfg.classes;
    float gain[3];
    loss_gains(net, o, gain);
    float box_gain = gain[0], cls_gain = gain[2];
    int alpha_at = 0;
    for (int l = 0; l < NET_LEVELS; l++) {
        int n = loss_norm_assigned(o, l, s->start[l + 1] - s->start[l]);
        double sbox = 0, scls = 0;
        for (int i = s->start[l]; i < s->start[l + 1]; i++) {
            const Assign *a = &s->as[i];
            const float *pk = s->val + (size_t)i * s->per;
            float *gk = s->grad + (size_t)i * s->per;
            float raw[4] = { pk[0], pk[1], pk[2], pk[3] }, pbox[4], dbox[4], g4[4];
            float anchor[2] = { net->anchors[l][a->a][0] / STRIDE[l], net->anchors[l][a->a][1] / STRIDE[l] };
            box_decode_f(raw, anchor, pbox, dbox);
            float *al = o->alpha ? &o->alpha[alpha_at++] : NULL;
            float iou = ciou_alpha_f(pbox, a->tbox, g4, al && o->hold_alpha ? *al : -1, al);
            sbox += (1.0 - iou) * a->weight;
            float cb = -box_gain * B * a->weight / n;   // d loss / d ciou
            for (int q = 0; q < 4; q++) gk[q] = cb * g4[q] * dbox[q];
            s->tobj[i] = iou > 0 ? iou : 0;   // held constant
            s->wobj[i] = a->weight;
            for (int c = 0; c < s->per - 4; c++) {
                float dx, tc = a->probs ? a->probs[c] : c == a->cls ? 1.0f : 0.0f;   // soft or one-hot
                scls += a->weight * bce_logits_f(pk[4 + c], tc, &dx);
                gk[4 + c] = cls_gain * B * a->weight * dx / ((float)n * nc);
            }
        }
        if (n) {
            *lbox += sbox / n;
            if (nc > 1) *lcls += scls / ((double)n * nc);
        }
    }
}

int yolo_loss(Net *net, const Target *t, int nt, const LossOptions *o, LossParts *parts, float *tobj_out[NET_LEVELS]) {
    memset(parts, 0, sizeof *parts);
    int B = net->batch, NB = loss_norm_batch(net, o), nc = net->cfg.classes, no = 5 + nc;
    float gain[3];
    loss_gains(net, o, gain);
    LossSparse sp = { 0 };
    if (loss_assign(net, t, nt, o, &sp) != 0) { loss_sparse_free(&sp); return -1; }
    parts->assigned = sp.start[NET_LEVELS];
    // the assigned cells' logits, then their terms
    for (int l = 0; l < NET_LEVELS; l++) {
        const float *p = net->node[net->detect[l]].out;
        for (long j = (long)sp.start[l] * sp.per; j < (long)sp.start[l + 1] * sp.per; j++) sp.val[j] = p[sp.off[j]];
    }
    double lbox = 0, lobj = 0, lcls = 0;
    loss_sparse_terms(net, o, &sp, &lbox, &lcls);
    for (int l = 0; l < NET_LEVELS; l++) {
        Node *d = &net->node[net->detect[l]];
        long hw = (long)d->H * d->W, cells = (long)B * NET_ANCHORS * hw, norm_cells = (long)NB * NET_ANCHORS * hw;
        const float *p = d->out;
        float *dp = d->dout;
        memset(dp, 0, sizeof(float) * (size_t)B * d->C * hw);
        float *tobj = calloc((size_t)cells, sizeof *tobj), *wobj = NULL;
        if (!tobj) { loss_sparse_free(&sp); return -1; }
        if (o->weight_obj) {
            wobj = malloc(sizeof *wobj * (size_t)cells);
            if (!wobj) { free(tobj); loss_sparse_free(&sp); return -1; }
            for (long i = 0; i < cells; i++) wobj[i] = 1;
        }
        // the box and class gradients, and the objectness targets (the last assignment wins)
        for (int i = sp.start[l]; i < sp.start[l + 1]; i++) {
            for (int q = 0; q < sp.per; q++) dp[sp.off[(size_t)i * sp.per + q]] += sp.grad[(size_t)i * sp.per + q];
            tobj[sp.cell[i]] = sp.tobj[i];
            if (wobj) wobj[sp.cell[i]] = sp.wobj[i];
        }
        if (o->frozen_tobj[l]) memcpy(tobj, o->frozen_tobj[l], sizeof(float) * (size_t)cells);
        // objectness over every cell of the level
        double sobj = 0;
        float go = gain[1] * LOSS_BALANCE[l] * NB / (float)norm_cells;
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
        lobj += sobj / norm_cells * LOSS_BALANCE[l];
        if (tobj_out && tobj_out[l]) memcpy(tobj_out[l], tobj, sizeof(float) * (size_t)cells);
        free(tobj);
        free(wobj);
    }
    loss_sparse_free(&sp);
    parts->box = lbox * gain[0] * NB;
    parts->obj = lobj * gain[1] * NB;
    parts->cls = lcls * gain[2] * NB;
    parts->total = parts->box + parts->obj + parts->cls;
    return 0;
}
