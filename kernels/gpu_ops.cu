// The CUDA path's own kernels: SiLU, sums, max pooling, upsampling and the optimiser's
// updates. The per-element math comes from src/nn/pointwise.h, shared with the CPU path.
#include "gpu_ops.h"

#include "pointwise.h"

static const int THREADS = 256;

static int blocks_for(size_t n) {
    size_t b = (n + THREADS - 1) / THREADS;
    if (b > 65535u * 16) b = 65535u * 16;   // grid-stride loops cover the rest
    return (int)(b ? b : 1);
}

#define GRID_LOOP(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

__global__ void silu_forward_kernel(float *out, const float *pre, size_t n) {
    GRID_LOOP(i, n) out[i] = silu_f(pre[i]);
}

__global__ void silu_backward_kernel(float *dpre, const float *dout, const float *pre, size_t n) {
    GRID_LOOP(i, n) dpre[i] = silu_backward_f(pre[i], dout[i]);
}

__global__ void add_kernel(float *out, const float *a, const float *b, size_t n) {
    GRID_LOOP(i, n) out[i] = a[i] + b[i];
}

__global__ void accumulate_kernel(float *dst, const float *src, size_t n) {
    GRID_LOOP(i, n) dst[i] += src[i];
}

__global__ void slice_accumulate_kernel(float *dst, const float *src, size_t total, size_t m, size_t stride) {
    GRID_LOOP(i, total) {
        size_t b = i / m, j = i % m;
        dst[i] += src[b * stride + j];
    }
}

__global__ void upsample_forward_kernel(float *out, const float *inp, size_t total, int H, int W) {
    GRID_LOOP(i, total) {
        size_t x = i % (2 * W), y = (i / (2 * W)) % (2 * H), p = i / ((size_t)4 * H * W);
        out[i] = inp[(p * H + y / 2) * W + x / 2];
    }
}

__global__ void upsample_backward_kernel(float *dinp, const float *dout, size_t total, int H, int W, int accumulate) {
    GRID_LOOP(i, total) {
        size_t x = i % W, y = (i / W) % H, p = i / ((size_t)H * W);
        const float *g = dout + (p * 2 * H + 2 * y) * 2 * W + 2 * x;
        float v = g[0] + g[1] + g[2 * W] + g[2 * W + 1];
        dinp[i] = accumulate ? dinp[i] + v : v;
    }
}

__global__ void maxpool_forward_kernel(float *out, int *argmax, const float *inp, size_t total, int H, int W, int k) {
    int r = k / 2;
    GRID_LOOP(i, total) {
        int xx = (int)(i % W), y = (int)((i / W) % H);
        const float *x = inp + (i / ((size_t)H * W)) * H * W;
        int best = -1;
        for (int dy = -r; dy <= r; dy++) {
            int yy = y + dy;
            if (yy < 0 || yy >= H) continue;
            for (int dx = -r; dx <= r; dx++) {
                int xq = xx + dx;
                if (xq < 0 || xq >= W) continue;
                if (best < 0 || x[yy * W + xq] > x[best]) best = yy * W + xq;
            }
        }
        out[i] = x[best];
        argmax[i] = best;
    }
}

// Each input sums the gradients of the outputs in its window that chose it: no atomics,
// and the same order on every run.
__global__ void maxpool_backward_kernel(float *dinp, const float *dout, const int *argmax, size_t total, int H, int W, int k,
                                        int accumulate) {
    int r = k / 2;
    GRID_LOOP(i, total) {
        int xx = (int)(i % W), y = (int)((i / W) % H), me = y * W + xx;
        size_t base = (i / ((size_t)H * W)) * H * W;
        float v = 0;
        for (int dy = -r; dy <= r; dy++) {
            int yy = y + dy;
            if (yy < 0 || yy >= H) continue;
            for (int dx = -r; dx <= r; dx++) {
                int xq = xx + dx;
                if (xq < 0 || xq >= W) continue;
                size_t o = base + yy * W + xq;
                if (argmax[o] == me) v += dout[o];
            }
        }
        dinp[i] = accumulate ? dinp[i] + v : v;
    }
}

static const int SUMSQ_BLOCKS = 1024;

__global__ void sumsq_kernel(double *partial, const float *g, const unsigned char *group, size_t n) {
    __shared__ double s[THREADS];
    double q = 0;
    GRID_LOOP(i, n) if (group[i] != 255) q += (double)g[i] * g[i];
    s[threadIdx.x] = q;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h >>= 1) {
        if ((int)threadIdx.x < h) s[threadIdx.x] += s[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

__global__ void scale_kernel(float *x, float k, size_t n) {
    GRID_LOOP(i, n) x[i] *= k;
}

__global__ void sgd_kernel(float *w, float *buf, const float *g, const unsigned char *group, size_t n, float lr0, float lr1,
                           float lr2, float mom, float decay, int has_momentum) {
    GRID_LOOP(i, n) {
        int grp = group[i];
        if (grp == 255) continue;
        float rate = grp == 0 ? lr0 : grp == 1 ? lr1 : lr2;
        sgd_nesterov_f(&w[i], &buf[i], g[i], rate, mom, grp == 1 ? decay : 0.0f, has_momentum);
    }
}

struct AdamRates { float lr[3], step[3]; };

__global__ void adamw_kernel(float *w, float *m, float *v, const float *g, const unsigned char *group, size_t n, AdamRates r,
                             float decay, float b1, float b2, float rc2, float eps) {
    GRID_LOOP(i, n) {
        int grp = group[i];
        if (grp == 255) continue;
        adamw_f(&w[i], &m[i], &v[i], g[i], r.lr[grp], grp == 1 ? decay : 0.0f, b1, b2, r.step[grp], rc2, eps);
    }
}

__global__ void ema_kernel(float *ema, const float *p, size_t n, float d) {
    GRID_LOOP(i, n) ema[i] = ema_f(ema[i], p[i], d);
}

#define LAUNCH(kernel, n, s, ...)                                    \
    do {                                                             \
        if ((n) > 0) kernel<<<blocks_for(n), THREADS, 0, s>>>(__VA_ARGS__); \
        return cudaGetLastError();                                   \
    } while (0)

cudaError_t gpu_silu_forward(float *out, const float *pre, size_t n, cudaStream_t s) { LAUNCH(silu_forward_kernel, n, s, out, pre, n); }
cudaError_t gpu_silu_backward(float *dpre, const float *dout, const float *pre, size_t n, cudaStream_t s) {
    LAUNCH(silu_backward_kernel, n, s, dpre, dout, pre, n);
}
cudaError_t gpu_add(float *out, const float *a, const float *b, size_t n, cudaStream_t s) { LAUNCH(add_kernel, n, s, out, a, b, n); }
cudaError_t gpu_accumulate(float *dst, const float *src, size_t n, cudaStream_t s) { LAUNCH(accumulate_kernel, n, s, dst, src, n); }
cudaError_t gpu_slice_accumulate(float *dst, const float *src, int B, size_t m, size_t stride, cudaStream_t s) {
    size_t total = (size_t)B * m;
    LAUNCH(slice_accumulate_kernel, total, s, dst, src, total, m, stride);
}
cudaError_t gpu_upsample2x_forward(float *out, const float *inp, long P, int H, int W, cudaStream_t s) {
    size_t total = (size_t)P * 4 * H * W;
    LAUNCH(upsample_forward_kernel, total, s, out, inp, total, H, W);
}
cudaError_t gpu_upsample2x_backward(float *dinp, const float *dout, long P, int H, int W, int accumulate, cudaStream_t s) {
    size_t total = (size_t)P * H * W;
    LAUNCH(upsample_backward_kernel, total, s, dinp, dout, total, H, W, accumulate);
}
cudaError_t gpu_maxpool_forward(float *out, int *argmax, const float *inp, long P, int H, int W, int k, cudaStream_t s) {
    size_t total = (size_t)P * H * W;
    LAUNCH(maxpool_forward_kernel, total, s, out, argmax, inp, total, H, W, k);
}
cudaError_t gpu_maxpool_backward(float *dinp, const float *dout, const int *argmax, long P, int H, int W, int k, int accumulate,
                                 cudaStream_t s) {
    size_t total = (size_t)P * H * W;
    LAUNCH(maxpool_backward_kernel, total, s, dinp, dout, argmax, total, H, W, k, accumulate);
}
int gpu_sumsq_blocks(size_t n) {
    (void)n;
    return SUMSQ_BLOCKS;
}
cudaError_t gpu_sumsq(double *partial, const float *g, const unsigned char *group, size_t n, cudaStream_t s) {
    sumsq_kernel<<<SUMSQ_BLOCKS, THREADS, 0, s>>>(partial, g, group, n);
    return cudaGetLastError();
}
cudaError_t gpu_scale(float *x, float k, size_t n, cudaStream_t s) { LAUNCH(scale_kernel, n, s, x, k, n); }
cudaError_t gpu_sgd_step(float *w, float *buf, const float *g, const unsigned char *group, size_t n, float lr0, float lr1,
                         float lr2, float mom, float decay, int has_momentum, cudaStream_t s) {
    LAUNCH(sgd_kernel, n, s, w, buf, g, group, n, lr0, lr1, lr2, mom, decay, has_momentum);
}
cudaError_t gpu_adamw_step(float *w, float *m, float *v, const float *g, const unsigned char *group, size_t n,
                           const float lr[3], const float step[3], float decay, float b1, float b2, float rc2, float eps,
                           cudaStream_t s) {
    AdamRates r;
    for (int i = 0; i < 3; i++) { r.lr[i] = lr[i]; r.step[i] = step[i]; }
    LAUNCH(adamw_kernel, n, s, w, m, v, g, group, n, r, decay, b1, b2, rc2, eps);
}
cudaError_t gpu_ema(float *ema, const float *p, size_t n, float d, cudaStream_t s) { LAUNCH(ema_kernel, n, s, ema, p, n, d); }
