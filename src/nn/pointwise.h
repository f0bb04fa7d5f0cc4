// Per-element math shared by the CPU path and the CUDA kernels (gcc and nvcc both compile
// these static inline functions), so that the CPU tests cover the GPU's arithmetic too:
//
//   silu(x) = x sigmoid(x), and its derivative for the backward pass
//   sgd_nesterov      PyTorch's SGD with Nesterov momentum and coupled weight decay
//   adamw             PyTorch's AdamW (decoupled weight decay), bias corrections precomputed
//   ema               the exponential moving average of a weight
#ifndef NN_POINTWISE_H
#define NN_POINTWISE_H

#include <math.h>

#ifdef __CUDACC__
#define NN_PW static inline __host__ __device__
#else
#define NN_PW static inline
#endif

NN_PW float silu_f(float x) { return x / (1.0f + expf(-x)); }

// d silu / dx at x, times the incoming gradient dy.
NN_PW float silu_backward_f(float x, float dy) {
    float s = 1.0f / (1.0f + expf(-x));
    return dy * s * (1.0f + x * (1.0f - s));
}

// d = g + decay w; buf = mom buf + d (buf = d on the first step); w -= rate (d + mom buf).
NN_PW void sgd_nesterov_f(float *w, float *buf, float g, float rate, float mom, float decay, int has_momentum) {
    float d = g + decay * *w;
    *buf = has_momentum ? mom * *buf + d : d;
    *w -= rate * (d + mom * *buf);
}

// w -= rate decay w; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// w -= step m / (sqrt(v) rc2 + eps), with step = rate / (1 - b1^t) and rc2 = 1 / sqrt(1 - b2^t).
NN_PW void adamw_f(float *w, float *m, float *v, float g, float rate, float decay, float b1, float b2, float step,
                   float rc2, float eps) {
    *w -= rate * decay * *w;
    *m = b1 * *m + (1 - b1) * g;
    *v = b2 * *v + (1 - b2) * g * g;
    *w -= step * *m / (sqrtf(*v) * rc2 + eps);
}

NN_PW float ema_f(float e, float p, float d) { return d * e + (1 - d) * p; }

#endif
