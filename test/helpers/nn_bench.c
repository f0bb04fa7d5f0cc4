// nn_bench: training and inference throughput of the C detector on synthetic batches, for
// `make bench-train` (scripts/bench-train.sh runs scripts/bench_train.py beside it).
//
//   nn_bench [--width W] [--depth D] [--classes K] [--size S] [--batch B] [--steps N]
//            [--device cpu|cuda|auto] [--gpu-math tf32|fp32] [--profile]
//
// A training step is what `train` does per batch: forward, the YOLOv5 loss with EARL
// weights, backward, gradient clipping, an SGD step and the EMA update. Inference is an
// eval-mode forward pass and the box decoding with NMS. Prints one JSON object:
// {"train_images_per_s", "predict_images_per_s", "peak_rss_mib", "threads", ...}; on the GPU
// also "device", "gpu_mem_mib" (the network's device memory) and "macs_per_image", and with
// --profile "profile_ms": the device time per kind of operation of a training step (five
// more steps, timed with events after the timed ones); on the CPU, the time per kind of
// node, forward and backward.
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine.h"
#include "loss.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "synthetic.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// The CPU's time per kind of node, from Net.node_ms summed over `steps` training steps, in
// ms per step: a JSON object {"conv k3 s1 32px": [forward, backward, M multiply-adds of the
// forward], ...}, the kinds in order of first appearance.
static void cpu_profile_report(const Net *n, const double *ms, int steps, char *out, size_t cap) {
    static const char *type_name[] = { "input", "conv", "detect", "add", "concat", "upsample", "maxpool" };
    char key[NET_MAX_NODES][48];
    double f[NET_MAX_NODES] = { 0 }, b[NET_MAX_NODES] = { 0 }, macs[NET_MAX_NODES] = { 0 };
    int nk = 0;
    for (int i = 1; i < n->n_nodes; i++) {
        const Node *d = &n->node[i];
        char k[48];
        if (d->type == NODE_CONV || d->type == NODE_DETECT)
            snprintf(k, sizeof k, "%s k%d s%d %dpx", type_name[d->type], d->k, d->stride, d->H);
        else
            snprintf(k, sizeof k, "%s %dpx", type_name[d->type], d->H);
        int j = 0;
        while (j < nk && strcmp(key[j], k) != 0) j++;
        if (j == nk) snprintf(key[nk++], sizeof key[0], "%s", k);
        if (d->type == NODE_CONV || d->type == NODE_DETECT)
            macs[j] += (double)n->batch * d->C * d->H * d->W * n->node[d->in[0]].C * d->k * d->k;
        f[j] += ms[i] / steps;
        b[j] += ms[NET_MAX_NODES + i] / steps;
    }
    size_t len = (size_t)snprintf(out, cap, "{");
    for (int j = 0; j < nk && len < cap; j++)
        len += (size_t)snprintf(out + len, cap - len, "%s\"%s\":[%.2f,%.2f,%.0f]", j ? "," : "", key[j], f[j], b[j], macs[j] / 1e6);
    if (len < cap) snprintf(out + len, cap - len, "}");
}

int main(int argc, char **argv) {
    NetConfig cfg = { 0.1875f, 0.33f, 1, 10, 128 };
    int B = 32, steps = 10, math = GPU_MATH_TF32, profile = 0;
    DeviceChoice dev = DEVICE_CPU;
    static const struct option opts[] = { { "width", 1, 0, 'w' }, { "depth", 1, 0, 'd' }, { "classes", 1, 0, 'k' },
                                          { "size", 1, 0, 's' }, { "batch", 1, 0, 'b' }, { "steps", 1, 0, 'n' },
                                          { "device", 1, 0, 'D' }, { "gpu-math", 1, 0, 'M' }, { "profile", 0, 0, 'P' },
                                          { 0, 0, 0, 0 } };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'w': cfg.width = strtof(optarg, NULL); break;
        case 'd': cfg.depth = strtof(optarg, NULL); break;
        case 'k': cfg.classes = atoi(optarg); break;
        case 's': cfg.size = atoi(optarg); break;
        case 'b': B = atoi(optarg); break;
        case 'n': steps = atoi(optarg); break;
        case 'P': profile = 1; break;
        case 'D': if (engine_parse_device(optarg, &dev)) { fprintf(stderr, "nn_bench: bad --device\n"); return 2; } break;
        case 'M': if (engine_parse_math(optarg, &math)) { fprintf(stderr, "nn_bench: bad --gpu-math\n"); return 2; } break;
        default: fprintf(stderr, "nn_bench: bad option\n"); return 2;
        }
    }
    Net n;
    if (net_build(&n, &cfg, 1) != 0) { fprintf(stderr, "nn_bench: cannot build\n"); return 1; }
    Rng r;
    rng_seed(&r, 1, 2);
    size_t nx = (size_t)B * cfg.size * cfg.size;
    float *x = gpu_host_alloc(sizeof(float) * nx), *xm = NULL;   // page-locked where CUDA is built in
    if (!x) x = xm = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_uniform(&r);
    Target *t = malloc(sizeof *t * (size_t)(3 * B));
    int nt = random_targets(&r, B, cfg.classes, t);
    OptConfig oc;
    optim_defaults(&oc);
    Optimizer opt;
    if (optim_init(&opt, &n, &oc) != 0) return 1;
    Engine eng;
    char desc[512];
    if (engine_init(&eng, &n, &opt, dev, math, B, desc, sizeof desc) != 0) { fprintf(stderr, "nn_bench: %s\n", eng.err); return 1; }
    fprintf(stderr, "nn_bench: %s\n", desc);
    int ok = 1;
    LossOptions lo;
    loss_defaults(&lo);
    double lr[3] = { 0.01, 0.01, 0.01 };
    double t0 = 0, ph[4] = { 0 };   // seconds in forward, loss, backward, optimiser
    for (int s = 0; s < steps + 2; s++) {
        if (s == 2) { t0 = now(); ph[0] = ph[1] = ph[2] = ph[3] = 0; }   // two warm-up steps
        double a = now();
        engine_team_begin(&eng);
        ok &= engine_zero_grad(&eng) == 0 && engine_forward(&eng, x, 1) == 0;
        if (eng.gpu) ok &= gpu_net_sync(eng.gpu) == 0;   // each phase's own time
        double b = now();
        LossParts lp;
        ok &= engine_loss(&eng, t, nt, &lo, &lp) == 0;
        double c2 = now();
        ok &= engine_backward(&eng, x) == 0;
        if (eng.gpu) ok &= gpu_net_sync(eng.gpu) == 0;
        double d = now();
        double norm;
        ok &= engine_step(&eng, lr, 0.937, B, 1, oc.clip, &norm) == 0;
        if (eng.gpu) ok &= gpu_net_sync(eng.gpu) == 0;
        engine_team_end(&eng, B);
        double e = now();
        ph[0] += b - a; ph[1] += c2 - b; ph[2] += d - c2; ph[3] += e - d;
    }
    double train = steps * (double)B / (now() - t0);
    // --profile: five more steps, timed per kind of operation (GPU) or per node (CPU)
    char prof[4096] = "{}";
    enum { PROFILE_STEPS = 5 };
    double *node_ms = profile && !eng.gpu ? calloc(2 * NET_MAX_NODES, sizeof *node_ms) : NULL;
    if (profile && !eng.gpu && !node_ms) ok = 0;
    n.node_ms = node_ms;
    for (int s = 0; profile && ok && s < PROFILE_STEPS; s++) {
        double norm;
        if (eng.gpu) ok &= gpu_net_profile(eng.gpu, 1) == 0;
        ok &= engine_zero_grad(&eng) == 0 && engine_forward(&eng, x, 1) == 0;
        LossParts lp;
        ok &= engine_loss(&eng, t, nt, &lo, &lp) == 0 && engine_backward(&eng, x) == 0;
        ok &= engine_step(&eng, lr, 0.937, B, 1, oc.clip, &norm) == 0;
        if (eng.gpu) ok &= gpu_net_profile(eng.gpu, 0) == 0;
    }
    n.node_ms = NULL;
    if (profile && ok && eng.gpu) gpu_net_profile_report(eng.gpu, prof, sizeof prof);
    if (node_ms && ok) cpu_profile_report(&n, node_ms, PROFILE_STEPS, prof, sizeof prof);
    free(node_ms);
    Det *dets = malloc(sizeof *dets * 300 * (size_t)omp_get_max_threads());
    for (int s = 0; s < steps + 2; s++) {
        if (s == 2) t0 = now();
        ok &= engine_forward(&eng, x, 0) == 0;
        #pragma omp parallel for schedule(dynamic)
        for (int b = 0; b < B; b++) detect_boxes(&n, b, 0.001f, 0.6f, 300, dets + 300 * (size_t)omp_get_thread_num(), 300);
    }
    double pred = steps * (double)B / (now() - t0);
    if (!ok) { fprintf(stderr, "nn_bench: %s\n", eng.err); return 1; }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"impl\":\"c\",\"size\":%d,\"batch\":%d,\"width\":%g,\"depth\":%g,\"threads\":%d,\"steps\":%d,"
           "\"train_images_per_s\":%.2f,\"predict_images_per_s\":%.2f,\"peak_rss_mib\":%.1f,"
           "\"step_ms\":{\"forward\":%.1f,\"loss\":%.1f,\"backward\":%.1f,\"optimiser\":%.1f},"
           "\"device\":\"%s\",\"gpu_mem_mib\":%.1f,\"macs_per_image\":%.0f,\"profile_ms\":%s}\n",
           cfg.size, B, (double)cfg.width, (double)cfg.depth, n.threads, steps, train, pred, ru.ru_maxrss / 1024.0,
           1e3 * ph[0] / steps, 1e3 * ph[1] / steps, 1e3 * ph[2] / steps, 1e3 * ph[3] / steps, eng.gpu ? "cuda" : "cpu",
           eng.gpu ? gpu_net_memory(eng.gpu) / 1048576.0 : 0.0, net_macs(&n), prof);
    engine_free(&eng);
    if (xm) free(xm);
    else gpu_host_free(x);
    free(t); free(dets);
    optim_free(&opt);
    net_free(&n);
    return 0;
}
