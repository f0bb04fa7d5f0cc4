#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "device.h"

int engine_parse_device(const char *s, DeviceChoice *d) {
    if (!strcmp(s, "auto")) *d = DEVICE_AUTO;
    else if (!strcmp(s, "cpu")) *d = DEVICE_CPU;
    else if (!strcmp(s, "cuda")) *d = DEVICE_CUDA;
    else return -1;
    return 0;
}

int engine_parse_math(const char *s, int *math) {
    if (!strcmp(s, "tf32")) *math = GPU_MATH_TF32;
    else if (!strcmp(s, "fp32")) *math = GPU_MATH_FP32;
    else return -1;
    return 0;
}

static int gpu_fail(Engine *e) {
    snprintf(e->err, sizeof e->err, "GPU: %s", gpu_net_error(e->gpu));
    return -1;
}

int engine_init(Engine *e, Net *net, Optimizer *opt, DeviceChoice dev, int math, int batch, char *desc, size_t n) {
    memset(e, 0, sizeof *e);
    e->net = net;
    e->opt = opt;
    char probe[256];
    int gpus = dev == DEVICE_CPU ? 0 : gpu_probe(probe, sizeof probe);
    if (dev == DEVICE_CPU) {
        snprintf(desc, n, "running on the CPU (--device cpu)");
    } else if (gpus == 0) {
        if (dev == DEVICE_CUDA) {
            snprintf(e->err, sizeof e->err, "--device cuda: %s", probe);
            return -1;
        }
        snprintf(desc, n, "%s; running on the CPU", probe);
    } else {
        char err[240];
        e->gpu = gpu_net_create(net, batch, math, err, sizeof err);
        if (e->gpu && opt && gpu_net_optim_init(e->gpu, opt->cfg.adamw) != 0) {
            snprintf(err, sizeof err, "%s", gpu_net_error(e->gpu));
            gpu_net_free(e->gpu);
            e->gpu = NULL;
        }
        if (!e->gpu && dev == DEVICE_CUDA) {
            snprintf(e->err, sizeof e->err, "GPU (%.200s): %s", probe, err);
            return -1;
        }
        if (e->gpu) snprintf(desc, n, "running on the GPU: %s, %s", probe, math == GPU_MATH_FP32 ? "FP32" : "TF32 convolutions");
        else snprintf(desc, n, "the GPU (%.200s) cannot be used: %.200s; running on the CPU", probe, err);
    }
    return engine_set_batch(e, batch);
}

void engine_free(Engine *e) {
    gpu_net_free(e->gpu);
    gpu_host_free(e->detect_buf);
    free(e->keep);
    memset(e, 0, sizeof *e);
}

int engine_on_gpu(const Engine *e) { return e->gpu != NULL; }

void engine_team_begin(Engine *e) {
    if (e->gpu) return;
    if (e->team.shares != e->net->threads) team_tuner_init(&e->team, e->net->threads);
    net_set_team(e->net, team_tuner_next(&e->team));
    e->team_t0 = omp_get_wtime();
}

void engine_team_end(Engine *e, int images) {
    if (e->gpu || images < 1) return;
    team_tuner_record(&e->team, (omp_get_wtime() - e->team_t0) / images);
}

int engine_set_batch(Engine *e, int B) {
    Net *n = e->net;
    if (!e->gpu) {
        if (n->batch == B) return 0;
        if (net_set_batch(n, B) != 0) {
            snprintf(e->err, sizeof e->err, "out of memory for a batch of %d", B);
            return -1;
        }
        return 0;
    }
    if (gpu_net_batch(e->gpu) != B && gpu_net_set_batch(e->gpu, B) != 0) return gpu_fail(e);
    if (n->batch == B && e->detect_buf) return 0;
    // the host holds only the Detect outputs and their gradients, page-locked, allocated
    // for the largest batch seen
    if (B > e->detect_cap) {
        size_t total = 0;
        for (int l = 0; l < NET_LEVELS; l++) {
            const Node *d = &n->node[n->detect[l]];
            total += 2 * (size_t)B * d->C * d->H * d->W;
        }
        if (gpu_net_sync(e->gpu) != 0) return gpu_fail(e);   // no copy may still read the old buffer
        gpu_host_free(e->detect_buf);
        e->detect_buf = gpu_host_alloc(sizeof(float) * total);
        if (!e->detect_buf) {
            e->detect_cap = 0;
            snprintf(e->err, sizeof e->err, "cannot allocate %zu MiB of page-locked host memory", (sizeof(float) * total) >> 20);
            return -1;
        }
        e->detect_cap = B;
    }
    float *p = e->detect_buf;
    for (int l = 0; l < NET_LEVELS; l++) {
        Node *d = &n->node[n->detect[l]];
        size_t act = (size_t)B * d->C * d->H * d->W;
        d->out = p; p += act;
        d->dout = p; p += act;
    }
    n->batch = B;
    return 0;
}

static void detect_arrays(Net *n, float *out[NET_LEVELS], float *dout[NET_LEVELS]) {
    for (int l = 0; l < NET_LEVELS; l++) {
        out[l] = n->node[n->detect[l]].out;
        dout[l] = n->node[n->detect[l]].dout;
    }
}

int engine_forward(Engine *e, const float *x, int training) {
    Net *n = e->net;
    if (!e->gpu) {
        int was = n->training, rc;
        n->training = training;
        rc = net_forward(n, x);
        n->training = was;
        if (rc != 0) {
            snprintf(e->err, sizeof e->err, "out of memory");
            return -1;
        }
        return 0;
    }
    float *out[NET_LEVELS], *dout[NET_LEVELS];
    detect_arrays(n, out, dout);
    e->loss_on_device = 0;
    // in training the loss reads the outputs on the device
    return gpu_net_forward(e->gpu, x, training, training && !e->fetch_outputs ? NULL : out) ? gpu_fail(e) : 0;
}

int engine_loss(Engine *e, const Target *t, int nt, const LossOptions *o, LossParts *parts) {
    if (!e->gpu) {
        if (yolo_loss(e->net, t, nt, o, parts, NULL) != 0) {
            snprintf(e->err, sizeof e->err, "out of memory");
            return -1;
        }
        return 0;
    }
    if (gpu_net_loss(e->gpu, t, nt, o, parts) != 0) return gpu_fail(e);
    e->loss_on_device = 1;
    return 0;
}

int engine_backward(Engine *e, const float *x) {
    if (!e->gpu) {
        net_backward(e->net, x);
        return 0;
    }
    float *out[NET_LEVELS], *dout[NET_LEVELS];
    detect_arrays(e->net, out, dout);
    return gpu_net_backward(e->gpu, e->loss_on_device ? NULL : (const float *const *)dout) ? gpu_fail(e) : 0;
}

int engine_zero_grad(Engine *e) {
    if (!e->gpu) {
        net_zero_grad(e->net);
        return 0;
    }
    return gpu_net_zero_grad(e->gpu) ? gpu_fail(e) : 0;
}

int engine_step(Engine *e, const double lr[3], double momentum, int batch, int accumulate, float clip, double *norm) {
    Optimizer *o = e->opt;
    if (!e->gpu) {
        *norm = optim_clip(e->net, clip);
        optim_step(o, e->net, lr, momentum, batch, accumulate);
        optim_ema_update(o, e->net);
        return 0;
    }
    double wd = o->cfg.weight_decay * batch * accumulate / (double)o->cfg.nominal_batch;
    if (gpu_net_clip(e->gpu, clip, norm)) return gpu_fail(e);
    int rc = o->cfg.adamw ? gpu_net_adamw_step(e->gpu, lr, o->cfg.momentum, wd, o->updates + 1)
                          : gpu_net_sgd_step(e->gpu, lr, momentum, wd, o->has_momentum);
    if (rc) return gpu_fail(e);
    o->has_momentum = 1;
    o->updates++;
    return gpu_net_ema_update(e->gpu, optim_ema_decay(o)) ? gpu_fail(e) : 0;
}

int engine_use_ema(Engine *e, int on) {
    Net *n = e->net;
    if (on == e->ema_in) return 0;
    e->ema_in = on;
    if (e->gpu) {
        gpu_net_swap_ema(e->gpu);
        return 0;
    }
    if (on) {
        if (!e->keep) e->keep = malloc(sizeof(float) * n->n_floats);
        if (!e->keep) {
            snprintf(e->err, sizeof e->err, "out of memory");
            return -1;
        }
        memcpy(e->keep, n->params, sizeof(float) * n->n_floats);
        memcpy(n->params, e->opt->ema, sizeof(float) * n->n_floats);
    } else {
        memcpy(n->params, e->keep, sizeof(float) * n->n_floats);
    }
    return 0;
}

int engine_download(Engine *e) {
    if (!e->gpu) return 0;
    Optimizer *o = e->opt;
    if (gpu_net_download(e->gpu, GPU_PARAMS, e->net->params)) return gpu_fail(e);
    if (o && (gpu_net_download(e->gpu, GPU_MOMENTUM, o->momentum_buf) || gpu_net_download(e->gpu, GPU_EMA, o->ema) ||
              (o->second && gpu_net_download(e->gpu, GPU_SECOND, o->second))))
        return gpu_fail(e);
    return 0;
}

int engine_upload(Engine *e) {
    if (!e->gpu) return 0;
    Optimizer *o = e->opt;
    if (gpu_net_upload(e->gpu, GPU_PARAMS, e->net->params)) return gpu_fail(e);
    if (o && (gpu_net_upload(e->gpu, GPU_MOMENTUM, o->momentum_buf) || gpu_net_upload(e->gpu, GPU_EMA, o->ema) ||
              (o->second && gpu_net_upload(e->gpu, GPU_SECOND, o->second))))
        return gpu_fail(e);
    return 0;
}
