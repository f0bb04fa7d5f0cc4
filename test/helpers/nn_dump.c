// nn_dump: one training step of the C detector, written to a safetensors file for the
// PyTorch cross-check (test/crosscheck.py).
//
//   nn_dump [--width W] [--depth D] [--channels C] [--classes K] [--size S] [--batch B]
//           [--seed N] [--weight-obj] [--soft] [--nodes] OUT.safetensors
//
// From a seeded network whose batch-norm parameters and statistics are perturbed (so
// that they matter), with a random batch and random targets with EARL weights in [1, 3]:
//   param.<name>    every parameter before the step (running statistics included)
//   x               the input batch (B, C, S, S)
//   targets         (T, 7): image, class, x, y, w, h (normalised), weight
//   probs           (T, K): with --soft, each target's soft class targets (a random
//                   probability vector, some classes 0), used instead of one-hot on class
//   anchors         (3, 3, 2) pixels
//   out.detect<l>   training-mode Detect outputs
//   grad.<name>     gradient of the total loss for every trainable parameter
//   after.<name>    running statistics after the training-mode forward
//   eval.detect<l>  eval-mode Detect outputs with those statistics
//   argmax.node<i>  each max pool's chosen input (row-major index within the plane)
// and the loss parts (box, obj, cls, total, assigned) in the metadata.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loss.h"
#include "net.h"
#include "rng.h"
#include "safetensors.h"

int main(int argc, char **argv) {
    NetConfig cfg = { 0.125f, 0.33f, 1, 4, 64 };
    int B = 2, weight_obj = 0, nodes = 0, soft = 0;
    unsigned long long seed = 1;
    static const struct option opts[] = { { "width", 1, 0, 'w' }, { "depth", 1, 0, 'd' }, { "channels", 1, 0, 'c' },
                                          { "classes", 1, 0, 'k' }, { "size", 1, 0, 's' }, { "batch", 1, 0, 'b' },
                                          { "seed", 1, 0, 'r' }, { "weight-obj", 0, 0, 'o' }, { "nodes", 0, 0, 'n' },
                                          { "soft", 0, 0, 'p' }, { 0, 0, 0, 0 } };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'w': cfg.width = strtof(optarg, NULL); break;
        case 'd': cfg.depth = strtof(optarg, NULL); break;
        case 'c': cfg.in_ch = atoi(optarg); break;
        case 'k': cfg.classes = atoi(optarg); break;
        case 's': cfg.size = atoi(optarg); break;
        case 'b': B = atoi(optarg); break;
        case 'r': seed = strtoull(optarg, NULL, 10); break;
        case 'o': weight_obj = 1; break;
        case 'n': nodes = 1; break;
        case 'p': soft = 1; break;
        default: fprintf(stderr, "nn_dump: bad option\n"); return 2;
        }
    }
    if (optind != argc - 1) { fprintf(stderr, "usage: nn_dump [options] OUT.safetensors\n"); return 2; }
    const char *out = argv[optind];

    Net n;
    if (net_build(&n, &cfg, seed) != 0 || net_set_batch(&n, B) != 0) { fprintf(stderr, "nn_dump: cannot build\n"); return 1; }
    Rng r;
    rng_seed(&r, seed, 99);
    // batch norm: gamma, beta and the running statistics away from their initial values
    for (int i = 0; i < n.n_params; i++) {
        const Param *p = &n.param[i];
        float *v = n.params + p->offset;
        const char *s = strrchr(p->name, '.');
        if (!strstr(p->name, ".bn.")) continue;
        for (size_t j = 0; j < p->count; j++) {
            if (!strcmp(s, ".weight")) v[j] = (float)rng_range(&r, 0.5, 1.5);
            else if (!strcmp(s, ".bias")) v[j] = (float)rng_range(&r, -0.3, 0.3);
            else if (!strcmp(s, ".running_mean")) v[j] = (float)rng_range(&r, -0.5, 0.5);
            else v[j] = (float)rng_range(&r, 0.5, 2.0);
        }
    }
    // anchors in pixels for this input size, one triple per level
    for (int l = 0; l < NET_LEVELS; l++)
        for (int a = 0; a < NET_ANCHORS; a++) {
            n.anchors[l][a][0] = (float)(cfg.size * (0.06 + 0.12 * l + 0.04 * a));
            n.anchors[l][a][1] = (float)(cfg.size * (0.08 + 0.11 * l + 0.03 * (2 - a)));
        }
    size_t nx = (size_t)B * cfg.in_ch * cfg.size * cfg.size;
    float *x = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_uniform(&r);
    // targets: 3..6 per image, sizes spread over the levels, a few near cell edges
    int cap = 6 * B;
    Target *t = malloc(sizeof *t * (size_t)cap);
    float *tt = malloc(sizeof(float) * 7 * (size_t)cap);
    float *probs = malloc(sizeof(float) * (size_t)cfg.classes * (size_t)cap);   // (cap, classes)
    int nt = 0;
    for (int b = 0; b < B; b++) {
        int k = rng_int(&r, 3, 6);
        for (int i = 0; i < k; i++) {
            float w = (float)rng_range(&r, 0.05, 0.7), h = (float)rng_range(&r, 0.05, 0.7);
            float cx = (float)rng_range(&r, w / 2, 1 - w / 2), cy = (float)rng_range(&r, h / 2, 1 - h / 2);
            t[nt] = (Target){ b, rng_int(&r, 0, cfg.classes - 1), cx, cy, w, h, (float)rng_range(&r, 1, 3), NULL };
            if (soft) {
                // a random distribution over the classes, about a third of them 0 (never all)
                float *p = probs + (size_t)nt * cfg.classes;
                double sum = 0;
                for (int q = 0; q < cfg.classes; q++) sum += p[q] = rng_uniform(&r) < 0.3 ? 0.0f : (float)rng_uniform(&r);
                if (sum == 0) sum = p[t[nt].cls] = 1;
                for (int q = 0; q < cfg.classes; q++) p[q] = (float)(p[q] / sum);
                t[nt].probs = p;
            }
            float row[7] = { (float)b, (float)t[nt].cls, cx, cy, w, h, t[nt].weight };
            memcpy(tt + 7 * nt, row, sizeof row);
            nt++;
        }
    }
    float *before = malloc(sizeof(float) * n.n_floats);
    memcpy(before, n.params, sizeof(float) * n.n_floats);

    net_zero_grad(&n);
    if (net_forward(&n, x) != 0) { fprintf(stderr, "nn_dump: out of memory\n"); return 1; }
    LossOptions lo;
    loss_defaults(&lo);
    lo.weight_obj = weight_obj;
    LossParts lp;
    if (yolo_loss(&n, t, nt, &lo, &lp, NULL) != 0) return 1;
    net_backward(&n, x);

    // with --nodes: every node's training output and gradient (node<i>.out, node<i>.dout)
    float **node_copy = calloc((size_t)(2 * n.n_nodes), sizeof *node_copy);
    for (int i = 0; nodes && i < n.n_nodes; i++) {
        const Node *d = &n.node[i];
        size_t k = (size_t)B * d->C * d->H * d->W;
        node_copy[2 * i] = malloc(sizeof(float) * k);
        node_copy[2 * i + 1] = malloc(sizeof(float) * k);
        net_node_nchw(&n, i, 0, node_copy[2 * i]);
        net_node_nchw(&n, i, 1, node_copy[2 * i + 1]);
    }
    // max pools: where each output's maximum was taken from (ties within float rounding
    // are routed by these; the cross-check verifies each holds the window's maximum)
    float **arg = calloc((size_t)n.n_nodes, sizeof *arg);
    for (int i = 0; i < n.n_nodes; i++) {
        const Node *d = &n.node[i];
        if (d->type != NODE_MAXPOOL) continue;
        size_t k = (size_t)B * d->C * d->H * d->W;
        arg[i] = malloc(sizeof(float) * k);
        size_t hw = (size_t)d->H * d->W;   // plane-local indices; the planes channel-major inside
        for (size_t b = 0; b < (size_t)B; b++)
            for (size_t ch = 0; ch < (size_t)d->C; ch++)
                for (size_t j = 0; j < hw; j++) arg[i][(b * d->C + ch) * hw + j] = (float)d->argmax[(ch * B + b) * hw + j];
    }
    // training outputs, then eval outputs with the updated statistics
    float *train_out[NET_LEVELS], *eval_out[NET_LEVELS];
    size_t lsize[NET_LEVELS];
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &n.node[n.detect[l]];
        lsize[l] = (size_t)B * d->C * d->H * d->W;
        train_out[l] = malloc(sizeof(float) * lsize[l]);
        memcpy(train_out[l], d->out, sizeof(float) * lsize[l]);
    }
    n.training = 0;
    if (net_forward(&n, x) != 0) { fprintf(stderr, "nn_dump: out of memory\n"); return 1; }
    for (int l = 0; l < NET_LEVELS; l++) {
        eval_out[l] = malloc(sizeof(float) * lsize[l]);
        memcpy(eval_out[l], n.node[n.detect[l]].out, sizeof(float) * lsize[l]);
    }

    StTensor *ts = calloc((size_t)(3 * n.n_params + 2 * n.n_nodes + 16), sizeof *ts);
    char **names = calloc((size_t)(3 * n.n_params + 2 * n.n_nodes + 16), sizeof *names);
    int m = 0;
    for (int i = 0; i < n.n_params; i++) {
        const Param *p = &n.param[i];
        StTensor base = { NULL, before + p->offset, p->ndim, { 0 } };
        for (int k = 0; k < p->ndim; k++) base.shape[k] = p->shape[k];
        names[m] = malloc(strlen(p->name) + 8);
        sprintf(names[m], "param.%s", p->name);
        ts[m] = base; ts[m].name = names[m]; m++;
        names[m] = malloc(strlen(p->name) + 8);
        if (p->trainable) {
            sprintf(names[m], "grad.%s", p->name);
            ts[m] = base; ts[m].name = names[m]; ts[m].data = n.grads + p->offset; m++;
        } else {
            sprintf(names[m], "after.%s", p->name);
            ts[m] = base; ts[m].name = names[m]; ts[m].data = n.params + p->offset; m++;
        }
    }
    for (int i = 1; nodes && i < n.n_nodes; i++) {
        const Node *d = &n.node[i];
        for (int k = 0; k < 2; k++) {
            names[m] = malloc(32);
            snprintf(names[m], 32, "node%d.%s", i, k ? "dout" : "out");
            ts[m] = (StTensor){ names[m], node_copy[2 * i + k], 4, { B, d->C, d->H, d->W } };
            m++;
        }
    }
    for (int i = 0; i < n.n_nodes; i++) {
        if (!arg[i]) continue;
        const Node *d = &n.node[i];
        names[m] = malloc(32);
        snprintf(names[m], 32, "argmax.node%d", i);
        ts[m] = (StTensor){ names[m], arg[i], 4, { B, d->C, d->H, d->W } };
        m++;
    }
    ts[m++] = (StTensor){ "x", x, 4, { B, cfg.in_ch, cfg.size, cfg.size } };
    ts[m++] = (StTensor){ "targets", tt, 2, { nt, 7 } };
    if (soft) ts[m++] = (StTensor){ "probs", probs, 2, { nt, cfg.classes } };
    ts[m++] = (StTensor){ "anchors", &n.anchors[0][0][0], 3, { 3, 3, 2 } };
    static const char *tn[3] = { "out.detect0", "out.detect1", "out.detect2" }, *en[3] = { "eval.detect0", "eval.detect1", "eval.detect2" };
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &n.node[n.detect[l]];
        ts[m++] = (StTensor){ tn[l], train_out[l], 4, { B, d->C, d->H, d->W } };
        ts[m++] = (StTensor){ en[l], eval_out[l], 4, { B, d->C, d->H, d->W } };
    }
    char v[8][64];
    snprintf(v[0], 64, "%.9g", lp.box); snprintf(v[1], 64, "%.9g", lp.obj); snprintf(v[2], 64, "%.9g", lp.cls);
    snprintf(v[3], 64, "%.9g", lp.total); snprintf(v[4], 64, "%d", lp.assigned);
    snprintf(v[5], 64, "%.9g", (double)cfg.width); snprintf(v[6], 64, "%.9g", (double)cfg.depth);
    snprintf(v[7], 64, "%d", weight_obj);
    json_t *meta = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "box", v[0], "obj", v[1], "cls", v[2], "total", v[3],
                             "assigned", v[4], "width", v[5], "depth", v[6], "weight_obj", v[7]);
    char err[512];
    if (st_write(out, ts, m, meta, err, sizeof err) != 0) { fprintf(stderr, "nn_dump: %s\n", err); return 1; }
    printf("nn_dump: %d targets, %d assignments, loss %.6g -> %s\n", nt, lp.assigned, lp.total, out);
    json_decref(meta);
    for (int i = 0; i < m; i++) if (names[i]) free(names[i]);
    for (int i = 0; i < 2 * n.n_nodes; i++) free(node_copy[i]);
    for (int i = 0; i < n.n_nodes; i++) free(arg[i]);
    free(arg); free(node_copy); free(names); free(ts); free(before); free(x); free(t); free(tt); free(probs);
    for (int l = 0; l < NET_LEVELS; l++) { free(train_out[l]); free(eval_out[l]); }
    net_free(&n);
    return 0;
}
