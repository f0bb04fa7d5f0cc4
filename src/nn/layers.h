// The detector's layers, each with forward and backward. Convolutions and the pieces of
// batch norm take channel-major activations with a channel stride (the network's layout,
// see NN_DECLARE); the whole-batch batch norm, pooling and upsampling take NCHW (pooling
// and upsampling see only planes, so either layout).
// Every function exists in float (the network: names ending _f32, sgemm) and in double
// (names ending _f64, dgemm), compiled from the one source in layers_impl.h, so that the
// tests check the very code the network runs against finite differences in double.
//
// Backward functions accumulate (+=) into parameter gradients and overwrite input
// gradients, unless noted.
#ifndef NN_LAYERS_H
#define NN_LAYERS_H

#include <stddef.h>

// A k > 1 or strided convolution builds the columns of a group of images at once, their
// positions side by side, so that small maps (the deep layers: 16 or 64 positions an image)
// still make GEMMs large enough to run fast; from CONV_GROUP_POSITIONS positions on, an
// image is a group alone. A pointwise convolution needs no columns: the whole batch is one
// GEMM.
#define CONV_GROUP_POSITIONS 256

static inline int conv_is_pointwise(int k, int stride, int pad) { return k == 1 && stride == 1 && pad == 0; }

// Images per group for a batch of B images with N output positions each.
static inline int conv_group_size(int B, int N) {
    int g = N > 0 ? CONV_GROUP_POSITIONS / N : 1;
    return g < 1 ? 1 : g > B ? B : g;
}

// Whether the input gradient of a convolution with C input channels and N output positions
// an image is computed by output phases (a correlation of the output gradient per phase,
// conv2d_input_grad_phases) rather than as columns added back into the image (col2im).
// Where it measured faster (one thread, 16 images, the cpu preset's layers): stride 1 from
// 256 positions up (1.5-1.8 against 1.0-1.1 ms at 16 px, 3.0 against 1.2 at 32 px), stride 2
// from 1024 up (4.5 against 3.7 ms at 32 px; slower at 16 px and below), and not with fewer
// than 8 input channels (the GEMMs get too thin). Never for a pointwise convolution.
static inline int conv_grad_by_phases(int C, int k, int stride, int N) {
    return (k > 1 || stride > 1) && C >= 8 && N >= (stride == 1 ? 256 : 1024);
}

// Whether a convolution's columns are made as shifted copies of the input's stride phases
// (for stride 1, of the input planes themselves: a "same" convolution) rather than row by
// row: where every phase plane has the output's size.
static inline int conv_splits_phases(int H, int W, int stride, int OH, int OW) {
    return H % stride == 0 && W % stride == 0 && H / stride == OH && W / stride == OW;
}

// The scratch a convolution of B images (C x H x W each, OC x OH x OW out) needs, in
// elements: col, the columns of a group (0 for a pointwise convolution), and work, the
// phases of the input gradient where it is taken by phases, and an input plane's stride
// phases where the columns are made from them (else 0).
static inline void conv2d_scratch(int B, int C, int H, int W, int OC, int k, int stride, int pad, int OH, int OW,
                                  size_t *col, size_t *work) {
    size_t N = (size_t)OH * OW, g = (size_t)conv_group_size(B, (int)N);
    *col = conv_is_pointwise(k, stride, pad) ? 0 : (size_t)C * k * k * g * N;
    *work = 0;
    if (conv_grad_by_phases(C, k, stride, (int)N)) {
        size_t tk = (size_t)(k + stride - 1) / stride, P = (size_t)((H + stride - 1) / stride) * ((W + stride - 1) / stride);
        size_t pc = (size_t)OC * tk * tk * g * P;
        if (pc > *col) *col = pc;
        *work = (size_t)C * g * P + (size_t)C * OC * tk * tk;
    }
    if (stride > 1 && conv_splits_phases(H, W, stride, OH, OW) && (size_t)H * W > *work) *work = (size_t)H * W;
}

#define NN_DECLARE(real, S)                                                                          \
    /* Convolutions read and write channel-major activations: element (c, b, y, x) of a batch   \
       at c * cs + b * H * W + y * W + x, each with its channel stride cs (at least B * H * W),  \
       so that a channel's images lie side by side and a group of them is one matrix.          \
       out (OC, B, OH, OW) = conv(inp (C, B, H, W), weight (OC, C*k*k)) + bias (OC, or NULL).     \
       col and work: scratch as conv2d_scratch sizes them. */                                   \
    void conv2d_forward##S(real *out, size_t out_cs, real *col, real *work, const real *inp,            \
                           size_t in_cs, const real *weight, const real *bias, int B, int C, int H,     \
                           int W, int OC, int k, int stride, int pad);                                 \
    /* dinp (C, B, H, W) (may be NULL; added to with add, else overwritten), dweight            \
       (OC, C*k*k) +=, dbias (OC) += (may be NULL). The columns are made again from inp. col and \
       work: scratch as conv2d_scratch sizes them. */                                             \
    void conv2d_backward##S(real *dinp, int add, real *dweight, real *dbias, real *col, real *work,    \
                            const real *dout, size_t out_cs, const real *inp, size_t in_cs,            \
                            const real *weight, int B, int C, int H, int W, int OC, int k, int stride,  \
                            int pad);                                                                  \
    /* Training-mode batch norm over (B, HW) per channel fused with SiLU, NCHW (B,C,HW): out =   \
       silu((x - mean) * rstd * gamma + beta); mean, rstd (C) are saved for the backward pass,   \
       which recomputes the value before SiLU from x and uses dpre (B,C,HW) as scratch (dinp    \
       may be dpre). */                                                                          \
    void batchnorm_silu_forward##S(real *out, real *mean, real *rstd, const real *inp, const real *gamma, \
                                   const real *beta, int B, int C, int HW, real eps);                  \
    void silu_batchnorm_backward##S(real *dinp, real *dpre, real *dgamma, real *dbeta, const real *dout, \
                                    const real *inp, const real *mean, const real *rstd,                 \
                                    const real *gamma, const real *beta, int B, int C, int HW);          \
    /* The same in pieces over a share of the batch whose channels are n contiguous values each, \
       channel c's at c * cs (see layers_impl.h): the network runs them per thread on its own   \
       images and adds the threads' sums (2, C) in double. */                                    \
    void batchnorm_sums##S(double *sums, const real *inp, size_t cs, int C, size_t n);              \
    void batchnorm_stats##S(real *mean, real *rstd, const double *sums, double count, int C, real eps); \
    void batchnorm_silu_apply##S(real *out, real *sig, const real *inp, size_t cs, const real *mean,  \
                                 const real *rstd, const real *gamma, const real *beta, int C,       \
                                 size_t n);                                                          \
    void silu_batchnorm_backward_sums##S(real *dpre, double *sums, const real *dout, const real *sig, \
                                         const real *inp, size_t cs, const real *mean,                \
                                         const real *rstd, const real *gamma, const real *beta, int C, \
                                         size_t n);                                                   \
    void batchnorm_backward_input##S(real *dinp, const real *dpre, const real *inp, size_t cs,       \
                                     const real *mean, const real *rstd, const real *gamma,          \
                                     const double *sums, double count, int C, size_t n);             \
    /* Inference: out = silu(BN(inp)) with the running statistics, same layout. */              \
    void batchnorm_silu_inference##S(real *out, const real *inp, size_t cs, const real *gamma,         \
                                     const real *beta, const real *run_mean, const real *run_var,     \
                                     int C, size_t n, real eps);                                      \
    /* Max pooling, kernel k (odd), stride 1, padding k/2 (padding never wins): SPPF's pool.     \
       argmax (B,C,H,W) remembers the winning input index. */                                     \
    void maxpool_forward##S(real *out, int *argmax, const real *inp, int B, int C, int H, int W, int k); \
    void maxpool_backward##S(real *dinp, const real *dout, const int *argmax, int B, int C, int H, int W); \
    /* Nearest upsampling by 2: (B,C,H,W) -> (B,C,2H,2W). */                                       \
    void upsample2x_forward##S(real *out, const real *inp, int B, int C, int H, int W);              \
    void upsample2x_backward##S(real *dinp, const real *dout, int B, int C, int H, int W);

NN_DECLARE(float, _f32)
NN_DECLARE(double, _f64)

#endif
