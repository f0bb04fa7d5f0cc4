// gpu_parity: the GPU path against the CPU reference on the same weights and batch.
//
//   gpu_parity [--width W] [--depth D] [--classes K] [--size S] [--batch B] [--channels C]
//              [--gpu-math tf32|fp32] [--optimizer sgd|adamw] [--steps N] [--tol X] [--all]
//              [--self]   (the CPU against itself: checks this harness, every error is 0)
//              [--soft]   (each target gets a random class probability vector as its soft
//                          class target, as train --weight probs gives them)
//
// Two copies of one network (same seed) see one random batch with random targets; the CPU
// runs net.c and yolo_loss, the GPU the CUDA path and gpu_net_loss. Compared, as the
// normwise relative error |gpu - cpu| / |cpu| per tensor:
//   detect        the Detect outputs of the first training step
//   loss          its loss parts
//   detect grad   the loss gradient at the Detect outputs
//   gradient      every parameter gradient
//   running stat  the batch-norm running statistics after the step
//   optimiser     one clipping + optimiser + EMA step from identical state and gradients
//                 (the CPU's copied to the GPU): parameters, moments and EMA
//   update, ema   N full steps, the GPU taking the CPU's parameters before each (its
//                 momentum and EMA carry over): the parameters' and the EMA's change
//   trajectory    N free steps on each side (printed, not counted: see below)
// A kind counts towards pass/fail when its comparison is well conditioned in that mode:
// every kind with fp32 and SGD; with AdamW not the N-step update (its first steps move
// each weight by about lr * sign(gradient), so a gradient near 0 flips it); with tf32
// only detect, loss, running stat and optimiser (tf32 rounds each convolution's operands
// to 10 mantissa bits, and the gradients of ~60 layers compound it: those are printed for
// comparison with PyTorch's own tf32 error, scripts/tf32_anchor.py).
// Tolerance: --tol [2e-4 with fp32, 1e-3 with tf32]. Exit 0 pass, 1 fail, 77 no GPU.
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "loss.h"
#include "rng.h"
#include "synthetic.h"

enum { K_DETECT, K_LOSS, K_DGRAD, K_GRAD, K_STAT, K_OPTIM, K_UPDATE, K_EMA, K_COUNT };

typedef struct {
    const char *what;
    char name[96];
    double err;
    int gate, used;
} Worst;

static double rel_err(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i] - b[i];
        d += x * x;
        r += (double)b[i] * b[i];
    }
    if (r == 0) return d == 0 ? 0 : INFINITY;
    return sqrt(d / r);
}

static void note(Worst *w, const char *name, double err, int all) {
    if (all) printf("  %-14s %-40s %.3e\n", w->what, name, err);
    w->used = 1;
    if (err > w->err || isnan(err)) {
        w->err = err;
        snprintf(w->name, sizeof w->name, "%s", name);
    }
}

static int run_step(Engine *e, const float *x, const Target *t, int nt, const LossOptions *lo, LossParts *lp, int B, int step) {
    if (engine_zero_grad(e) || engine_forward(e, x, 1) || engine_loss(e, t, nt, lo, lp) || engine_backward(e, x)) return -1;
    if (!step) return 0;
    double lr[3] = { 0.01, 0.01, 0.01 }, norm;
    return engine_step(e, lr, 0.937, B, 1, 10.0f, &norm);
}

// The GPU side takes the CPU side's parameters, moments, EMA and step count.
static int copy_state(Engine *ge, const Net *cn, const Optimizer *co) {
    Net *gn = ge->net;
    Optimizer *go = ge->opt;
    size_t nb = sizeof(float) * cn->n_floats;
    memcpy(gn->params, cn->params, nb);
    memcpy(go->momentum_buf, co->momentum_buf, nb);
    memcpy(go->ema, co->ema, nb);
    if (co->second) memcpy(go->second, co->second, nb);
    go->updates = co->updates;
    go->has_momentum = co->has_momentum;
    return engine_upload(ge);
}

static int die(const Engine *a, const Engine *b) {
    fprintf(stderr, "gpu_parity: %s%s\n", a->err, b->err);
    return 1;
}

int main(int argc, char **argv) {
    NetConfig cfg = { 0.25f, 0.33f, 1, 10, 128 };
    int B = 8, steps = 3, math = GPU_MATH_FP32, adamw = 0, all = 0, self = 0, soft = 0;
    double tol = -1;
    static const struct option opts[] = { { "width", 1, 0, 'w' },  { "depth", 1, 0, 'd' },    { "classes", 1, 0, 'k' },
                                          { "size", 1, 0, 's' },   { "batch", 1, 0, 'b' },    { "channels", 1, 0, 'c' },
                                          { "gpu-math", 1, 0, 'M' }, { "optimizer", 1, 0, 'O' }, { "steps", 1, 0, 'n' },
                                          { "tol", 1, 0, 't' },    { "all", 0, 0, 'a' },      { "self", 0, 0, 'S' },
                                          { "soft", 0, 0, 'P' },   { 0, 0, 0, 0 } };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'w': cfg.width = strtof(optarg, NULL); break;
        case 'd': cfg.depth = strtof(optarg, NULL); break;
        case 'k': cfg.classes = atoi(optarg); break;
        case 's': cfg.size = atoi(optarg); break;
        case 'b': B = atoi(optarg); break;
        case 'c': cfg.in_ch = atoi(optarg); break;
        case 'M': if (engine_parse_math(optarg, &math)) return 2; break;
        case 'O': adamw = !strcmp(optarg, "adamw"); break;
        case 'n': steps = atoi(optarg); break;
        case 't': tol = atof(optarg); break;
        case 'a': all = 1; break;
        case 'S': self = 1; break;
        case 'P': soft = 1; break;
        default: fprintf(stderr, "gpu_parity: bad option\n"); return 2;
        }
    }
    int fp32 = math == GPU_MATH_FP32;
    if (tol < 0) tol = fp32 ? 2e-4 : 1e-3;
    Net cn, gn;
    if (net_build(&cn, &cfg, 7) || net_build(&gn, &cfg, 7)) { fprintf(stderr, "gpu_parity: cannot build\n"); return 1; }
    OptConfig oc;
    optim_defaults(&oc);
    oc.adamw = adamw;
    Optimizer co, go;
    if (optim_init(&co, &cn, &oc) || optim_init(&go, &gn, &oc)) return 1;
    Engine ce, ge;
    char desc[512];
    if (engine_init(&ge, &gn, &go, self ? DEVICE_CPU : DEVICE_CUDA, math, B, desc, sizeof desc) != 0) {
        printf("gpu_parity: skipped: %s\n", ge.err);
        return strstr(ge.err, "--device cuda") ? 77 : 1;
    }
    ge.fetch_outputs = 1;
    printf("gpu_parity: %s\n", desc);
    if (engine_init(&ce, &cn, &co, DEVICE_CPU, math, B, desc, sizeof desc) != 0) { fprintf(stderr, "gpu_parity: %s\n", ce.err); return 1; }

    // a random batch and targets (2-3 boxes per image, EARL weights 1..3)
    Rng r;
    rng_seed(&r, 11, 5);
    size_t nx = (size_t)B * cfg.in_ch * cfg.size * cfg.size;
    float *x = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_uniform(&r);
    Target *t = malloc(sizeof *t * (size_t)(3 * B));
    int nt = random_targets(&r, B, cfg.classes, t);
    // soft class targets: one random probability vector per target (a Dirichlet(1) draw)
    float *probs = soft ? malloc(sizeof(float) * (size_t)(nt * cfg.classes + 1)) : NULL;
    for (int i = 0; soft && i < nt; i++) {
        double sum = 0, v[256];
        for (int k = 0; k < cfg.classes && k < 256; k++) sum += (v[k] = -log(1 - rng_uniform(&r)));
        for (int k = 0; k < cfg.classes && k < 256; k++) probs[i * cfg.classes + k] = (float)(v[k] / sum);
        t[i].probs = probs + (size_t)i * cfg.classes;
    }
    if (soft) printf("gpu_parity: soft class targets (a probability vector per target)\n");
    LossOptions lo;
    loss_defaults(&lo);
    size_t nf = cn.n_floats;
    float *p0 = malloc(sizeof(float) * nf), *gbuf = malloc(sizeof(float) * nf), *gparam = malloc(sizeof(float) * nf);
    float *dc = malloc(sizeof(float) * nf), *dg = malloc(sizeof(float) * nf);
    memcpy(p0, cn.params, sizeof(float) * nf);
    Worst w[K_COUNT] = { { "detect", "", 0, 1, 0 },      { "loss", "", 0, 1, 0 },         { "detect grad", "", 0, fp32, 0 },
                         { "gradient", "", 0, fp32, 0 }, { "running stat", "", 0, 1, 0 }, { "optimiser", "", 0, 1, 0 },
                         { "update", "", 0, fp32 && !adamw, 0 }, { "ema", "", 0, fp32 && !adamw, 0 } };

    double traj = NAN, traj_cpu = NAN;

    // one step without the optimiser: outputs, loss, gradients, running statistics
    LossParts lc, lg;
    if (run_step(&ce, x, t, nt, &lo, &lc, B, 0) || run_step(&ge, x, t, nt, &lo, &lg, B, 0)) return die(&ce, &ge);
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &cn.node[cn.detect[l]];
        char name[32];
        snprintf(name, sizeof name, "P%d", l + 3);
        note(&w[K_DETECT], name, rel_err(gn.node[gn.detect[l]].out, d->out, (size_t)B * d->C * d->H * d->W), all);
    }
    float *gd[NET_LEVELS];
    for (int l = 0; l < NET_LEVELS; l++) gd[l] = gn.node[gn.detect[l]].dout;   // host buffers, unused by the device loss
    if (self) {
        memcpy(gbuf, gn.grads, sizeof(float) * nf);
        memcpy(gparam, gn.params, sizeof(float) * nf);
    } else if (gpu_net_detect_grads(ge.gpu, gd) || gpu_net_download(ge.gpu, GPU_GRADS, gbuf) || gpu_net_download(ge.gpu, GPU_PARAMS, gparam)) {
        fprintf(stderr, "gpu_parity: %s\n", gpu_net_error(ge.gpu));
        return 1;
    }
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &cn.node[cn.detect[l]];
        char name[32];
        snprintf(name, sizeof name, "P%d", l + 3);
        note(&w[K_DGRAD], name, rel_err(gd[l], d->dout, (size_t)B * d->C * d->H * d->W), all);
    }
    const char *pn[3] = { "box", "obj", "cls" };
    double pc[3] = { lc.box, lc.obj, lc.cls }, pg[3] = { lg.box, lg.obj, lg.cls };
    for (int k = 0; k < 3; k++)   // a part that is 0 on both sides (cls with one class) agrees
        note(&w[K_LOSS], pn[k], pg[k] == pc[k] ? 0 : fabs(pg[k] - pc[k]) / fabs(pc[k]), all);
    for (int i = 0; i < cn.n_params; i++) {
        const Param *p = &cn.param[i];
        if (p->trainable) note(&w[K_GRAD], p->name, rel_err(gbuf + p->offset, cn.grads + p->offset, p->count), all);
        else note(&w[K_STAT], p->name, rel_err(gparam + p->offset, cn.params + p->offset, p->count), all);
    }
    double gall = rel_err(gbuf, cn.grads, nf);

    // the optimiser from identical state: the CPU's parameters, gradients, moments and EMA
    {
        double lr[3] = { 0.01, 0.02, 0.03 }, ncpu, ngpu;
        if (engine_step(&ce, lr, 0.937, B, 1, 10.0f, &ncpu) || engine_zero_grad(&ce) || run_step(&ce, x, t, nt, &lo, &lc, B, 0))
            return die(&ce, &ge);
        if (copy_state(&ge, &cn, &co)) return die(&ce, &ge);
        if (self) memcpy(gn.grads, cn.grads, sizeof(float) * nf);
        else if (gpu_net_upload(ge.gpu, GPU_GRADS, cn.grads)) return die(&ce, &ge);
        float *ema0 = malloc(sizeof(float) * nf);
        memcpy(p0, cn.params, sizeof(float) * nf);
        memcpy(ema0, co.ema, sizeof(float) * nf);
        if (engine_step(&ce, lr, 0.937, B, 1, 10.0f, &ncpu) || engine_step(&ge, lr, 0.937, B, 1, 10.0f, &ngpu) || engine_download(&ge))
            return die(&ce, &ge);
        note(&w[K_OPTIM], "gradient norm", fabs(ngpu - ncpu) / ncpu, all);
        for (size_t j = 0; j < nf; j++) { dc[j] = cn.params[j] - p0[j]; dg[j] = gn.params[j] - p0[j]; }
        note(&w[K_OPTIM], "parameter step", rel_err(dg, dc, nf), all);
        note(&w[K_OPTIM], adamw ? "first moment" : "momentum", rel_err(go.momentum_buf, co.momentum_buf, nf), all);
        if (adamw) note(&w[K_OPTIM], "second moment", rel_err(go.second, co.second, nf), all);
        for (size_t j = 0; j < nf; j++) { dc[j] = co.ema[j] - ema0[j]; dg[j] = go.ema[j] - ema0[j]; }
        note(&w[K_OPTIM], "ema step", rel_err(dg, dc, nf), all);
        free(ema0);
        // both continue from the CPU's state
        if (copy_state(&ge, &cn, &co)) return die(&ce, &ge);
        memcpy(p0, cn.params, sizeof(float) * nf);
        memcpy(gbuf, co.ema, sizeof(float) * nf);
    }

    // N full steps from the CPU's state, twice.
    //   update, ema   before each step the GPU takes the CPU's parameters; its momentum and
    //                 EMA carry over. Compared: the sum of the steps' parameter changes, and
    //                 the EMA's change.
    //   trajectory    both run free. Printed, not counted: SPPF's max pools gather a whole
    //                 channel's gradient at one pixel on small maps, so when the two largest
    //                 values of a channel lie within rounding of each other the argmax, and
    //                 with it the backbone's gradient, can jump between two runs. The CPU
    //                 against itself with the inputs moved by 1e-6 is printed beside it.
    if (steps > 0) {
        float *m0 = malloc(sizeof(float) * nf), *e0 = malloc(sizeof(float) * nf), *before = malloc(sizeof(float) * nf);
        float *x2 = malloc(sizeof(float) * nx);
        long u0 = co.updates;
        int hm0 = co.has_momentum;
        memcpy(m0, co.momentum_buf, sizeof(float) * nf);
        memcpy(e0, co.ema, sizeof(float) * nf);
        float *s0 = co.second ? malloc(sizeof(float) * nf) : NULL;
        if (s0) memcpy(s0, co.second, sizeof(float) * nf);
        memset(dc, 0, sizeof(float) * nf);
        memset(dg, 0, sizeof(float) * nf);
        for (int st = 0; st < steps; st++) {
            memcpy(before, cn.params, sizeof(float) * nf);
            if (self) memcpy(gn.params, cn.params, sizeof(float) * nf);
            else if (gpu_net_upload(ge.gpu, GPU_PARAMS, cn.params)) return die(&ce, &ge);
            if (run_step(&ce, x, t, nt, &lo, &lc, B, 1) || run_step(&ge, x, t, nt, &lo, &lg, B, 1) || engine_download(&ge))
                return die(&ce, &ge);
            for (size_t j = 0; j < nf; j++) { dc[j] += cn.params[j] - before[j]; dg[j] += gn.params[j] - before[j]; }
        }
        note(&w[K_UPDATE], "all parameters", rel_err(dg, dc, nf), all);
        for (size_t j = 0; j < nf; j++) { dc[j] = co.ema[j] - e0[j]; dg[j] = go.ema[j] - e0[j]; }
        note(&w[K_EMA], "all parameters", rel_err(dg, dc, nf), all);

        // the free runs: the CPU, the GPU, and a second CPU on inputs moved by up to 1e-6
        Net yn;
        Optimizer yo;
        Engine ye;
        if (net_build(&yn, &cfg, 7) || optim_init(&yo, &yn, &oc) || engine_init(&ye, &yn, &yo, DEVICE_CPU, math, B, desc, sizeof desc))
            { fprintf(stderr, "gpu_parity: cannot build the second CPU copy\n"); return 1; }
        Rng r2;
        rng_seed(&r2, 13, 5);
        for (size_t i = 0; i < nx; i++) x2[i] = x[i] + (float)(1e-6 * rng_uniform(&r2));
        memcpy(cn.params, p0, sizeof(float) * nf);
        memcpy(co.momentum_buf, m0, sizeof(float) * nf);
        memcpy(co.ema, e0, sizeof(float) * nf);
        if (s0) memcpy(co.second, s0, sizeof(float) * nf);
        co.updates = u0;
        co.has_momentum = hm0;
        if (copy_state(&ge, &cn, &co) || copy_state(&ye, &cn, &co)) return die(&ce, &ge);
        LossParts lp;
        for (int st = 0; st < steps; st++)
            if (run_step(&ce, x, t, nt, &lo, &lc, B, 1) || run_step(&ge, x, t, nt, &lo, &lg, B, 1) || run_step(&ye, x2, t, nt, &lo, &lp, B, 1))
                return die(&ce, &ge);
        if (engine_download(&ge)) return die(&ce, &ge);
        float *dp = before;
        for (size_t j = 0; j < nf; j++) { dc[j] = cn.params[j] - p0[j]; dg[j] = gn.params[j] - p0[j]; dp[j] = yn.params[j] - p0[j]; }
        traj = rel_err(dg, dc, nf);
        traj_cpu = rel_err(dp, dc, nf);
        printf("  loss after %d free steps: cpu %.6g gpu %.6g\n", steps, lc.total, lg.total);
        engine_free(&ye);
        optim_free(&yo);
        net_free(&yn);
        free(m0); free(e0); free(s0); free(before); free(x2);
    }
    printf("  %-14s %-40s %-12s %s\n", "kind", "worst tensor", "error", "counts");
    double worst = 0;
    for (int k = 0; k < K_COUNT; k++) {
        if (!w[k].used) continue;
        printf("  %-14s %-40s %.3e    %s\n", w[k].what, w[k].name, w[k].err, w[k].gate ? "yes" : "no (printed)");
        if (w[k].gate && !(w[k].err <= worst)) worst = w[k].err;
    }
    if (steps > 0)
        printf("  %-14s %-40s %.3e    no (printed; the CPU against itself, inputs moved by 1e-6: %.3e)\n", "trajectory",
               "all parameters", traj, traj_cpu);
    printf("  all gradients together: %.3e\n", gall);
    int pass = worst <= tol;   // NaN fails
    printf("parity: %s (%s, %s, worst counted %.3e, tolerance %.1e; gradients %.3e; width %g, %d px, batch %d, %d classes, %d channel(s))\n",
           pass ? "pass" : "FAIL", fp32 ? "fp32" : "tf32", adamw ? "adamw" : "sgd", worst, tol, gall, (double)cfg.width, cfg.size, B,
           cfg.classes, cfg.in_ch);
    engine_free(&ce);
    engine_free(&ge);
    optim_free(&co);
    optim_free(&go);
    net_free(&cn);
    net_free(&gn);
    free(x); free(t); free(probs); free(p0); free(gbuf); free(gparam); free(dc); free(dg);
    return pass ? 0 : 1;
}
