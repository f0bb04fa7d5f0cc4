// Data-parallel training over the processes of dist.h: what train adds to one process's
// step so that N processes train one model.
//
// Every process holds the whole dataset, the same shuffled order and the same weights.
// Each builds its part of every global batch (loader.h), and normalises its loss by the
// global batch's images and assignments (loss.h), so that the processes' gradients add up
// to the global batch's; they are summed after each backward pass (CPU: MPI) or before each
// optimiser step (GPU: NCCL), and every process takes the same step.
#ifndef TRAIN_DDP_H
#define TRAIN_DDP_H

#include "data.h"
#include "dist.h"
#include "engine.h"

typedef struct {
    const Dist *dist;
    Engine *eng;
    NetSync sync;            // the CPU network's sums over the processes (net.h)
    GpuComm *comm;           // GPU processes: NCCL
    float *acc;              // CPU: the gradients summed so far this optimiser step (n_floats)
} Ddp;

// DataOptions.share: every process's block of decoded images to every process.
int ddp_share_images(void *dist, Dataset *d, int parts);

// Picks this process's GPU before engine_init, where the device may be a GPU: the one in
// sight, or with several the local rank's. -1 with err when there are fewer GPUs than
// processes on this machine.
int ddp_pick_gpu(const Dist *dist, DeviceChoice device, char *err, size_t n);
// After engine_init: checks that every process runs on the same kind of device, and sets
// up the sums (NCCL between GPUs). -1 with err.
int ddp_init(Ddp *p, const Dist *dist, Engine *eng, int sync_bn, char *err, size_t n);
void ddp_free(Ddp *p);

// Before a step's loss: the global batch's normalisers into lo (global: the batch's images
// over every process).
int ddp_loss_norm(Ddp *p, const Target *t, int nt, int global, LossOptions *lo, char *err, size_t n);
// After each backward pass (CPU): the gradients summed over the processes into the step's
// sum; net's own are zeroed for the next pass.
void ddp_after_backward(Ddp *p);
// Before the optimiser step: the summed gradients in place (GPU: NCCL's all-reduce). -1
// with the engine's err.
int ddp_before_step(Ddp *p);

#endif
