// gpu_parity: the GPU path against the CPU reference on the same weights and batch.
//
//   gpu_parity [--width W] [--depth D] [--classes K] [--size S] [--batch B] [--channels C]
//              [--gpu-math tf32|fp32] [--optimizer sgd|adamw] [--steps N] [--tol X] [--all]
//
// Two copies of one network (same seed) see one random batch with random targets. The CPU
// runs net.c, the GPU the CUDA path; both use the host loss on their own Detect outputs.
// Compared, as the normwise relative error |gpu - cpu| / |cpu| per tensor:
//   - the Detect outputs and the loss parts of the first training step;
//   - every parameter gradient and the batch-norm running statistics after it;
//   - after N full steps (forward, loss, backward, clipping, optimiser, EMA), the change of
//     the parameters and of the EMA since the start.
// Prints the worst tensor of each kind (--all: every tensor) and "parity: pass" or
// "parity: FAIL" against --tol [2e-4 with fp32, 1e-2 with tf32]. Exit 0 pass, 1 fail,
// 77 when there is no GPU (skipped).
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "loss.h"
#include "rng.h"

typedef struct {
    const char *what;   // kind of tensor
    char name[96];
    double err;
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
    if (err > w->err || isnan(err)) {
        w->err = err;
        snprintf(w->name, sizeof w->name, "%s", name);
    }
}

static int run_step(Engine *e, const float *x, const Target *t, int nt, const LossOptions *lo, LossParts *lp, int B, int step) {
    if (engine_zero_grad(e) || engine_forward(e, x, 1)) return -1;
    if (yolo_loss(e->net, t, nt, lo, lp, NULL)) return -1;
    if (engine_backward(e, x)) return -1;
    if (!step) return 0;
    double lr[3] = { 0.01, 0.01, 0.01 }, norm;
    return engine_step(e, lr, 0.937, B, 1, 10.0f, &norm);
}

int main(int argc, char **argv) {
    NetConfig cfg = { 0.25f, 0.33f, 1, 10, 128 };
    int B = 8, steps = 3, math = GPU_MATH_FP32, adamw = 0, all = 0;
    double tol = -1;
    static const struct option opts[] = { { "width", 1, 0, 'w' },  { "depth", 1, 0, 'd' },    { "classes", 1, 0, 'k' },
                                          { "size", 1, 0, 's' },   { "batch", 1, 0, 'b' },    { "channels", 1, 0, 'c' },
                                          { "gpu-math", 1, 0, 'M' }, { "optimizer", 1, 0, 'O' }, { "steps", 1, 0, 'n' },
                                          { "tol", 1, 0, 't' },    { "all", 0, 0, 'a' },      { 0, 0, 0, 0 } };
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
        default: fprintf(stderr, "gpu_parity: bad option\n"); return 2;
        }
    }
    // TF32 rounds each convolution's operands to a 10-bit mantissa (about 5e-4 relative),
    // and the error compounds over some 60 convolutions
    if (tol < 0) tol = math == GPU_MATH_FP32 ? 2e-4 : 1e-2;
    Net cn, gn;
    if (net_build(&cn, &cfg, 7) || net_build(&gn, &cfg, 7)) { fprintf(stderr, "gpu_parity: cannot build\n"); return 1; }
    OptConfig oc;
    optim_defaults(&oc);
    oc.adamw = adamw;
    Optimizer co, go;
    if (optim_init(&co, &cn, &oc) || optim_init(&go, &gn, &oc)) return 1;
    Engine ce, ge;
    char desc[512];
    if (engine_init(&ge, &gn, &go, DEVICE_CUDA, math, B, desc, sizeof desc) != 0) {
        printf("gpu_parity: skipped: %s\n", ge.err);
        return strstr(ge.err, "--device cuda") ? 77 : 1;
    }
    printf("gpu_parity: %s\n", desc);
    if (engine_init(&ce, &cn, &co, DEVICE_CPU, math, B, desc, sizeof desc) != 0) { fprintf(stderr, "gpu_parity: %s\n", ce.err); return 1; }

    // a random batch and targets (2-3 boxes per image, EARL weights 1..3)
    Rng r;
    rng_seed(&r, 11, 5);
    size_t nx = (size_t)B * cfg.in_ch * cfg.size * cfg.size;
    float *x = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_uniform(&r);
    Target *t = malloc(sizeof *t * (size_t)(3 * B));
    int nt = 0;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < 2 + (b % 2); k++) {
            float w = (float)rng_range(&r, 0.08, 0.4), h = (float)rng_range(&r, 0.08, 0.4);
            t[nt++] = (Target){ b, rng_int(&r, 0, cfg.classes - 1), (float)rng_range(&r, w / 2, 1 - w / 2),
                                (float)rng_range(&r, h / 2, 1 - h / 2), w, h, (float)rng_range(&r, 1, 3) };
        }
    LossOptions lo;
    loss_defaults(&lo);
    size_t nf = cn.n_floats;
    float *p0 = malloc(sizeof(float) * nf), *ggrad = malloc(sizeof(float) * nf), *gparam = malloc(sizeof(float) * nf);
    float *gema = malloc(sizeof(float) * nf), *dc = malloc(sizeof(float) * nf), *dg = malloc(sizeof(float) * nf);
    memcpy(p0, cn.params, sizeof(float) * nf);

    // one step without the optimiser: outputs, loss, gradients, running statistics
    LossParts lc, lg;
    if (run_step(&ce, x, t, nt, &lo, &lc, B, 0) || run_step(&ge, x, t, nt, &lo, &lg, B, 0)) {
        fprintf(stderr, "gpu_parity: %s%s\n", ce.err, ge.err);
        return 1;
    }
    if (gpu_net_download(ge.gpu, GPU_GRADS, ggrad) || gpu_net_download(ge.gpu, GPU_PARAMS, gparam)) {
        fprintf(stderr, "gpu_parity: %s\n", gpu_net_error(ge.gpu));
        return 1;
    }
    Worst w[6] = { { "detect", "", 0 }, { "loss", "", 0 }, { "gradient", "", 0 }, { "running stat", "", 0 }, { "update", "", 0 }, { "ema", "", 0 } };
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &cn.node[cn.detect[l]];
        char name[32];
        snprintf(name, sizeof name, "P%d", l + 3);
        note(&w[0], name, rel_err(gn.node[gn.detect[l]].out, d->out, (size_t)B * d->C * d->H * d->W), all);
    }
    const char *pn[3] = { "box", "obj", "cls" };
    double pc[3] = { lc.box, lc.obj, lc.cls }, pg[3] = { lg.box, lg.obj, lg.cls };
    for (int k = 0; k < 3; k++)   // a part that is 0 on both sides (cls with one class) agrees
        note(&w[1], pn[k], pg[k] == pc[k] ? 0 : fabs(pg[k] - pc[k]) / fabs(pc[k]), all);
    for (int i = 0; i < cn.n_params; i++) {
        const Param *p = &cn.param[i];
        if (p->trainable) note(&w[2], p->name, rel_err(ggrad + p->offset, cn.grads + p->offset, p->count), all);
        else note(&w[3], p->name, rel_err(gparam + p->offset, cn.params + p->offset, p->count), all);
    }
    double gall = rel_err(ggrad, cn.grads, nf);

    // N full steps: the parameters' and the EMA's change since the start
    for (int s = 0; s < steps; s++)
        if (run_step(&ce, x, t, nt, &lo, &lc, B, 1) || run_step(&ge, x, t, nt, &lo, &lg, B, 1)) {
            fprintf(stderr, "gpu_parity: %s%s\n", ce.err, ge.err);
            return 1;
        }
    if (steps > 0) {
        if (engine_download(&ge)) { fprintf(stderr, "gpu_parity: %s\n", ge.err); return 1; }
        memcpy(gema, go.ema, sizeof(float) * nf);
        for (size_t j = 0; j < nf; j++) { dc[j] = cn.params[j] - p0[j]; dg[j] = gn.params[j] - p0[j]; }
        note(&w[4], "all parameters", rel_err(dg, dc, nf), all);
        for (size_t j = 0; j < nf; j++) { dc[j] = co.ema[j] - p0[j]; dg[j] = gema[j] - p0[j]; }
        note(&w[5], "all parameters", rel_err(dg, dc, nf), all);
        printf("  loss after %d steps: cpu %.6g gpu %.6g\n", steps, lc.total, lg.total);
    }
    printf("  %-14s %-40s %s\n", "kind", "worst tensor", "normwise relative error");
    double worst = 0;
    for (int k = 0; k < 6; k++) {
        if (k >= 4 && steps == 0) continue;
        printf("  %-14s %-40s %.3e\n", w[k].what, w[k].name, w[k].err);
        if (!(w[k].err <= worst)) worst = w[k].err;
    }
    printf("  all gradients together: %.3e\n", gall);
    int pass = worst <= tol;   // NaN fails
    printf("parity: %s (%s, %s, worst %.3e, tolerance %.1e; preset width %g, %d px, batch %d, %d classes, %d channel(s))\n",
           pass ? "pass" : "FAIL", math == GPU_MATH_FP32 ? "fp32" : "tf32", adamw ? "adamw" : "sgd", worst, tol, (double)cfg.width,
           cfg.size, B, cfg.classes, cfg.in_ch);
    engine_free(&ce);
    engine_free(&ge);
    optim_free(&co);
    optim_free(&go);
    net_free(&cn);
    net_free(&gn);
    free(x); free(t); free(p0); free(ggrad); free(gparam); free(gema); free(dc); free(dg);
    return pass ? 0 : 1;
}
