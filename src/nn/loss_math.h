// Per-element math of YOLOv5's loss, as static inline functions that gcc and nvcc both
// compile, in float (suffix _f) and double (suffix _d, for finite-difference tests).
//
//   bce_logits(x, t)      binary cross-entropy of a logit x against target t, and d/dx
//   ciou(p, t)            CIoU of a predicted box p against a target t, both (cx, cy, w, h),
//                         and its gradient with respect to p; alpha is held constant, as
//                         YOLOv5 computes it without gradient
//   box_decode(t, anchor) YOLOv5's decoding: cxy = 2 sigmoid(txy) - 0.5 (cells),
//                         wh = (2 sigmoid(twh))^2 * anchor, and the Jacobian's diagonal
#ifndef NN_LOSS_MATH_H
#define NN_LOSS_MATH_H

#include <math.h>

#ifdef __CUDACC__
#define NN_INLINE static inline __host__ __device__
#else
#define NN_INLINE static inline
#endif

#define NN_LOSS_DEFINE(real, S, EXP, LOG, ATAN, FABS)                                             \
    NN_INLINE real sigmoid##S(real x) { return 1 / (1 + EXP(-x)); }                               \
                                                                                                  \
    /* max(x,0) - x t + log(1 + exp(-|x|)); d/dx = sigmoid(x) - t */                              \
    NN_INLINE real bce_logits##S(real x, real t, real *dx) {                                      \
        if (dx) *dx = sigmoid##S(x) - t;                                                          \
        return (x > 0 ? x : 0) - x * t + LOG(1 + EXP(-FABS(x)));                                  \
    }                                                                                             \
                                                                                                  \
    /* alpha_in >= 0 replaces the computed alpha (tests hold it fixed); *alpha_out gets it */ \
    NN_INLINE real ciou_alpha##S(const real p[4], const real t[4], real g[4], real alpha_in, real *alpha_out) { \
        const real eps = (real)1e-7, k = (real)(4.0 / (M_PI * M_PI));                             \
        real px1 = p[0] - p[2] / 2, px2 = p[0] + p[2] / 2, py1 = p[1] - p[3] / 2, py2 = p[1] + p[3] / 2; \
        real tx1 = t[0] - t[2] / 2, tx2 = t[0] + t[2] / 2, ty1 = t[1] - t[3] / 2, ty2 = t[1] + t[3] / 2; \
        real iw_raw = (px2 < tx2 ? px2 : tx2) - (px1 > tx1 ? px1 : tx1);                          \
        real ih_raw = (py2 < ty2 ? py2 : ty2) - (py1 > ty1 ? py1 : ty1);                          \
        real iw = iw_raw > 0 ? iw_raw : 0, ih = ih_raw > 0 ? ih_raw : 0, inter = iw * ih;          \
        real uni = p[2] * p[3] + t[2] * t[3] - inter + eps, iou = inter / uni;                    \
        real cw = (px2 > tx2 ? px2 : tx2) - (px1 < tx1 ? px1 : tx1);                              \
        real ch = (py2 > ty2 ? py2 : ty2) - (py1 < ty1 ? py1 : ty1);                              \
        real c2 = cw * cw + ch * ch + eps;                                                        \
        real sx = tx1 + tx2 - px1 - px2, sy = ty1 + ty2 - py1 - py2, rho2 = (sx * sx + sy * sy) / 4; \
        real da = ATAN(t[2] / t[3]) - ATAN(p[2] / p[3]), v = k * da * da;                         \
        real alpha = alpha_in >= 0 ? alpha_in : v / (v - iou + (1 + eps));                       \
        if (alpha_out) *alpha_out = alpha;                                                        \
        if (g) {                                                                                  \
            /* derivatives with respect to the corners px1, px2, py1, py2 */                     \
            real dinter_px1 = iw_raw > 0 && px1 > tx1 ? -ih : 0, dinter_px2 = iw_raw > 0 && px2 < tx2 ? ih : 0; \
            real dinter_py1 = ih_raw > 0 && py1 > ty1 ? -iw : 0, dinter_py2 = ih_raw > 0 && py2 < ty2 ? iw : 0; \
            real dcw_px1 = px1 < tx1 ? -1 : 0, dcw_px2 = px2 > tx2 ? 1 : 0;                        \
            real dch_py1 = py1 < ty1 ? -1 : 0, dch_py2 = py2 > ty2 ? 1 : 0;                        \
            /* corner derivatives to (cx, cy, w, h): x1 = cx - w/2, x2 = cx + w/2 */             \
            real dinter[4] = { dinter_px1 + dinter_px2, dinter_py1 + dinter_py2,                  \
                               (dinter_px2 - dinter_px1) / 2, (dinter_py2 - dinter_py1) / 2 };     \
            real dc2[4] = { 2 * cw * (dcw_px1 + dcw_px2), 2 * ch * (dch_py1 + dch_py2),           \
                            2 * cw * (dcw_px2 - dcw_px1) / 2, 2 * ch * (dch_py2 - dch_py1) / 2 };  \
            real drho2[4] = { -sx, -sy, 0, 0 };                                                   \
            real r2 = p[2] * p[2] + p[3] * p[3];                                                  \
            real dv[4] = { 0, 0, -2 * k * da * p[3] / r2, 2 * k * da * p[2] / r2 };               \
            real darea[4] = { 0, 0, p[3], p[2] };                                                 \
            for (int i = 0; i < 4; i++) {                                                         \
                real duni = darea[i] - dinter[i];                                                 \
                real diou = (dinter[i] * uni - inter * duni) / (uni * uni);                       \
                g[i] = diou - (drho2[i] * c2 - rho2 * dc2[i]) / (c2 * c2) - alpha * dv[i];         \
            }                                                                                     \
        }                                                                                         \
        return iou - (rho2 / c2 + v * alpha);                                                     \
    }                                                                                             \
                                                                                                  \
    NN_INLINE real ciou##S(const real p[4], const real t[4], real g[4]) {                         \
        return ciou_alpha##S(p, t, g, -1, (real *)0);                                             \
    }                                                                                             \
                                                                                                  \
    /* t (tx, ty, tw, th) logits -> box (cx, cy, w, h) in cells / anchor units; dbox_dt the   \
       derivative of each output by its own input. */                                          \
    NN_INLINE void box_decode##S(const real t[4], const real anchor[2], real box[4], real dbox_dt[4]) { \
        for (int i = 0; i < 2; i++) {                                                             \
            real s = sigmoid##S(t[i]);                                                            \
            box[i] = 2 * s - (real)0.5;                                                           \
            if (dbox_dt) dbox_dt[i] = 2 * s * (1 - s);                                            \
            real sw = sigmoid##S(t[2 + i]);                                                       \
            box[2 + i] = 4 * sw * sw * anchor[i];                                                 \
            if (dbox_dt) dbox_dt[2 + i] = 8 * sw * sw * (1 - sw) * anchor[i];                     \
        }                                                                                         \
    }

NN_LOSS_DEFINE(float, _f, expf, logf, atanf, fabsf)
NN_LOSS_DEFINE(double, _d, exp, log, atan, fabs)

#endif
