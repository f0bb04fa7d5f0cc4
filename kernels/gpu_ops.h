// Launchers of the CUDA path's own kernels (kernels/gpu_ops.cu): the element-wise layers,
// max pooling, upsampling, and the optimiser's per-element updates. Each launches on the
// given stream and returns the launch's status (cudaGetLastError).
#ifndef MAD_GPU_OPS_H
#define MAD_GPU_OPS_H

#include <cuda_runtime.h>
#include <stddef.h>

// out = silu(pre) (n elements); dpre = dout * silu'(pre).
cudaError_t gpu_silu_forward(float *out, const float *pre, size_t n, cudaStream_t s);
cudaError_t gpu_silu_backward(float *dpre, const float *dout, const float *pre, size_t n, cudaStream_t s);
// out = a + b; dst += src.
cudaError_t gpu_add(float *out, const float *a, const float *b, size_t n, cudaStream_t s);
cudaError_t gpu_accumulate(float *dst, const float *src, size_t n, cudaStream_t s);
// dst (B, m) += src (B, stride) restricted to columns [0, m): a concatenation's gradient slice.
cudaError_t gpu_slice_accumulate(float *dst, const float *src, int B, size_t m, size_t stride, cudaStream_t s);
// Nearest upsampling by 2 of P planes of H x W, and its backward (dinp = or += the sum of
// the four outputs each input feeds).
cudaError_t gpu_upsample2x_forward(float *out, const float *inp, long P, int H, int W, cudaStream_t s);
cudaError_t gpu_upsample2x_backward(float *dinp, const float *dout, long P, int H, int W, int accumulate, cudaStream_t s);
// Max pooling k x k, stride 1, padding k/2 (padding never wins) of P planes; argmax gets the
// winning input index within its plane, the first maximum in scan order (as the CPU path).
// The backward gathers, for each input, the gradients of the outputs it won.
cudaError_t gpu_maxpool_forward(float *out, int *argmax, const float *inp, long P, int H, int W, int k, cudaStream_t s);
cudaError_t gpu_maxpool_backward(float *dinp, const float *dout, const int *argmax, long P, int H, int W, int k,
                                 int accumulate, cudaStream_t s);
// The optimiser. group (n): 0 batch-norm weights, 1 conv weights (decayed), 2 biases,
// 255 not trained (running statistics). partial (blocks) receives per-block sums of the
// squared gradients of trained elements; gpu_sumsq_blocks says how many blocks it uses.
int gpu_sumsq_blocks(size_t n);
cudaError_t gpu_sumsq(double *partial, const float *g, const unsigned char *group, size_t n, cudaStream_t s);
cudaError_t gpu_scale(float *x, float k, size_t n, cudaStream_t s);
cudaError_t gpu_sgd_step(float *w, float *buf, const float *g, const unsigned char *group, size_t n, float lr0, float lr1,
                         float lr2, float mom, float decay, int has_momentum, cudaStream_t s);
cudaError_t gpu_adamw_step(float *w, float *m, float *v, const float *g, const unsigned char *group, size_t n,
                           const float lr[3], const float step[3], float decay, float b1, float b2, float rc2, float eps,
                           cudaStream_t s);
cudaError_t gpu_ema(float *ema, const float *p, size_t n, float d, cudaStream_t s);

#endif
