#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void optim_defaults(OptConfig *c) {
    c->lr0 = 0.01f;
    c->lrf = 0.01f;
    c->momentum = 0.937f;
    c->weight_decay = 5e-4f;
    c->warmup_epochs = 3.0f;
    c->warmup_momentum = 0.8f;
    c->warmup_bias_lr = 0.1f;
    c->clip = 10.0f;
    c->epochs = 100;
    c->cos_lr = 0;
    c->nominal_batch = 64;
}

int optim_init(Optimizer *o, const Net *net, const OptConfig *c) {
    memset(o, 0, sizeof *o);
    o->cfg = *c;
    o->momentum_buf = calloc(net->n_floats, sizeof(float));
    o->ema = malloc(sizeof(float) * net->n_floats);
    if (!o->momentum_buf || !o->ema) return -1;
    memcpy(o->ema, net->params, sizeof(float) * net->n_floats);
    return 0;
}

void optim_free(Optimizer *o) {
    free(o->momentum_buf);
    free(o->ema);
    memset(o, 0, sizeof *o);
}

double optim_lr_factor(const OptConfig *c, int epoch) {
    double x = (double)epoch / c->epochs;
    if (c->cos_lr) return ((1 - cos(x * M_PI)) / 2) * (c->lrf - 1) + 1;
    return (1 - x) * (1.0 - c->lrf) + c->lrf;
}

static double interp(double x, double x0, double x1, double y0, double y1) {
    if (x <= x0) return y0;
    if (x >= x1) return y1;
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
}

void optim_schedule(const OptConfig *c, int epoch, long it, long per_epoch, double lr[3], double *momentum) {
    double f = optim_lr_factor(c, epoch);
    long nw = (long)fmax(round(c->warmup_epochs * per_epoch), 100);
    long ni = it + (long)epoch * per_epoch;
    for (int g = 0; g < 3; g++) lr[g] = c->lr0 * f;
    *momentum = c->momentum;
    if (ni <= nw) {
        for (int g = 0; g < 3; g++) lr[g] = interp((double)ni, 0, (double)nw, g == 2 ? c->warmup_bias_lr : 0.0, c->lr0 * f);
        *momentum = interp((double)ni, 0, (double)nw, c->warmup_momentum, c->momentum);
    }
}

double optim_clip(Net *net, float clip) {
    double s = 0;
    for (int i = 0; i < net->n_params; i++) {
        const Param *p = &net->param[i];
        if (!p->trainable) continue;
        const float *g = net->grads + p->offset;
        for (size_t j = 0; j < p->count; j++) s += (double)g[j] * g[j];
    }
    double norm = sqrt(s);
    if (norm > clip) {
        float k = (float)(clip / (norm + 1e-6));
        for (int i = 0; i < net->n_params; i++) {
            const Param *p = &net->param[i];
            if (!p->trainable) continue;
            float *g = net->grads + p->offset;
            for (size_t j = 0; j < p->count; j++) g[j] *= k;
        }
    }
    return norm;
}

// The group of a parameter: 0 batch-norm weights, 1 conv weights (decayed), 2 biases.
static int group_of(const Param *p) {
    if (p->decay) return 1;
    const char *s = strrchr(p->name, '.');
    return strcmp(s, ".weight") == 0 ? 0 : 2;
}

void optim_step(Optimizer *o, Net *net, const double lr[3], double momentum, int batch, int accumulate) {
    double wd = o->cfg.weight_decay * batch * accumulate / (double)o->cfg.nominal_batch;
    for (int i = 0; i < net->n_params; i++) {
        const Param *p = &net->param[i];
        if (!p->trainable) continue;
        int g = group_of(p);
        float *w = net->params + p->offset, *gr = net->grads + p->offset, *buf = o->momentum_buf + p->offset;
        float rate = (float)lr[g], mom = (float)momentum, decay = g == 1 ? (float)wd : 0.0f;
        for (size_t j = 0; j < p->count; j++) {
            // PyTorch's SGD with Nesterov: d = g + wd w; buf = mom buf + d; w -= lr (d + mom buf)
            float d = gr[j] + decay * w[j];
            buf[j] = o->has_momentum ? mom * buf[j] + d : d;
            w[j] -= rate * (d + mom * buf[j]);
        }
    }
    o->has_momentum = 1;
    o->updates++;
}

void optim_ema_update(Optimizer *o, const Net *net) {
    float d = (float)(0.9999 * (1 - exp(-(double)o->updates / 2000.0)));
    for (size_t j = 0; j < net->n_floats; j++) o->ema[j] = d * o->ema[j] + (1 - d) * net->params[j];
}
