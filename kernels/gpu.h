// The detector on the GPU: a device mirror of a Net (same layout, same parameter array),
// with cuDNN convolutions and batch norm, the element-wise kernels of gpu_ops.cu, and the
// optimiser on the device. The loss and the box decoding stay on the host, on the Detect
// outputs that the forward pass copies back (net_set_batch_outputs allocates them).
//
// Every function returns 0, or -1 with gpu_net_error() naming the CUDA or cuDNN call that
// failed and why. A CPU-only build (make CUDA=0) links kernels/gpu_stub.c, whose
// gpu_net_create fails with "built without CUDA".
#ifndef MAD_GPU_H
#define MAD_GPU_H

#include <stddef.h>

#include "loss.h"
#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct GpuNet GpuNet;

enum { GPU_MATH_TF32 = 0, GPU_MATH_FP32 = 1 };       // convolutions: Tensor Cores (TF32) or plain FP32
enum { GPU_PARAMS, GPU_GRADS, GPU_MOMENTUM, GPU_SECOND, GPU_EMA };   // device arrays of n_floats

// Mirrors net (which must outlive it) on the device: parameters copied, activations
// allocated for `batch`, convolution algorithms chosen. NULL with err on failure.
GpuNet *gpu_net_create(const Net *net, int batch, int math, char *err, size_t errn);
void gpu_net_free(GpuNet *g);
const char *gpu_net_error(const GpuNet *g);
// Re-sizes the activations for another batch size (algorithms are kept per batch size).
int gpu_net_set_batch(GpuNet *g, int batch);
int gpu_net_batch(const GpuNet *g);
// Host <-> device copies of one of the n_floats arrays (GPU_PARAMS, ...).
int gpu_net_upload(GpuNet *g, int which, const float *host);
int gpu_net_download(GpuNet *g, int which, float *host);
int gpu_net_zero_grad(GpuNet *g);
// x: (B, in_ch, size, size) on the host. Batch norm uses batch statistics and updates the
// running ones when training, else the running ones. out[l] (host) receives Detect level
// l's output (B, 3 * (5 + classes), H_l, W_l); out NULL: the outputs stay on the device
// (for gpu_net_loss).
int gpu_net_forward(GpuNet *g, const float *x, int training, float *const out[NET_LEVELS]);
// The loss of the last forward pass, on the device but for the assignments' box and class
// terms (loss.c's, on the host): the objectness over every cell, and the Detect gradients
// in place for gpu_net_backward(g, NULL). The net's host batch must equal the device's.
int gpu_net_loss(GpuNet *g, const Target *t, int nt, const LossOptions *o, LossParts *parts);
// dout[l] (host): the loss gradient of Detect level l; NULL: the gradients gpu_net_loss
// left on the device. Accumulates parameter gradients.
int gpu_net_backward(GpuNet *g, const float *const dout[NET_LEVELS]);
// Copies the Detect gradients that gpu_net_loss left on the device to the host (tests).
int gpu_net_detect_grads(GpuNet *g, float *const dout[NET_LEVELS]);
// The optimiser's device state: momentum (and AdamW's second moment), and the EMA, which
// starts as the parameters.
int gpu_net_optim_init(GpuNet *g, int adamw);
// Scales the gradients so their norm is at most clip; *norm gets the norm before.
int gpu_net_clip(GpuNet *g, float clip, double *norm);
// One SGD (Nesterov) step, as optim_step computes it, with weight decay wd on conv weights.
int gpu_net_sgd_step(GpuNet *g, const double lr[3], double momentum, double wd, int has_momentum);
// One AdamW step; t is the step number from 1.
int gpu_net_adamw_step(GpuNet *g, const double lr[3], double beta1, double wd, long t);
int gpu_net_ema_update(GpuNet *g, float decay);
// Exchanges the parameters and the EMA (validation runs with the EMA's weights).
void gpu_net_swap_ema(GpuNet *g);
// Profiling: gpu_net_profile(g, 1) before a step, gpu_net_profile(g, 0) after it adds the
// step's device time per kind of operation; gpu_net_profile_report writes the totals as a
// JSON object of milliseconds per step ({"conv_fwd": ..., ...}).
int gpu_net_profile(GpuNet *g, int on);
void gpu_net_profile_report(const GpuNet *g, char *buf, size_t n);
// Waits for the device; bytes of device memory in use by this net.
int gpu_net_sync(GpuNet *g);
size_t gpu_net_memory(const GpuNet *g);

// Data-parallel training between GPUs (kernels/gpu_nccl.cu): an NCCL communicator over
// the processes, one GPU each. A build without NCCL (or CUDA) links gpu_nccl_stub.c, whose
// functions fail saying so.
typedef struct GpuComm GpuComm;
enum { GPU_COMM_ID_BYTES = 128 };
// Makes device `index` this process's (before gpu_net_create): a process per GPU.
int gpu_use_device(int index, char *err, size_t n);
// Rank 0 makes the communicator's id (GPU_COMM_ID_BYTES), which every process then passes
// to gpu_comm_create with its rank.
int gpu_comm_id(void *id, char *err, size_t n);
GpuComm *gpu_comm_create(const void *id, int ranks, int rank, char *err, size_t n);
void gpu_comm_free(GpuComm *c);
// Sums the gradients over the processes, in place, on the net's stream (ncclAllReduce).
int gpu_net_sum_grads(GpuNet *g, GpuComm *c);

// Page-locked host memory, for fast and asynchronous copies (NULL when it cannot).
void *gpu_host_alloc(size_t bytes);
void gpu_host_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
