// The layers, written once over `real` (see layers.h). Included by layers_f32.c and
// layers_f64.c with real, S (the name suffix), LAYER_NAME (which picks a definition's name
// of the two it is given) and the GEMM routine defined. The public definitions spell out
// both their names, LAYER_NAME(name_f32, name_f64), so that grep finds them.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(name, S)

// The output columns [ox0, ox1) whose input column ox * stride - pad + kx lies in [0, W).
static void F(valid_span)(int W, int OW, int kx, int stride, int pad, int *ox0, int *ox1) {
    int lo = pad - kx, a = lo > 0 ? (lo + stride - 1) / stride : 0;     // first ox with x >= 0
    int hi = W - 1 + pad - kx, b = hi >= 0 ? hi / stride + 1 : 0;      // one past the last with x < W
    *ox0 = a < OW ? a : OW;
    *ox1 = b < OW ? b : OW;
    if (*ox1 < *ox0) *ox1 = *ox0;
}

// A shift by (dy, dx) within an H x W plane, read as one run over the flattened plane: the
// rows [y0, y1) stay inside, and positions [q0, q1) of the run cover them but for the edge
// columns, whose values would wrap across a row's end. Returns 0 when nothing stays inside.
static int F(shift_run)(int H, int W, int dy, int dx, int *y0, int *y1, size_t *q0, size_t *q1) {
    *y0 = dy < 0 ? -dy : 0;
    *y1 = dy > 0 ? H - dy : H;
    if (*y1 <= *y0 || dx >= W || -dx >= W) return 0;
    *q0 = (size_t)*y0 * W + (dx < 0 ? -dx : 0);
    *q1 = (size_t)*y1 * W - (dx > 0 ? dx : 0);
    return 1;
}

// Zeroes the edge columns of rows [y0, y1) that a shift by dx wraps: the first -dx or the
// last dx of each row.
static void F(zero_wrapped_columns)(real *plane, int W, int y0, int y1, int dx) {
    int x0 = dx < 0 ? 0 : W - dx, x1 = dx < 0 ? -dx : W;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) plane[(size_t)y * W + x] = 0;
}

// dst (H, W) = src (H, W) shifted: dst[y][x] = src[y + dy][x + dx], zero where that falls
// outside. One copy of the rows in range as a single run, then the wrapped edge columns
// zeroed: for small maps far fewer calls than a copy per row.
static void F(shifted_plane)(real *dst, const real *src, int H, int W, int dy, int dx) {
    int y0, y1;
    size_t q0, q1;
    if (!F(shift_run)(H, W, dy, dx, &y0, &y1, &q0, &q1)) { memset(dst, 0, sizeof(real) * (size_t)H * W); return; }
    memset(dst, 0, sizeof(real) * (size_t)y0 * W);
    memset(dst + (size_t)y1 * W, 0, sizeof(real) * (size_t)(H - y1) * W);
    memcpy(dst + q0, src + (long)q0 + (long)dy * W + dx, sizeof(real) * (q1 - q0));
    F(zero_wrapped_columns)(dst, W, y0, y1, dx);
}

// Its adjoint: dst[y + dy][x + dx] += src[y][x] where that lies inside, as one run; src's
// wrapped edge columns are zeroed first (src is scratch).
static void F(shifted_plane_add)(real *dst, real *src, int H, int W, int dy, int dx) {
    int y0, y1;
    size_t q0, q1;
    if (!F(shift_run)(H, W, dy, dx, &y0, &y1, &q0, &q1)) return;
    F(zero_wrapped_columns)(src, W, y0, y1, dx);
    real *d = dst + (long)dy * W + dx;
    #pragma omp simd
    for (size_t q = q0; q < q1; q++) d[q] += src[q];
}

// One image's (C,H,W), channel c's plane at img + c * sh->in_cs, into columns (C*k*k, OH*OW),
// row r at col + r * ld. Where each stride phase of the input has the output's size (stride 1:
// a "same" convolution, whose one phase is the plane itself), the input row y = stride *
// oy - pad + ky = stride * (oy + q) + r with r = (ky - pad) mod stride, so a row of columns
// is phase plane (r, rx) shifted by (q, qx); strided phases are split into `phase` (stride^2
// planes of OH x OW) first. Otherwise, per output row, zeros outside the image and a copy
// (stride 1) or a strided gather inside it.
static void F(im2col)(real *col, size_t ld, real *phase, const real *img, const Conv2dShape *sh) {
    int C = sh->in_ch, H = sh->h, W = sh->w, k = sh->k, stride = sh->stride, pad = sh->pad, OH = sh->out_h, OW = sh->out_w;
    size_t cs = sh->in_cs;
    if (conv_splits_phases(H, W, stride, OH, OW)) {
        size_t P = (size_t)OH * OW;
        for (int c = 0; c < C; c++) {
            const real *x = img + (size_t)c * cs, *planes = x;
            if (stride > 1) {
                for (int r = 0; r < stride; r++)
                    for (int rx = 0; rx < stride; rx++) {
                        real *pl = phase + (size_t)(r * stride + rx) * P;
                        for (int y = 0; y < OH; y++)
                            for (int xx = 0; xx < OW; xx++) pl[(size_t)y * OW + xx] = x[(size_t)(y * stride + r) * W + xx * stride + rx];
                    }
                planes = phase;
            }
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    int r = ((ky - pad) % stride + stride) % stride, rx = ((kx - pad) % stride + stride) % stride;
                    int q = (ky - pad - r) / stride, qx = (kx - pad - rx) / stride;
                    F(shifted_plane)(col + ((size_t)(c * k + ky) * k + kx) * ld, planes + (size_t)(r * stride + rx) * P, OH, OW,
                                     q, qx);
                }
        }
        return;
    }
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                real *row = col + ((size_t)(c * k + ky) * k + kx) * ld;
                int ox0, ox1;
                F(valid_span)(W, OW, kx, stride, pad, &ox0, &ox1);
                for (int oy = 0; oy < OH; oy++) {
                    int y = oy * stride - pad + ky;
                    real *r = row + (size_t)oy * OW;
                    if (y < 0 || y >= H) { memset(r, 0, sizeof(real) * (size_t)OW); continue; }
                    const real *src = img + (size_t)c * cs + (size_t)y * W;   // x = ox * stride + kx - pad
                    int off = kx - pad;
                    for (int ox = 0; ox < ox0; ox++) r[ox] = 0;
                    if (stride == 1) memcpy(r + ox0, src + ox0 + off, sizeof(real) * (size_t)(ox1 - ox0));
                    else for (int ox = ox0; ox < ox1; ox++) r[ox] = src[ox * stride + off];
                    for (int ox = ox1; ox < OW; ox++) r[ox] = 0;
                }
            }
}

// The adjoint of im2col: columns (row r at col + r * ld) added back into one image (channel
// c's plane at img + c * sh->in_cs), whose planes are zeroed first unless add. The columns are
// scratch: a "same" convolution's edge entries are zeroed on the way.
static void F(col2im)(real *img, int add, real *col, size_t ld, const Conv2dShape *sh) {
    int C = sh->in_ch, H = sh->h, W = sh->w, k = sh->k, stride = sh->stride, pad = sh->pad, OH = sh->out_h, OW = sh->out_w;
    size_t cs = sh->in_cs;
    if (!add)
        for (int c = 0; c < C; c++) memset(img + (size_t)c * cs, 0, sizeof(real) * (size_t)H * W);
    if (stride == 1 && conv_splits_phases(H, W, stride, OH, OW)) {   // "same": rows are shifted planes
        for (int c = 0; c < C; c++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    F(shifted_plane_add)(img + (size_t)c * cs, col + ((size_t)(c * k + ky) * k + kx) * ld, H, W, ky - pad,
                                         kx - pad);
        return;
    }
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const real *row = col + ((size_t)(c * k + ky) * k + kx) * ld;
                int ox0, ox1;
                F(valid_span)(W, OW, kx, stride, pad, &ox0, &ox1);
                for (int oy = 0; oy < OH; oy++) {
                    int y = oy * stride - pad + ky;
                    if (y < 0 || y >= H) continue;
                    real *dst = img + (size_t)c * cs + (size_t)y * W;
                    const real *r = row + (size_t)oy * OW;
                    int off = kx - pad;
                    for (int ox = ox0; ox < ox1; ox++) dst[ox * stride + off] += r[ox];
                }
            }
}

// A group's columns (K, L = gi * N): image j's at column j * N. x: the group's first image
// in the input's layout.
static void F(group_columns)(real *col, real *phase, const real *x, int gi, const Conv2dShape *sh) {
    size_t N = (size_t)sh->out_h * sh->out_w, L = (size_t)gi * N;
    for (int j = 0; j < gi; j++) F(im2col)(col + j * N, L, phase, x + (size_t)j * sh->h * sh->w, sh);
}

void LAYER_NAME(conv2d_forward_f32, conv2d_forward_f64)(real *out, const real *inp, const real *weight, const real *bias,
                                                        const Conv2dShape *sh, const F(Conv2dScratch) *scratch) {
    int B = sh->batch, C = sh->in_ch, H = sh->h, W = sh->w, OC = sh->out_ch, k = sh->k;
    int K = C * k * k, N = sh->out_h * sh->out_w;
    size_t in_cs = sh->in_cs, out_cs = sh->out_cs;
    real *col = scratch->col, *work = scratch->work;
    if (conv_is_pointwise(k, sh->stride, sh->pad)) {
        // the batch's positions side by side in each channel: (OC, B*N) = weight (OC, C) @ inp (C, B*N)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, B * N, C, 1, weight, C, inp, (int)in_cs, 0, out, (int)out_cs);
    } else {
        int g = conv_group_size(B, N);
        for (int b = 0; b < B; b += g) {
            int gi = B - b < g ? B - b : g, L = gi * N;
            F(group_columns)(col, work, inp + (size_t)b * H * W, gi, sh);
            // (OC, L) = weight (OC, K) @ cols (K, L), straight into the group's outputs
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, L, K, 1, weight, K, col, L, 0, out + (size_t)b * N,
                 (int)out_cs);
        }
    }
    if (bias)
        for (int o = 0; o < OC; o++) {
            real *yo = out + (size_t)o * out_cs, bo = bias[o];
            for (size_t i = 0; i < (size_t)B * N; i++) yo[i] += bo;
        }
}

// The input gradient of a group of gi images by output phases. The input positions y = i *
// stride + py, x = j * stride + px of one phase (py, px) receive gradient only through the
// taps (ky, kx) with py + pad - ky and px + pad - kx divisible by stride, each from dy at
// (i + (py + pad - ky) / stride, j + (px + pad - kx) / stride): a stride-1 correlation whose
// columns are contiguous copies of dy's rows. Per phase,
//   dphase (C, gi * P) = wt (C, OC * T) @ cols (OC * T, gi * P),   P = Hp * Wp, T taps,
// then scattered into dx (added to it with add). With stride 1 this is the forward
// convolution of dy with the flipped kernel, written (or added) straight into dx. dy: the group's first image, in the
// output's layout (channel stride sh->out_cs); dx likewise in the input's (sh->in_cs). col: (OC * T, gi * P); work: the
// phase's outputs (C, gi * P), then wt (C, OC * T).
static void F(conv2d_input_grad_phases)(real *dx, int add, real *col, real *work, const real *dy, const real *weight,
                                        int gi, const Conv2dShape *sh) {
    int C = sh->in_ch, H = sh->h, W = sh->w, OC = sh->out_ch, k = sh->k, stride = sh->stride, pad = sh->pad;
    int OH = sh->out_h, OW = sh->out_w;
    size_t dx_cs = sh->in_cs, dy_cs = sh->out_cs;
    int tk = (k + stride - 1) / stride, P_max = ((H + stride - 1) / stride) * ((W + stride - 1) / stride);
    real *wt = work + (size_t)C * gi * P_max;
    for (int py = 0; py < stride; py++)
        for (int px = 0; px < stride; px++) {
            int Hp = py < H ? (H - py + stride - 1) / stride : 0, Wp = px < W ? (W - px + stride - 1) / stride : 0;
            if (Hp == 0 || Wp == 0) continue;
            int ky_of[16], kx_of[16], nky = 0, nkx = 0;   // the phase's taps (k / stride <= 16)
            for (int q = 0; q < k && nky < tk; q++) if ((py + pad - q) % stride == 0) ky_of[nky++] = q;
            for (int q = 0; q < k && nkx < tk; q++) if ((px + pad - q) % stride == 0) kx_of[nkx++] = q;
            size_t P = (size_t)Hp * Wp, L = (size_t)gi * P;
            int T = nky * nkx, direct = stride == 1;   // with stride 1 a phase is the whole image
            real *out = direct ? dx : work;
            size_t ldo = direct ? dx_cs : L;
            if (T == 0) {   // no tap reaches this phase
                if (add) continue;
                for (int c = 0; c < C; c++) memset(out + (size_t)c * ldo, 0, sizeof(real) * L);
            } else {
                // wt (C, OC * T): column oc * T + t holds weight[oc][c][ky_t][kx_t]
                for (int c = 0; c < C; c++)
                    for (int oc = 0; oc < OC; oc++)
                        for (int a = 0; a < nky; a++)
                            for (int b = 0; b < nkx; b++)
                                wt[((size_t)c * OC + oc) * T + a * nkx + b] = weight[(((size_t)oc * C + c) * k + ky_of[a]) * k + kx_of[b]];
                // cols: row (oc, t), image j's positions at j * P: dy shifted by the tap's offset
                for (int oc = 0; oc < OC; oc++)
                    for (int a = 0; a < nky; a++)
                        for (int b = 0; b < nkx; b++) {
                            real *row = col + ((size_t)oc * T + a * nkx + b) * L;
                            int oy0 = (py + pad - ky_of[a]) / stride, ox0 = (px + pad - kx_of[b]) / stride;
                            int j0 = -ox0 > 0 ? -ox0 : 0, j1 = OW - ox0 < Wp ? OW - ox0 : Wp;   // valid [j0, j1)
                            if (j1 < j0) j1 = j0;
                            for (int im = 0; im < gi; im++) {
                                const real *src = dy + (size_t)oc * dy_cs + (size_t)im * OH * OW;
                                if (Hp == OH && Wp == OW) {   // the phase has dy's size: one shifted copy
                                    F(shifted_plane)(row + (size_t)im * P, src, Hp, Wp, oy0, ox0);
                                    continue;
                                }
                                for (int i = 0; i < Hp; i++) {
                                    real *r = row + (size_t)im * P + (size_t)i * Wp;
                                    int oy = i + oy0;
                                    if (oy < 0 || oy >= OH) { memset(r, 0, sizeof(real) * (size_t)Wp); continue; }
                                    for (int j = 0; j < j0; j++) r[j] = 0;
                                    memcpy(r + j0, src + (size_t)oy * OW + j0 + ox0, sizeof(real) * (size_t)(j1 - j0));
                                    for (int j = j1; j < Wp; j++) r[j] = 0;
                                }
                            }
                        }
                GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, C, (int)L, OC * T, 1, wt, OC * T, col, (int)L,
                     direct && add ? 1 : 0, out, (int)ldo);
            }
            if (direct) continue;
            // scatter (C, gi * P) into the phase's positions of each image
            for (int im = 0; im < gi; im++)
                for (int c = 0; c < C; c++) {
                    const real *o = out + (size_t)c * L + (size_t)im * P;
                    real *d = dx + (size_t)c * dx_cs + (size_t)im * H * W;
                    for (int i = 0; i < Hp; i++) {
                        real *drow = d + (size_t)(i * stride + py) * W + px;
                        const real *orow = o + (size_t)i * Wp;
                        if (add) for (int j = 0; j < Wp; j++) drow[(size_t)j * stride] += orow[j];
                        else for (int j = 0; j < Wp; j++) drow[(size_t)j * stride] = orow[j];
                    }
                }
        }
}

void LAYER_NAME(conv2d_backward_f32, conv2d_backward_f64)(const F(Conv2dGrads) *gr, const real *dout, const real *inp,
                                                          const real *weight, const Conv2dShape *sh,
                                                          const F(Conv2dScratch) *scratch) {
    int B = sh->batch, C = sh->in_ch, H = sh->h, W = sh->w, OC = sh->out_ch, k = sh->k;
    int K = C * k * k, N = sh->out_h * sh->out_w;
    size_t in_cs = sh->in_cs, out_cs = sh->out_cs;
    real *dinp = gr->dinp, *dweight = gr->dweight, *dbias = gr->dbias, *col = scratch->col, *work = scratch->work;
    int add = gr->add_dinp;
    if (dbias)
        for (int o = 0; o < OC; o++) {
            const real *g = dout + (size_t)o * out_cs;
            double s = 0;
            for (size_t i = 0; i < (size_t)B * N; i++) s += g[i];
            dbias[o] += (real)s;
        }
    if (conv_is_pointwise(k, sh->stride, sh->pad)) {
        // dweight (OC, C) += dy (OC, B*N) @ inp^T (B*N, C); dinp (C, B*N) = weight^T @ dy
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, OC, C, B * N, 1, dout, (int)out_cs, inp, (int)in_cs, 1, dweight, C);
        if (dinp)
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, C, B * N, OC, 1, weight, C, dout, (int)out_cs, add ? 1 : 0, dinp,
                 (int)in_cs);
        return;
    }
    int g = conv_group_size(B, N);
    for (int b = 0; b < B; b += g) {
        int gi = B - b < g ? B - b : g, L = gi * N;
        const real *dy = dout + (size_t)b * N;
        // the group's columns (K, L), made again; dweight (OC, K) += dy (OC, L) @ cols^T (L, K)
        F(group_columns)(col, work, inp + (size_t)b * H * W, gi, sh);
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, OC, K, L, 1, dy, (int)out_cs, col, L, 1, dweight, K);
        if (!dinp) continue;
        real *dx = dinp + (size_t)b * H * W;
        if (conv_grad_by_phases(C, k, sh->stride, N)) {
            F(conv2d_input_grad_phases)(dx, add, col, work, dy, weight, gi, sh);
            continue;
        }
        // dcols (K, L) = weight^T @ dy, then back into each image
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, K, L, OC, 1, weight, K, dy, (int)out_cs, 0, col, L);
        for (int j = 0; j < gi; j++)
            F(col2im)(dx + (size_t)j * H * W, add, col + (size_t)j * N, (size_t)L, sh);
    }
}

// Batch norm and SiLU work on a share of the batch in which each channel's values are n
// contiguous elements, channel c's at c * cs (BnShape; all arrays of a call share the
// layout): the network's channel-major activations give each thread its images this way,
// and one NCHW image is cs = n = H * W.
//
// Inference in one pass: out = silu(BN(inp)) with the running statistics.
void LAYER_NAME(batchnorm_silu_inference_f32, batchnorm_silu_inference_f64)(real *out, const real *inp, const BnShape *sh,
                                                                          const real *gamma, const real *beta,
                                                                          const real *run_mean, const real *run_var,
                                                                          real eps) {
    int C = sh->channels;
    size_t cs = sh->cs, n = sh->n;
    for (int c = 0; c < C; c++) {
        real s = gamma[c] / SQRT(run_var[c] + eps), t = beta[c] - run_mean[c] * s;
        const real *x = inp + (size_t)c * cs;
        real *y = out + (size_t)c * cs;
        #pragma omp simd
        for (size_t i = 0; i < n; i++) {
            real v = x[i] * s + t;
            y[i] = v / (1 + EXP(-v));
        }
    }
}

// Training-mode batch norm and SiLU in pieces, so that each thread works on its own images
// and only the per-channel sums cross threads:
//   batchnorm_sums       sums (2, C) += per channel (sum x, sum x^2), in double
//   batchnorm_stats      mean, rstd (C) from the sums of `count` values (biased variance)
//   batchnorm_silu_apply out = silu((inp - mean) * rstd * gamma + beta); sig (may be NULL)
//                        keeps the sigmoid of the value before SiLU for the backward
void LAYER_NAME(batchnorm_sums_f32, batchnorm_sums_f64)(double *sums, const real *inp, const BnShape *sh) {
    int C = sh->channels;
    size_t cs = sh->cs, n = sh->n;
    for (int c = 0; c < C; c++) {
        const real *x = inp + (size_t)c * cs;
        double s = 0, s2 = 0;
        #pragma omp simd reduction(+ : s, s2)
        for (size_t i = 0; i < n; i++) { double v = x[i]; s += v; s2 += v * v; }
        sums[c] += s;
        sums[C + c] += s2;
    }
}

void LAYER_NAME(batchnorm_stats_f32, batchnorm_stats_f64)(real *mean, real *rstd, const double *sums, double count, int C,
                                                          real eps) {
    for (int c = 0; c < C; c++) {
        double m = sums[c] / count, var = sums[C + c] / count - m * m;
        if (var < 0) var = 0;   // rounding, for a constant channel
        mean[c] = (real)m;
        rstd[c] = (real)(1.0 / sqrt(var + eps));
    }
}

void LAYER_NAME(batchnorm_silu_apply_f32, batchnorm_silu_apply_f64)(real *out, real *sig, const real *inp, const BnShape *sh,
                                                                  const F(BnNorm) *norm) {
    int C = sh->channels;
    size_t cs = sh->cs, n = sh->n;
    const real *mean = norm->mean, *rstd = norm->rstd, *gamma = norm->gamma, *beta = norm->beta;
    for (int c = 0; c < C; c++) {
        const real *x = inp + (size_t)c * cs;
        real *y = out + (size_t)c * cs, mr = mean[c], r = rstd[c], g = gamma[c], bt = beta[c];
        if (sig) {
            real *sg = sig + (size_t)c * cs;
            #pragma omp simd
            for (size_t i = 0; i < n; i++) {
                real v = (x[i] - mr) * r * g + bt, e1 = 1 + EXP(-v);
                sg[i] = 1 / e1;
                y[i] = v / e1;
            }
        } else {
            #pragma omp simd
            for (size_t i = 0; i < n; i++) {
                real v = (x[i] - mr) * r * g + bt;
                y[i] = v / (1 + EXP(-v));
            }
        }
    }
}

// The whole batch at once, NCHW (the tests' entry point): statistics in one pass, then the
// output.
int LAYER_NAME(batchnorm_silu_forward_f32, batchnorm_silu_forward_f64)(real *out, real *mean, real *rstd, const real *inp,
                                                                      const real *gamma, const real *beta,
                                                                      const BnBatch *sh, real eps) {
    int B = sh->batch, C = sh->channels, HW = sh->hw;
    double *sums = calloc(2 * (size_t)C, sizeof *sums);
    if (!sums) return -1;
    size_t img = (size_t)C * HW;
    BnShape one = { .channels = C, .cs = (size_t)HW, .n = (size_t)HW };   // one NCHW image
    F(BnNorm) norm = { .mean = mean, .rstd = rstd, .gamma = gamma, .beta = beta };
    for (int b = 0; b < B; b++) F(batchnorm_sums)(sums, inp + b * img, &one);
    F(batchnorm_stats)(mean, rstd, sums, (double)B * HW, C, eps);
    for (int b = 0; b < B; b++) F(batchnorm_silu_apply)(out + b * img, NULL, inp + b * img, &one, &norm);
    free(sums);
    return 0;
}

// Their backward, in two pieces with the same split. With xhat = (x - mean) * rstd and d
// the gradient at pre_act = xhat * gamma + beta (SiLU's derivative there, recomputed from x),
//   silu_batchnorm_backward_sums   dpre = d; sums (2, C) += (sum d, sum d * xhat); sig: the
//                                  forward's sigmoids, or NULL to recompute them (one exp
//                                  and one division an element fewer with them)
//   batchnorm_backward_input       dx = rstd * gamma * (d - mean(d) - xhat * mean(d * xhat)),
//                                  the means from the sums of `count` values; dinp may be dpre.
// sum d and sum d * xhat are also beta's and gamma's gradients.
void LAYER_NAME(silu_batchnorm_backward_sums_f32, silu_batchnorm_backward_sums_f64)(real *dpre, double *sums,
                                                                                  const real *dout, const real *sig,
                                                                                  const real *inp, const BnShape *sh,
                                                                                  const F(BnNorm) *norm) {
    int C = sh->channels;
    size_t cs = sh->cs, n = sh->n;
    const real *mean = norm->mean, *rstd = norm->rstd, *gamma = norm->gamma, *beta = norm->beta;
    for (int c = 0; c < C; c++) {
        size_t o = (size_t)c * cs;
        const real *x = inp + o, *dy = dout + o;
        real *dp = dpre + o, m = mean[c], r = rstd[c], gm = gamma[c], bt = beta[c];
        double sdy = 0, sdyx = 0;
        if (sig) {
            const real *sgs = sig + o;
            #pragma omp simd reduction(+ : sdy, sdyx)
            for (size_t i = 0; i < n; i++) {
                real xh = (x[i] - m) * r, p = xh * gm + bt, sg = sgs[i];
                real d = dy[i] * sg * (1 + p * (1 - sg));
                dp[i] = d;
                sdy += d;
                sdyx += (double)d * xh;
            }
        } else {
            #pragma omp simd reduction(+ : sdy, sdyx)
            for (size_t i = 0; i < n; i++) {
                real xh = (x[i] - m) * r, p = xh * gm + bt;
                real sg = 1 / (1 + EXP(-p));
                real d = dy[i] * sg * (1 + p * (1 - sg));
                dp[i] = d;
                sdy += d;
                sdyx += (double)d * xh;
            }
        }
        sums[c] += sdy;
        sums[C + c] += sdyx;
    }
}

void LAYER_NAME(batchnorm_backward_input_f32, batchnorm_backward_input_f64)(real *dinp, const real *dpre, const real *inp,
                                                                          const BnShape *sh, const F(BnNorm) *norm,
                                                                          const double *sums, double count) {
    int C = sh->channels;
    size_t cs = sh->cs, n = sh->n;
    const real *mean = norm->mean, *rstd = norm->rstd, *gamma = norm->gamma;
    for (int c = 0; c < C; c++) {
        size_t o = (size_t)c * cs;
        const real *x = inp + o, *dp = dpre + o;
        real *dx = dinp + o, m = mean[c], r = rstd[c], g = r * gamma[c];
        real mdy = (real)(sums[c] / count), mdyx = (real)(sums[C + c] / count);
        #pragma omp simd
        for (size_t i = 0; i < n; i++) dx[i] = g * (dp[i] - mdy - (x[i] - m) * r * mdyx);
    }
}

int LAYER_NAME(silu_batchnorm_backward_f32, silu_batchnorm_backward_f64)(real *dinp, real *dpre, real *dgamma, real *dbeta,
                                                                        const real *dout, const real *inp,
                                                                        const F(BnNorm) *norm, const BnBatch *sh) {
    int B = sh->batch, C = sh->channels, HW = sh->hw;
    double *sums = calloc(2 * (size_t)C, sizeof *sums);
    if (!sums) return -1;
    size_t img = (size_t)C * HW;
    BnShape one = { .channels = C, .cs = (size_t)HW, .n = (size_t)HW };   // one NCHW image
    for (int b = 0; b < B; b++)
        F(silu_batchnorm_backward_sums)(dpre + b * img, sums, dout + b * img, NULL, inp + b * img, &one, norm);
    for (int c = 0; c < C; c++) {
        dbeta[c] += (real)sums[c];
        dgamma[c] += (real)sums[C + c];
    }
    for (int b = 0; b < B; b++)
        F(batchnorm_backward_input)(dinp + b * img, dpre + b * img, inp + b * img, &one, norm, sums, (double)B * HW);
    free(sums);
    return 0;
}

// Separable: the maximum over each row's window (with the first column that reaches it),
// then over the column of those. The first row holding the maximum wins, and in it the
// first column: the first maximum in scan order, as PyTorch routes the gradient (ties are
// common: the second and third pools of SPPF repeat values). The threads' scratch is
// allocated before the parallel region, which cannot return when it fails.
int LAYER_NAME(maxpool_forward_f32, maxpool_forward_f64)(real *out, int *argmax, const real *inp, int B, int C, int H, int W,
                                                        int k) {
    int r = k / 2, T = omp_get_max_threads();
    size_t plane = (size_t)H * W, all = (size_t)T * plane;
    real *rmax_all = malloc(sizeof(real) * (all ? all : 1));   // per thread (H, W): the row windows' maxima
    int *rarg_all = malloc(sizeof(int) * (all ? all : 1));     // and where they are
    if (!rmax_all || !rarg_all) {
        free(rmax_all);
        free(rarg_all);
        return -1;
    }
    #pragma omp parallel num_threads(T)
    {
        real *rmax = rmax_all + (size_t)omp_get_thread_num() * plane;
        int *rarg = rarg_all + (size_t)omp_get_thread_num() * plane;
        #pragma omp for schedule(static)
        for (long p = 0; p < (long)B * C; p++) {
            const real *x = inp + (size_t)p * H * W;
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    int x0 = xx - r < 0 ? 0 : xx - r, x1 = xx + r >= W ? W - 1 : xx + r, best = y * W + x0;
                    for (int xq = x0 + 1; xq <= x1; xq++)
                        if (x[y * W + xq] > x[best]) best = y * W + xq;
                    rmax[y * W + xx] = x[best];
                    rarg[y * W + xx] = best;
                }
            real *o = out + (size_t)p * H * W;
            int *a = argmax + (size_t)p * H * W;
            for (int y = 0; y < H; y++) {
                int y0 = y - r < 0 ? 0 : y - r, y1 = y + r >= H ? H - 1 : y + r;
                for (int xx = 0; xx < W; xx++) {
                    int best = y0 * W + xx;
                    for (int yy = y0 + 1; yy <= y1; yy++)
                        if (rmax[yy * W + xx] > rmax[best]) best = yy * W + xx;
                    o[y * W + xx] = rmax[best];
                    a[y * W + xx] = rarg[best];
                }
            }
        }
    }
    free(rmax_all);
    free(rarg_all);
    return 0;
}

void LAYER_NAME(maxpool_backward_f32, maxpool_backward_f64)(real *dinp, const real *dout, const int *argmax, int B, int C,
                                                            int H, int W) {
    memset(dinp, 0, sizeof(real) * (size_t)B * C * H * W);
    #pragma omp parallel for schedule(static)
    for (long p = 0; p < (long)B * C; p++)
        for (int i = 0; i < H * W; i++) dinp[(size_t)p * H * W + argmax[(size_t)p * H * W + i]] += dout[(size_t)p * H * W + i];
}

void LAYER_NAME(upsample2x_forward_f32, upsample2x_forward_f64)(real *out, const real *inp, int B, int C, int H, int W) {
    #pragma omp parallel for schedule(static)
    for (long p = 0; p < (long)B * C; p++)
        for (int y = 0; y < 2 * H; y++)
            for (int x = 0; x < 2 * W; x++)
                out[((size_t)p * 2 * H + y) * 2 * W + x] = inp[((size_t)p * H + y / 2) * W + x / 2];
}

void LAYER_NAME(upsample2x_backward_f32, upsample2x_backward_f64)(real *dinp, const real *dout, int B, int C, int H, int W) {
    memset(dinp, 0, sizeof(real) * (size_t)B * C * H * W);
    #pragma omp parallel for schedule(static)
    for (long p = 0; p < (long)B * C; p++)
        for (int y = 0; y < 2 * H; y++)
            for (int x = 0; x < 2 * W; x++)
                dinp[((size_t)p * H + y / 2) * W + x / 2] += dout[((size_t)p * 2 * H + y) * 2 * W + x];
}

#undef F
