// Training the network as YOLOv5 trains it: SGD with Nesterov momentum in three parameter
// groups (batch-norm weights, conv weights with weight decay, biases), warmup, linear or
// one-cycle decay, gradient clipping and an exponential moving average of the weights.
#ifndef NN_OPTIM_H
#define NN_OPTIM_H

#include "net.h"

typedef struct {
    float lr0, lrf, momentum, weight_decay;
    float warmup_epochs, warmup_momentum, warmup_bias_lr;
    float clip;           // gradient norm limit (10)
    int epochs;
    int cos_lr;           // one-cycle (1) or linear (0) decay
    int nominal_batch;    // 64: weight decay is scaled by batch * accumulate / 64
    int adamw;            // AdamW (betas momentum, 0.999; decoupled decay) instead of SGD
} OptConfig;

typedef struct {
    OptConfig cfg;
    float *momentum_buf;  // one per parameter float (AdamW: the first moment)
    float *second;        // AdamW's second moment, else NULL
    float *ema;           // the moving average of every parameter (running stats too)
    long updates;         // optimiser steps taken (for the EMA's decay ramp)
    int has_momentum;
} Optimizer;

void optim_defaults(OptConfig *c);
int optim_init(Optimizer *o, const Net *net, const OptConfig *c);
void optim_free(Optimizer *o);

// The learning-rate factor of an epoch (before warmup).
double optim_lr_factor(const OptConfig *c, int epoch);
// Iterations of warmup: max(warmup_epochs * per_epoch, 100), or 0 without warmup.
long optim_warmup_iters(const OptConfig *c, long per_epoch);
// Learning rates of the three groups and the momentum at iteration `it` (of `per_epoch`
// per epoch) in `epoch`: warmup ramps over max(warmup_epochs * per_epoch, 100) iterations.
void optim_schedule(const OptConfig *c, int epoch, long it, long per_epoch, double lr[3], double *momentum);
// Scales gradients so that their norm is at most cfg.clip; returns the norm before.
double optim_clip(Net *net, float clip);
// One SGD (or AdamW) step with the given rates (weight decay scaled for batch * accumulate).
void optim_step(Optimizer *o, Net *net, const double lr[3], double momentum, int batch, int accumulate);
// Updates the EMA after a step: decay 0.9999 * (1 - exp(-updates / 2000)).
void optim_ema_update(Optimizer *o, const Net *net);
float optim_ema_decay(const Optimizer *o);
// A parameter's group: 0 batch-norm weights, 1 conv weights (decayed), 2 biases.
int optim_group(const Param *p);

#endif
