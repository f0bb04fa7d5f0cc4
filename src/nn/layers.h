// The detector's layers, each with forward and backward. Convolutions and the pieces of
// batch norm take channel-major activations with a channel stride (the network's layout,
// see Conv2dShape); the whole-batch batch norm, pooling and upsampling take NCHW (pooling
// and upsampling see only planes, so either layout).
// Every function exists in float (the network: names ending _f32, sgemm) and in double
// (names ending _f64, dgemm), compiled from the one source in layers_impl.h, so that the
// tests check the very code the network runs against finite differences in double. Both
// are declared here one by one, and each definition in layers_impl.h names both
// (LAYER_NAME), so that grep finds either name.
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

// A convolution's geometry and the layout of its activations, which are channel-major:
// element (c, b, y, x) of a batch at c * cs + b * H * W + y * W + x, each with its channel
// stride cs (at least batch * H * W), so that a channel's images lie side by side and a
// group of them is one matrix. conv2d_shape fills it for dense activations (cs exactly
// batch * H * W); a caller whose activations are a share of a larger batch sets in_cs and
// out_cs after.
typedef struct {
    int batch;               // images
    int in_ch, h, w;         // each image's input: channels, height, width
    int out_ch, k, stride, pad;   // output channels, a k x k kernel, its stride and zero padding
    int out_h, out_w;        // each image's output size, from the above
    size_t in_cs, out_cs;    // the channel strides of the input (and its gradient) and of the output (and its gradient)
} Conv2dShape;

static inline Conv2dShape conv2d_shape(int batch, int in_ch, int h, int w, int out_ch, int k, int stride, int pad) {
    Conv2dShape s = { .batch = batch, .in_ch = in_ch, .h = h, .w = w, .out_ch = out_ch, .k = k, .stride = stride, .pad = pad };
    s.out_h = (h + 2 * pad - k) / stride + 1;
    s.out_w = (w + 2 * pad - k) / stride + 1;
    s.in_cs = (size_t)batch * h * w;
    s.out_cs = (size_t)batch * s.out_h * s.out_w;
    return s;
}

// The scratch a convolution needs, in elements: col, the columns of a group (0 for a
// pointwise convolution), and work, the phases of the input gradient where it is taken by
// phases, and an input plane's stride phases where the columns are made from them (else 0).
static inline void conv2d_scratch(const Conv2dShape *s, size_t *col, size_t *work) {
    int B = s->batch, C = s->in_ch, H = s->h, W = s->w, OC = s->out_ch, k = s->k, stride = s->stride;
    size_t N = (size_t)s->out_h * s->out_w, g = (size_t)conv_group_size(B, (int)N);
    *col = conv_is_pointwise(k, stride, s->pad) ? 0 : (size_t)C * k * k * g * N;
    *work = 0;
    if (conv_grad_by_phases(C, k, stride, (int)N)) {
        size_t tk = (size_t)(k + stride - 1) / stride, P = (size_t)((H + stride - 1) / stride) * ((W + stride - 1) / stride);
        size_t pc = (size_t)OC * tk * tk * g * P;
        if (pc > *col) *col = pc;
        *work = (size_t)C * g * P + (size_t)C * OC * tk * tk;
    }
    if (stride > 1 && conv_splits_phases(H, W, stride, s->out_h, s->out_w) && (size_t)H * W > *work) *work = (size_t)H * W;
}

// A convolution's scratch, as conv2d_scratch sizes it (work may be NULL where it sizes it 0).
typedef struct { float *col, *work; } Conv2dScratch_f32;
typedef struct { double *col, *work; } Conv2dScratch_f64;

// What a convolution's backward pass writes: dinp (the input's layout; may be NULL), added
// to with add_dinp, else overwritten; dweight (out_ch, in_ch*k*k) +=; dbias (out_ch) += (may
// be NULL).
typedef struct { float *dinp; int add_dinp; float *dweight, *dbias; } Conv2dGrads_f32;
typedef struct { double *dinp; int add_dinp; double *dweight, *dbias; } Conv2dGrads_f64;

// Batch norm's pieces work on a share of the batch in which each channel's values are n
// contiguous elements, channel c's at c * cs (all arrays of a call share the layout): the
// network's channel-major activations give each thread its images this way, and one NCHW
// image is cs = n = H * W.
typedef struct {
    int channels;
    size_t cs, n;
} BnShape;

// A whole NCHW batch: batch images of channels planes of hw values.
typedef struct {
    int batch, channels, hw;
} BnBatch;

// The per-channel normalisation of training-mode batch norm: the batch statistics (mean and
// 1 / sqrt(biased variance + eps)) and the affine parameters, each (channels).
typedef struct { const float *mean, *rstd, *gamma, *beta; } BnNorm_f32;
typedef struct { const double *mean, *rstd, *gamma, *beta; } BnNorm_f64;

// out (out_ch, B, out_h, out_w) = conv(inp (in_ch, B, h, w), weight (out_ch, in_ch*k*k)) + bias
// (out_ch, or NULL), in the layout of s.
void conv2d_forward_f32(float *out, const float *inp, const float *weight, const float *bias, const Conv2dShape *s,
                        const Conv2dScratch_f32 *scratch);
void conv2d_forward_f64(double *out, const double *inp, const double *weight, const double *bias, const Conv2dShape *s,
                        const Conv2dScratch_f64 *scratch);
// From dout (the output's gradient), the gradients in gr (see Conv2dGrads). The columns are
// made again from inp.
void conv2d_backward_f32(const Conv2dGrads_f32 *gr, const float *dout, const float *inp, const float *weight,
                         const Conv2dShape *s, const Conv2dScratch_f32 *scratch);
void conv2d_backward_f64(const Conv2dGrads_f64 *gr, const double *dout, const double *inp, const double *weight,
                         const Conv2dShape *s, const Conv2dScratch_f64 *scratch);

// Training-mode batch norm over (B, HW) per channel fused with SiLU, NCHW (B,C,HW): out =
// silu((x - mean) * rstd * gamma + beta); mean, rstd (C) are saved for the backward pass,
// which recomputes the value before SiLU from x and uses dpre (B,C,HW) as scratch (dinp may
// be dpre); its norm: the forward's mean and rstd with gamma and beta. Both return 0, or -1
// when out of memory.
int batchnorm_silu_forward_f32(float *out, float *mean, float *rstd, const float *inp, const float *gamma,
                               const float *beta, const BnBatch *s, float eps);
int batchnorm_silu_forward_f64(double *out, double *mean, double *rstd, const double *inp, const double *gamma,
                               const double *beta, const BnBatch *s, double eps);
int silu_batchnorm_backward_f32(float *dinp, float *dpre, float *dgamma, float *dbeta, const float *dout,
                                const float *inp, const BnNorm_f32 *norm, const BnBatch *s);
int silu_batchnorm_backward_f64(double *dinp, double *dpre, double *dgamma, double *dbeta, const double *dout,
                                const double *inp, const BnNorm_f64 *norm, const BnBatch *s);

// The same in pieces over a share of the batch (BnShape; see layers_impl.h): the network
// runs them per thread on its own images and adds the threads' sums (2, C) in double.
void batchnorm_sums_f32(double *sums, const float *inp, const BnShape *s);
void batchnorm_sums_f64(double *sums, const double *inp, const BnShape *s);
void batchnorm_stats_f32(float *mean, float *rstd, const double *sums, double count, int C, float eps);
void batchnorm_stats_f64(double *mean, double *rstd, const double *sums, double count, int C, double eps);
void batchnorm_silu_apply_f32(float *out, float *sig, const float *inp, const BnShape *s, const BnNorm_f32 *norm);
void batchnorm_silu_apply_f64(double *out, double *sig, const double *inp, const BnShape *s, const BnNorm_f64 *norm);
void silu_batchnorm_backward_sums_f32(float *dpre, double *sums, const float *dout, const float *sig, const float *inp,
                                      const BnShape *s, const BnNorm_f32 *norm);
void silu_batchnorm_backward_sums_f64(double *dpre, double *sums, const double *dout, const double *sig,
                                      const double *inp, const BnShape *s, const BnNorm_f64 *norm);
void batchnorm_backward_input_f32(float *dinp, const float *dpre, const float *inp, const BnShape *s,
                                  const BnNorm_f32 *norm, const double *sums, double count);
void batchnorm_backward_input_f64(double *dinp, const double *dpre, const double *inp, const BnShape *s,
                                  const BnNorm_f64 *norm, const double *sums, double count);

// Inference: out = silu(BN(inp)) with the running statistics, same layout.
void batchnorm_silu_inference_f32(float *out, const float *inp, const BnShape *s, const float *gamma, const float *beta,
                                  const float *run_mean, const float *run_var, float eps);
void batchnorm_silu_inference_f64(double *out, const double *inp, const BnShape *s, const double *gamma,
                                  const double *beta, const double *run_mean, const double *run_var, double eps);

// Max pooling, kernel k (odd), stride 1, padding k/2 (padding never wins): SPPF's pool.
// argmax (B,C,H,W) remembers the winning input index. 0, or -1 out of memory (its scratch).
int maxpool_forward_f32(float *out, int *argmax, const float *inp, int B, int C, int H, int W, int k);
int maxpool_forward_f64(double *out, int *argmax, const double *inp, int B, int C, int H, int W, int k);
void maxpool_backward_f32(float *dinp, const float *dout, const int *argmax, int B, int C, int H, int W);
void maxpool_backward_f64(double *dinp, const double *dout, const int *argmax, int B, int C, int H, int W);

// Nearest upsampling by 2: (B,C,H,W) -> (B,C,2H,2W).
void upsample2x_forward_f32(float *out, const float *inp, int B, int C, int H, int W);
void upsample2x_forward_f64(double *out, const double *inp, int B, int C, int H, int W);
void upsample2x_backward_f32(float *dinp, const float *dout, int B, int C, int H, int W);
void upsample2x_backward_f64(double *dinp, const double *dout, int B, int C, int H, int W);

#endif
