// Every layer's backward pass against central finite differences, in double precision, on
// the same code the network runs in float; and float against double forward. (Concatenation
// and residual additions live in net.c and are checked through the whole network.)
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "layers.h"
#include "rng.h"

static Rng g;

static double *randn(long n) {
    double *a = malloc(sizeof *a * (size_t)n);
    for (long i = 0; i < n; i++) a[i] = rng_normal(&g);
    return a;
}

static double dot(const double *a, const double *b, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

// Compares an analytic gradient with central differences of loss() at up to 40 entries.
// loss() reads the perturbed array through the pointer it was built on.
typedef double (*LossFn)(void *ctx);
static double worst;
static void check_grad(const char *what, double *x, const double *grad, long n, LossFn loss, void *ctx) {
    const double h = 1e-6;
    double bad = 0;
    for (int t = 0; t < 40 && t < n; t++) {
        long i = n <= 40 ? t : (long)rng_int(&g, 0, (int)n - 1);
        double keep = x[i];
        x[i] = keep + h;
        double lp = loss(ctx);
        x[i] = keep - h;
        double lm = loss(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2 * h), err = fabs(num - grad[i]) / fmax(1e-6, fmax(fabs(num), fabs(grad[i])));
        if (err > bad) bad = err;
    }
    if (bad > worst) worst = bad;
    if (!(bad < 1e-5)) fprintf(stderr, "%s: relative error %g\n", what, bad);
    CHECK(bad < 1e-5);
}

// ---- convolution ---------------------------------------------------------------------

// Channel-major activations as the network keeps them, viewed as part of a larger batch:
// the convolution sees B images of B + 1, so every channel stride is wider than B images.
typedef struct {
    int B, C, H, W, OC, k, s, p, OH, OW;
    size_t in_cs, out_cs;
    double *x, *w, *b, *r, *out, *col, *work;
} Conv;

// The convolution's shape with the view's channel strides.
static Conv2dShape conv_shape(const Conv *c) {
    Conv2dShape sh = conv2d_shape(c->B, c->C, c->H, c->W, c->OC, c->k, c->s, c->p);
    sh.in_cs = c->in_cs;
    sh.out_cs = c->out_cs;
    return sh;
}

static double conv_loss(void *ctx) {
    Conv *c = ctx;
    Conv2dShape sh = conv_shape(c);
    conv2d_forward_f64(c->out, c->x, c->w, c->b, &sh, &(Conv2dScratch_f64){ .col = c->col, .work = c->work });
    return dot(c->out, c->r, (long)c->OC * (long)c->out_cs);
}

// The definition, loop by loop: out[o][b][oy][ox] = bias[o] + sum over c, ky, kx of
// w[o][c][ky][kx] * x[c][b][oy * s - p + ky][ox * s - p + kx] (zero outside the image).
static double conv_direct_error(const Conv *c) {
    double err = 0;
    for (int o = 0; o < c->OC; o++)
        for (int b = 0; b < c->B; b++)
            for (int oy = 0; oy < c->OH; oy++)
                for (int ox = 0; ox < c->OW; ox++) {
                    double v = c->b[o];
                    for (int ch = 0; ch < c->C; ch++)
                        for (int ky = 0; ky < c->k; ky++)
                            for (int kx = 0; kx < c->k; kx++) {
                                int y = oy * c->s - c->p + ky, x = ox * c->s - c->p + kx;
                                if (y < 0 || y >= c->H || x < 0 || x >= c->W) continue;
                                v += c->w[((o * c->C + ch) * c->k + ky) * c->k + kx] *
                                     c->x[ch * c->in_cs + ((size_t)b * c->H + y) * c->W + x];
                            }
                    double got = c->out[o * c->out_cs + ((size_t)b * c->OH + oy) * c->OW + ox];
                    err = fmax(err, fabs(got - v) / fmax(1, fabs(v)));
                }
    return err;
}

static void test_conv(int B, int C, int H, int W, int OC, int k, int s, int p) {
    Conv c = { .B = B, .C = C, .H = H, .W = W, .OC = OC, .k = k, .s = s, .p = p,
               .OH = (H + 2 * p - k) / s + 1, .OW = (W + 2 * p - k) / s + 1 };
    c.in_cs = (size_t)(B + 1) * H * W;
    c.out_cs = (size_t)(B + 1) * c.OH * c.OW;
    long nx = (long)C * (long)c.in_cs, nw = (long)OC * C * k * k, no = (long)OC * (long)c.out_cs;
    c.x = randn(nx); c.w = randn(nw); c.b = randn(OC); c.r = randn(no);
    for (int o = 0; o < OC; o++)   // the image outside the view adds nothing to the loss
        for (size_t i = (size_t)B * c.OH * c.OW; i < c.out_cs; i++) c.r[(size_t)o * c.out_cs + i] = 0;
    c.out = calloc((size_t)no, sizeof(double));
    Conv2dShape sh = conv_shape(&c);
    CHECK(sh.out_h == c.OH && sh.out_w == c.OW && sh.batch == B && sh.in_ch == C && sh.out_ch == OC);
    Conv2dShape dense = conv2d_shape(B, C, H, W, OC, k, s, p);
    CHECK(dense.in_cs == (size_t)B * H * W && dense.out_cs == (size_t)B * c.OH * c.OW);
    size_t ncol, nwork;
    conv2d_scratch(&sh, &ncol, &nwork);
    Conv2dScratch_f64 scratch = { .col = NULL, .work = NULL };
    c.col = malloc(sizeof(double) * (ncol + 1));
    c.work = malloc(sizeof(double) * (nwork + 1));
    scratch.col = c.col;
    scratch.work = c.work;
    double *dx = calloc((size_t)nx, sizeof *dx), *dw = calloc((size_t)nw, sizeof *dw), *db = calloc((size_t)OC, sizeof *db);
    conv_loss(&c);
    double ed = conv_direct_error(&c);
    if (!(ed < 1e-12)) fprintf(stderr, "conv k%d s%d p%d: forward differs from the definition by %g\n", k, s, p, ed);
    CHECK(ed < 1e-12);
    conv2d_backward_f64(&(Conv2dGrads_f64){ .dinp = dx, .add_dinp = 0, .dweight = dw, .dbias = db }, c.r, c.x, c.w, &sh,
                        &scratch);
    char what[64];
    snprintf(what, sizeof what, "conv k%d s%d p%d dinp", k, s, p);
    check_grad(what, c.x, dx, nx, conv_loss, &c);
    snprintf(what, sizeof what, "conv k%d s%d p%d dweight", k, s, p);
    check_grad(what, c.w, dw, nw, conv_loss, &c);
    snprintf(what, sizeof what, "conv k%d s%d p%d dbias", k, s, p);
    check_grad(what, c.b, db, OC, conv_loss, &c);
    // with add, the input gradient is added to what dinp held
    double *dxa = randn(nx), *base = malloc(sizeof(double) * (size_t)nx), *dwa = calloc((size_t)nw, sizeof *dwa);
    memcpy(base, dxa, sizeof(double) * (size_t)nx);
    conv2d_backward_f64(&(Conv2dGrads_f64){ .dinp = dxa, .add_dinp = 1, .dweight = dwa, .dbias = NULL }, c.r, c.x, c.w, &sh,
                        &scratch);
    double ea = 0;
    for (long i = 0; i < nx; i++) {
        int inside = (size_t)i % c.in_cs < (size_t)B * H * W;
        ea = fmax(ea, fabs(dxa[i] - base[i] - (inside ? dx[i] : 0)));
    }
    CHECK(ea < 1e-12);
    free(dxa); free(base); free(dwa);
    // the image outside the view keeps a zero gradient (nothing is written there)
    double outside = 0;
    for (int ch = 0; ch < C; ch++)
        for (size_t i = (size_t)B * H * W; i < c.in_cs; i++) outside = fmax(outside, fabs(dx[(size_t)ch * c.in_cs + i]));
    CHECK(outside == 0);

    // float runs the same arithmetic to float precision
    float *xf = malloc(sizeof(float) * (size_t)nx), *wf = malloc(sizeof(float) * (size_t)nw), *bf = malloc(sizeof(float) * (size_t)OC);
    float *of = calloc((size_t)no, sizeof(float)), *colf = malloc(sizeof(float) * (ncol + 1)),
          *workf = malloc(sizeof(float) * (nwork + 1));
    for (long i = 0; i < nx; i++) xf[i] = (float)c.x[i];
    for (long i = 0; i < nw; i++) wf[i] = (float)c.w[i];
    for (int i = 0; i < OC; i++) bf[i] = (float)c.b[i];
    conv2d_forward_f32(of, xf, wf, bf, &sh, &(Conv2dScratch_f32){ .col = colf, .work = workf });
    conv_loss(&c);
    double e = 0, n2 = 0;
    for (long i = 0; i < no; i++) { e += (of[i] - c.out[i]) * (of[i] - c.out[i]); n2 += c.out[i] * c.out[i]; }
    CHECK(sqrt(e / n2) < 1e-6);
    free(xf); free(wf); free(bf); free(of); free(colf); free(workf);

    free(c.x); free(c.w); free(c.b); free(c.r); free(c.out); free(c.col); free(c.work); free(dx); free(dw); free(db);
}

// ---- batch norm with SiLU (the fused layer the network runs) ---------------------------

typedef struct {
    int B, C, HW;
    double *x, *gamma, *beta, *r, *pre, *out, *mean, *rstd;
} Bn;

static double bn_loss(void *ctx) {
    Bn *b = ctx;
    CHECK(batchnorm_silu_forward_f64(b->out, b->mean, b->rstd, b->x, b->gamma, b->beta,
                                     &(BnBatch){ .batch = b->B, .channels = b->C, .hw = b->HW }, 1e-3) == 0);
    return dot(b->out, b->r, (long)b->B * b->C * b->HW);
}

static double silu(double v) { return v / (1 + exp(-v)); }

static void test_batchnorm_silu(void) {
    Bn b = { .B = 3, .C = 4, .HW = 10 };
    long n = (long)b.B * b.C * b.HW;
    b.x = randn(n); b.gamma = randn(b.C); b.beta = randn(b.C); b.r = randn(n);
    for (long i = 0; i < n; i++) b.x[i] = 2 * b.x[i] + 0.3;
    b.out = malloc(sizeof(double) * (size_t)n); b.pre = malloc(sizeof(double) * (size_t)n);
    b.mean = malloc(sizeof(double) * 4); b.rstd = malloc(sizeof(double) * 4);
    double *dx = calloc((size_t)n, sizeof *dx), *dpre = calloc((size_t)n, sizeof *dpre);
    double *dg = calloc(4, sizeof *dg), *dbt = calloc(4, sizeof *dbt);
    BnBatch batch = { .batch = b.B, .channels = b.C, .hw = b.HW };
    BnNorm_f64 norm = { .mean = b.mean, .rstd = b.rstd, .gamma = b.gamma, .beta = b.beta };
    bn_loss(&b);
    // the kept statistics are the channels' own mean and 1 / sqrt(biased variance + eps); before
    // SiLU each channel then has mean beta and variance gamma^2 var / (var + eps); out = silu(pre)
    double e = 0;
    for (int c = 0; c < b.C; c++) {
        double s = 0, s2 = 0, sp = 0, sp2 = 0;
        for (int i = 0; i < b.B; i++)
            for (int j = 0; j < b.HW; j++) {
                size_t k = ((size_t)i * b.C + c) * b.HW + j;
                s += b.x[k];
                s2 += b.x[k] * b.x[k];
            }
        double m = s / (b.B * b.HW), var = s2 / (b.B * b.HW) - m * m;
        CHECK_NEAR(b.mean[c], m, 1e-12);
        CHECK_NEAR(b.rstd[c], 1 / sqrt(var + 1e-3), 1e-12);
        for (int i = 0; i < b.B; i++)
            for (int j = 0; j < b.HW; j++) {
                size_t k = ((size_t)i * b.C + c) * b.HW + j;
                b.pre[k] = (b.x[k] - b.mean[c]) * b.rstd[c] * b.gamma[c] + b.beta[c];
                sp += b.pre[k];
                sp2 += (b.pre[k] - b.beta[c]) * (b.pre[k] - b.beta[c]);
                e = fmax(e, fabs(b.out[k] - silu(b.pre[k])));
            }
        CHECK_NEAR(sp / (b.B * b.HW), b.beta[c], 1e-12);
        CHECK_NEAR(sp2 / (b.B * b.HW), b.gamma[c] * b.gamma[c] * var / (var + 1e-3), 1e-12);
    }
    CHECK(e < 1e-15);
    CHECK(silu_batchnorm_backward_f64(dx, dpre, dg, dbt, b.r, b.x, &norm, &batch) == 0);
    check_grad("batchnorm+silu dinp", b.x, dx, n, bn_loss, &b);
    check_grad("batchnorm+silu dgamma", b.gamma, dg, b.C, bn_loss, &b);
    check_grad("batchnorm+silu dbeta", b.beta, dbt, b.C, bn_loss, &b);
    // inference: silu((x - running mean) / sqrt(running var + eps) * gamma + beta)
    double rm[4] = { 0.2, -0.1, 0.4, 0 }, rv[4] = { 1.5, 0.7, 2.2, 1 };
    for (int i = 0; i < b.B; i++) {   // one NCHW image: channel stride HW
        size_t o = (size_t)i * b.C * b.HW;
        batchnorm_silu_inference_f64(b.out + o, b.x + o, &(BnShape){ .channels = b.C, .cs = (size_t)b.HW, .n = (size_t)b.HW },
                                     b.gamma, b.beta, rm, rv, 1e-3);
    }
    double ei = 0;
    for (int i = 0; i < b.B; i++)
        for (int c = 0; c < b.C; c++)
            for (int j = 0; j < b.HW; j++) {
                size_t k = ((size_t)i * b.C + c) * b.HW + j;
                double v = (b.x[k] - rm[c]) / sqrt(rv[c] + 1e-3) * b.gamma[c] + b.beta[c];
                ei = fmax(ei, fabs(b.out[k] - silu(v)));
            }
    CHECK(ei < 1e-12);
    // SiLU's values: silu(0) = 0, silu(x) -> x for large x (identity batch norm)
    double xs[3] = { 0, 20, -20 }, ys[3], one = 1, zero = 0;
    batchnorm_silu_inference_f64(ys, xs, &(BnShape){ .channels = 1, .cs = 3, .n = 3 }, &one, &zero, &zero, &one, 0);
    CHECK(ys[0] == 0 && fabs(ys[1] - 20) < 1e-6 && fabs(ys[2]) < 1e-6);

    // the pieces as the network runs them: channel-major (C, B, HW), the batch split into two
    // shares (image 0, images 1..B-1) whose sums are added: the same as the whole batch
    size_t cs = (size_t)b.B * b.HW;
    double *xc = malloc(sizeof(double) * (size_t)n), *rc = malloc(sizeof(double) * (size_t)n);
    double *oc = malloc(sizeof(double) * (size_t)n), *gc = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < b.B; i++)
        for (int c = 0; c < b.C; c++)
            for (int j = 0; j < b.HW; j++) {
                xc[c * cs + (size_t)i * b.HW + j] = b.x[((size_t)i * b.C + c) * b.HW + j];
                rc[c * cs + (size_t)i * b.HW + j] = b.r[((size_t)i * b.C + c) * b.HW + j];
            }
    bn_loss(&b);   // b.out, b.mean, b.rstd of the whole batch again
    for (int c = 0; c < b.C; c++) dg[c] = dbt[c] = 0;
    CHECK(silu_batchnorm_backward_f64(dx, dpre, dg, dbt, b.r, b.x, &norm, &batch) == 0);
    double sums[8] = { 0 }, gsum[8] = { 0 }, mean[4], rstd[4];
    size_t share[3] = { 0, (size_t)b.HW, cs };   // element offsets of the shares within a channel
    BnShape part[2];
    for (int t = 0; t < 2; t++) part[t] = (BnShape){ .channels = b.C, .cs = cs, .n = share[t + 1] - share[t] };
    for (int t = 0; t < 2; t++) batchnorm_sums_f64(sums, xc + share[t], &part[t]);
    batchnorm_stats_f64(mean, rstd, sums, (double)cs, b.C, 1e-3);
    BnNorm_f64 pn = { .mean = mean, .rstd = rstd, .gamma = b.gamma, .beta = b.beta };
    // the first share keeps the sigmoids and its backward reads them; the second recomputes them
    double *sg = malloc(sizeof(double) * (size_t)n);
    for (int t = 0; t < 2; t++) {
        batchnorm_silu_apply_f64(oc + share[t], t == 0 ? sg : NULL, xc + share[t], &part[t], &pn);
        silu_batchnorm_backward_sums_f64(gc + share[t], gsum, rc + share[t], t == 0 ? sg : NULL, xc + share[t], &part[t], &pn);
    }
    free(sg);
    for (int t = 0; t < 2; t++)
        batchnorm_backward_input_f64(gc + share[t], gc + share[t], xc + share[t], &part[t], &pn, gsum, (double)cs);
    double ep = 0;
    for (int c = 0; c < b.C; c++) {
        ep = fmax(ep, fabs(mean[c] - b.mean[c]) + fabs(rstd[c] - b.rstd[c]));
        ep = fmax(ep, fabs(gsum[c] - dbt[c]) + fabs(gsum[b.C + c] - dg[c]));
        for (int i = 0; i < b.B; i++)
            for (int j = 0; j < b.HW; j++) {
                size_t kc = c * cs + (size_t)i * b.HW + j, kn = ((size_t)i * b.C + c) * b.HW + j;
                ep = fmax(ep, fabs(oc[kc] - b.out[kn]) + fabs(gc[kc] - dx[kn]));
            }
    }
    CHECK(ep < 1e-12);
    free(xc); free(rc); free(oc); free(gc);
    free(b.x); free(b.gamma); free(b.beta); free(b.r); free(b.out); free(b.pre); free(b.mean); free(b.rstd);
    free(dx); free(dpre); free(dg); free(dbt);
}

// ---- max pool and upsampling -------------------------------------------------------------

typedef struct {
    int kind;   // 1 maxpool, 2 upsample
    int B, C, H, W, k;
    double *x, *r, *out;
    int *arg;
} Simple;

static double simple_loss(void *ctx) {
    Simple *s = ctx;
    long n = (long)s->B * s->C * s->H * s->W;
    if (s->kind == 1) {
        CHECK(maxpool_forward_f64(s->out, s->arg, s->x, s->B, s->C, s->H, s->W, s->k) == 0);
        return dot(s->out, s->r, n);
    }
    upsample2x_forward_f64(s->out, s->x, s->B, s->C, s->H, s->W);
    return dot(s->out, s->r, 4 * n);
}

static void test_simple(int kind, const char *name) {
    Simple s = { .kind = kind, .B = 2, .C = 3, .H = 6, .W = 5, .k = 5 };
    long n = (long)s.B * s.C * s.H * s.W, no = 4 * n;
    s.x = randn(n); s.r = randn(no);
    s.out = malloc(sizeof(double) * (size_t)no);
    s.arg = malloc(sizeof(int) * (size_t)n);
    double *dx = calloc((size_t)n, sizeof *dx);
    simple_loss(&s);
    if (kind == 1) maxpool_backward_f64(dx, s.r, s.arg, s.B, s.C, s.H, s.W);
    else upsample2x_backward_f64(dx, s.r, s.B, s.C, s.H, s.W);
    check_grad(name, s.x, dx, n, simple_loss, &s);
    free(s.x); free(s.r); free(s.out); free(s.arg); free(dx);
}

// Max pooling on values with many ties: the output and the argmax of a plain scan (rows
// outer, columns inner, the first maximum wins), as PyTorch routes the gradient.
static void test_maxpool_ties(int H, int W, int k) {
    int B = 2, C = 3, r = k / 2;
    long n = (long)B * C * H * W;
    double *x = malloc(sizeof(double) * (size_t)n), *out = malloc(sizeof(double) * (size_t)n);
    int *arg = malloc(sizeof(int) * (size_t)n);
    for (long i = 0; i < n; i++) x[i] = (double)rng_int(&g, 0, 3);
    CHECK(maxpool_forward_f64(out, arg, x, B, C, H, W, k) == 0);
    long bad = 0;
    for (long p = 0; p < (long)B * C; p++)
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                const double *v = x + p * H * W;
                int best = -1;
                for (int yy = y - r; yy <= y + r; yy++)
                    for (int xq = xx - r; xq <= xx + r; xq++)
                        if (yy >= 0 && yy < H && xq >= 0 && xq < W && (best < 0 || v[yy * W + xq] > v[best])) best = yy * W + xq;
                long o = p * H * W + y * W + xx;
                bad += arg[o] != best || out[o] != v[best];
            }
    CHECK(bad == 0);
    free(x); free(out); free(arg);
}

int main(void) {
    rng_seed(&g, 8, 0);
    // small maps: the images of a batch in one GEMM (conv_group_size)
    test_conv(2, 3, 7, 6, 4, 3, 1, 1);    // 3x3, same size
    test_conv(2, 3, 8, 7, 5, 3, 2, 1);    // 3x3, stride 2 (downsampling)
    test_conv(2, 4, 5, 5, 3, 1, 1, 0);    // 1x1: the images' rows side by side
    test_conv(3, 2, 10, 10, 3, 3, 1, 1);  // groups of 2 and 1 (100 positions)
    test_conv(1, 1, 12, 10, 4, 6, 2, 2);  // the 6x6 stride-2 stem, 1 input channel
    // large maps: one image a GEMM
    test_conv(2, 2, 16, 17, 3, 3, 1, 1);  // 3x3, 272 positions
    test_conv(2, 3, 16, 16, 2, 1, 1, 0);  // 1x1, no im2col
    // strided convolutions at odd and even widths, kernels wider than the stride, stride 3
    test_conv(1, 2, 21, 19, 3, 6, 2, 2);  // the stem's kernel, odd sizes, one image a GEMM
    test_conv(2, 2, 33, 34, 2, 3, 2, 1);  // 3x3 stride 2, 289 positions
    test_conv(2, 2, 11, 13, 3, 5, 3, 2);  // stride 3, negative and positive offsets
    // the input gradient by output phases (conv_grad_by_phases: 8 channels, large maps)
    test_conv(1, 8, 16, 17, 3, 3, 1, 1);  // stride 1, 272 positions, written straight into dx
    test_conv(2, 8, 18, 18, 2, 3, 1, 0);  // stride 1 without padding: the map shrinks
    test_conv(1, 8, 65, 66, 2, 3, 2, 1);  // stride 2, odd height: phases of 33 and 32 rows
    test_conv(1, 8, 70, 70, 2, 6, 2, 2);  // the stem's kernel: 9 taps in every phase
    test_conv(1, 8, 100, 101, 2, 5, 3, 2); // stride 3: phases with 4, 2 and 1 taps
    // strided convolutions whose stride phases have the output's size build columns from them
    test_conv(2, 3, 8, 10, 4, 3, 2, 1);   // 3x3 stride 2 on even sides
    test_conv(1, 2, 6, 8, 2, 4, 2, 1);    // an even kernel with odd padding
    test_conv(2, 2, 12, 9, 3, 5, 3, 2);   // stride 3
    // "same" stride-1 convolutions build columns as shifted planes (shifted_plane)
    test_conv(2, 3, 9, 10, 2, 5, 1, 2);   // 5x5: shifts of two rows and columns
    test_conv(1, 8, 16, 17, 2, 5, 1, 2);  // the same by phases
    test_conv(3, 2, 2, 2, 2, 5, 1, 2);    // shifts as wide as the map: whole planes of zeros
    CHECK(conv_group_size(32, 16) == 16 && conv_group_size(32, 64) == 4 && conv_group_size(32, 256) == 1);
    CHECK(conv_group_size(3, 100) == 2 && conv_group_size(2, 4096) == 1);
    test_batchnorm_silu();
    test_simple(1, "maxpool k5");
    test_maxpool_ties(6, 5, 5);
    test_maxpool_ties(4, 4, 5);   // SPPF at 128 px: every window clipped
    test_maxpool_ties(9, 7, 3);
    test_simple(2, "upsample2x");
    // max pool ties: the first maximum in scan order takes the gradient (PyTorch's choice),
    // not the centre, though the centre holds the same value
    {
        double x[9] = { 1, 5, 2, 5, 5, 0, 3, 5, 1 }, y[9], dy[9], dx[9];
        int arg[9];
        CHECK(maxpool_forward_f64(y, arg, x, 1, 1, 3, 3, 5) == 0);
        for (int i = 0; i < 9; i++) { CHECK(y[i] == 5); CHECK(arg[i] == 1); dy[i] = 1; }
        maxpool_backward_f64(dx, dy, arg, 1, 1, 3, 3);
        CHECK(dx[1] == 9 && dx[4] == 0 && dx[3] == 0);
    }
    printf("largest relative gradient error: %.2e\n", worst);
    return check_report("layers");
}
