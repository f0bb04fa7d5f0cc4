// The CPU-only build (make CUDA=0): the GPU detector is not compiled in.
#include <stdio.h>
#include <stdlib.h>

#include "gpu.h"

GpuNet *gpu_net_create(const Net *net, int batch, int math, char *err, size_t errn) {
    snprintf(err, errn, "built without CUDA (make CUDA=0)");
    return NULL;
}
void gpu_net_free(GpuNet *g) {}
const char *gpu_net_error(const GpuNet *g) { return "built without CUDA"; }
int gpu_net_set_batch(GpuNet *g, int batch) { return -1; }
int gpu_net_batch(const GpuNet *g) { return 0; }
int gpu_net_upload(GpuNet *g, int which, const float *host) { return -1; }
int gpu_net_download(GpuNet *g, int which, float *host) { return -1; }
int gpu_net_zero_grad(GpuNet *g) { return -1; }
int gpu_net_forward(GpuNet *g, const float *x, int training, float *const out[NET_LEVELS]) { return -1; }
int gpu_net_backward(GpuNet *g, const float *const dout[NET_LEVELS]) { return -1; }
int gpu_net_loss(GpuNet *g, const Target *t, int nt, const LossOptions *o, LossParts *parts) { return -1; }
int gpu_net_optim_init(GpuNet *g, int adamw) { return -1; }
int gpu_net_detect_grads(GpuNet *g, float *const dout[NET_LEVELS]) { return -1; }
int gpu_net_clip(GpuNet *g, float clip, double *norm) { return -1; }
int gpu_net_sgd_step(GpuNet *g, const double lr[3], double momentum, double wd, int has_momentum) { return -1; }
int gpu_net_adamw_step(GpuNet *g, const double lr[3], double beta1, double wd, long t) { return -1; }
int gpu_net_ema_update(GpuNet *g, float decay) { return -1; }
void gpu_net_swap_ema(GpuNet *g) {}
int gpu_net_sync(GpuNet *g) { return -1; }
int gpu_net_profile(GpuNet *g, int on) { return -1; }
void gpu_net_profile_report(const GpuNet *g, char *buf, size_t n) { snprintf(buf, n, "{}"); }
size_t gpu_net_memory(const GpuNet *g) { return 0; }
void *gpu_host_alloc(size_t bytes) { return malloc(bytes); }
void gpu_host_free(void *p) { free(p); }
