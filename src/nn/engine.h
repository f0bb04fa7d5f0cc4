// Where the detector runs: one interface over the CPU network (net.c, optim.c) and its GPU
// mirror (kernels/gpu.h), so that train, predict and the benchmarks drive either the same
// way. The loss and the box decoding always run on the host, on net's Detect outputs.
//
// Functions returning int give 0, or -1 with the reason in err (a GPU call that failed).
#ifndef NN_ENGINE_H
#define NN_ENGINE_H

#include "gpu.h"
#include "loss.h"
#include "net.h"
#include "optim.h"
#include "team.h"

typedef enum { DEVICE_AUTO, DEVICE_CPU, DEVICE_CUDA } DeviceChoice;

typedef struct {
    Net *net;
    Optimizer *opt;          // may be NULL (inference only)
    GpuNet *gpu;             // NULL: the CPU
    float *keep;             // CPU: the parameters while the EMA's are in use
    float *detect_buf;       // GPU: page-locked Detect outputs and gradients on the host
    int detect_cap;          // the batch detect_buf holds
    int ema_in;              // the EMA's weights are in use
    int fetch_outputs;       // GPU: copy the Detect outputs to the host in training too (tests)
    int loss_on_device;      // GPU: the last loss left its gradients on the device
    TeamTuner team;          // CPU: the size of the team of threads (team.h)
    double team_t0;          // CPU: when the current training step began
    char err[512];
} Engine;

// Parses "auto", "cpu" or "cuda"; -1 for anything else.
int engine_parse_device(const char *s, DeviceChoice *d);
// Parses "tf32" or "fp32"; -1 for anything else.
int engine_parse_math(const char *s, int *math);
// Picks the device: auto takes the GPU when one is present and usable, else the CPU; cuda
// fails without a usable GPU.
// *desc gets one line that says what was chosen and why.
int engine_init(Engine *e, Net *net, Optimizer *opt, DeviceChoice dev, int math, int batch, char *desc, size_t n);
void engine_free(Engine *e);
int engine_on_gpu(const Engine *e);
int engine_set_batch(Engine *e, int batch);
// x (B, in_ch, size, size) on the host; the Detect outputs land in net's Detect nodes.
int engine_forward(Engine *e, const float *x, int training);
// The loss of the last training forward pass (yolo_loss; on the GPU, gpu_net_loss).
int engine_loss(Engine *e, const Target *t, int nt, const LossOptions *o, LossParts *parts);
// Back-propagates the loss's gradients (engine_loss's, or on the CPU those that
// yolo_loss wrote into net's Detect nodes).
int engine_backward(Engine *e, const float *x);
int engine_zero_grad(Engine *e);
// Gradient clipping, an optimiser step and the EMA update, as optim.h does them.
int engine_step(Engine *e, const double lr[3], double momentum, int batch, int accumulate, float clip, double *norm);
// A training step's bounds, on the CPU: begin picks the team size for the step, end gives
// the tuner the step's time per image. Nothing on the GPU.
void engine_team_begin(Engine *e);
void engine_team_end(Engine *e, int images);
// Swaps the EMA's weights in (for validation) and back out.
int engine_use_ema(Engine *e, int on);
// Copies the device's parameters and optimiser state into net and opt (before saving), or
// the host's into the device (after a resume).
int engine_download(Engine *e);
int engine_upload(Engine *e);

#endif
