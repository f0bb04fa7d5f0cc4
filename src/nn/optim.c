#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pointwise.h"

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
    c->adamw = 0;
}

int optim_init(Optimizer *o, const Net *net, const OptConfig *c) {
    memset(o, 0, sizeof *o);
    o->cfg = *c;
    o->momentum_buf = calloc(net->n_floats, sizeof(float));
    o->ema = malloc(sizeof(float) * net->n_floats);
    if (c->adamw) o->second = calloc(net->n_floats, sizeof(float));
    if (!o->momentum_buf || !o->ema || (c->adamw && !o->second)) return -1;
    memcpy(o->ema, net->params, sizeof(float) * net->n_floats);
    return 0;
}

void optim_free(Optimizer *o) {
    free(o->momentum_buf);
    free(o->ema);
    free(o->second);
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

long optim_warmup_iters(const OptConfig *c, long per_epoch) {
    return c->warmup_epochs > 0 ? (long)fmax(round(c->warmup_epochs * per_epoch), 100) : 0;
}

void optim_schedule(const OptConfig *c, int epoch, long it, long per_epoch, double lr[3], double *momentum) {
    double f = optim_lr_factor(c, epoch);
    long nw = optim_warmup_iters(c, per_epoch);
    long ni = it + (long)epoch * per_epoch;
    for (int g = 0; g < 3; g++) lr[g] = c->lr0 * f;
    *momentum = c->momentum;
    if (ni <= nw && nw > 0) {
        for (int g = 0; g < 3; g++) lr[g] = interp((double)ni, 0, (double)nw, g == 2 ? c->warmup_bias_lr : 0.0, c->lr0 * f);
        *momentum = interp((double)ni, 0, (double)nw, c->warmup_momentum, c->momentum);
    }
}

// The optimiser's loops run over parameters on all threads (dynamic: sizes differ by 10^4);
// each element is computed on its own, and the norm's per-parameter sums are added in
// order afterwards, so results do not depend on the thread count.
double optim_clip(Net *net, float clip) {
    double part[NET_MAX_PARAMS] = { 0 }, s = 0;
    #pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < net->n_params; i++) {
        const Param *p = &net->param[i];
        if (!p->trainable) continue;
        const float *g = net->grads + p->offset;
        double q = 0;
        for (size_t j = 0; j < p->count; j++) q += (double)g[j] * g[j];
        part[i] = q;
    }
    for (int i = 0; i < net->n_params; i++) s += part[i];
    double norm = sqrt(s);
    if (norm > clip) {
        float k = (float)(clip / (norm + 1e-6));
        #pragma omp parallel for schedule(dynamic)
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

// AdamW as PyTorch computes it: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// w -= lr wd w (decoupled), w -= lr m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps).
static void adamw_step(Optimizer *o, Net *net, const double lr[3], double wd) {
    const double b1 = o->cfg.momentum, b2 = 0.999, eps = 1e-8;
    double t = (double)o->updates + 1, c1 = 1 - pow(b1, t), c2 = 1 - pow(b2, t);
    #pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < net->n_params; i++) {
        const Param *p = &net->param[i];
        if (!p->trainable) continue;
        int g = group_of(p);
        float *w = net->params + p->offset, *gr = net->grads + p->offset;
        float *m = o->momentum_buf + p->offset, *v = o->second + p->offset;
        float rate = (float)lr[g], decay = g == 1 ? (float)wd : 0.0f;
        float fb1 = (float)b1, fb2 = (float)b2, step = (float)(lr[g] / c1), rc2 = (float)(1 / sqrt(c2));
        for (size_t j = 0; j < p->count; j++) adamw_f(&w[j], &m[j], &v[j], gr[j], rate, decay, fb1, fb2, step, rc2, (float)eps);
    }
    o->has_momentum = 1;
    o->updates++;
}

void optim_step(Optimizer *o, Net *net, const double lr[3], double momentum, int batch, int accumulate) {
    double wd = o->cfg.weight_decay * batch * accumulate / (double)o->cfg.nominal_batch;
    if (o->cfg.adamw) { adamw_step(o, net, lr, wd); return; }
    #pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < net->n_params; i++) {
        const Param *p = &net->param[i];
        if (!p->trainable) continue;
        int g = group_of(p);
        float *w = net->params + p->offset, *gr = net->grads + p->offset, *buf = o->momentum_buf + p->offset;
        float rate = (float)lr[g], mom = (float)momentum, decay = g == 1 ? (float)wd : 0.0f;
        int hm = o->has_momentum;
        for (size_t j = 0; j < p->count; j++) sgd_nesterov_f(&w[j], &buf[j], gr[j], rate, mom, decay, hm);
    }
    o->has_momentum = 1;
    o->updates++;
}

float optim_ema_decay(const Optimizer *o) { return (float)(0.9999 * (1 - exp(-(double)o->updates / 2000.0))); }

void optim_ema_update(Optimizer *o, const Net *net) {
    float d = optim_ema_decay(o);
    #pragma omp parallel for schedule(static)
    for (size_t j = 0; j < net->n_floats; j++) o->ema[j] = ema_f(o->ema[j], net->params[j], d);
}

int optim_group(const Param *p) { return group_of(p); }
