// The assembled network: layout sizes of the presets, and its backward pass against
// directional finite differences through every kind of node.
#include <stdlib.h>

#include "check.h"
#include "net.h"
#include "rng.h"

static double loss(Net *n, const float *x, const float *const r[3]) {
    CHECK(net_forward(n, x) == 0);
    double s = 0;
    for (int l = 0; l < 3; l++) {
        const Node *d = &n->node[n->detect[l]];
        long m = (long)n->batch * d->C * d->H * d->W;
        for (long i = 0; i < m; i++) s += (double)d->out[i] * r[l][i];
    }
    return s;
}

int main(void) {
    // the presets' sizes at 128 px, 10 classes, 1 channel
    struct { const char *name; float w, d; } presets[] = { { "cpu", 0.1875f, 0.33f }, { "n", 0.25f, 0.33f }, { "s", 0.5f, 0.33f } };
    for (int i = 0; i < 3; i++) {
        Net n;
        NetConfig cfg = { presets[i].w, presets[i].d, 1, 10, 128 };
        CHECK(net_build(&n, &cfg, 1) == 0);
        size_t trained = 0;
        for (int p = 0; p < n.n_params; p++) if (n.param[p].trainable) trained += n.param[p].count;
        printf("preset %s: %d nodes, %zu parameters, %.1f M multiply-adds per 128x128 image\n", presets[i].name, n.n_nodes,
               trained, net_macs(&n) / 1e6);
        if (i == 2) CHECK(trained > 7000000 && trained < 7100000);   // YOLOv5s: 7.0 M at 10 classes
        net_free(&n);
    }

    // gradients: a narrow, shallow net at 64 px with batch 2
    Net n;
    NetConfig cfg = { 0.0625f, 0.33f, 3, 2, 64 };
    CHECK(net_build(&n, &cfg, 7) == 0);
    CHECK(net_set_batch(&n, 2) == 0);
    Rng g;
    rng_seed(&g, 3, 3);
    long nx = 2L * 3 * 64 * 64;
    float *x = malloc(sizeof(float) * (size_t)nx);
    for (long i = 0; i < nx; i++) x[i] = (float)rng_uniform(&g);
    float *r[3];
    for (int l = 0; l < 3; l++) {
        const Node *d = &n.node[n.detect[l]];
        long m = 2L * d->C * d->H * d->W;
        r[l] = malloc(sizeof(float) * (size_t)m);
        for (long i = 0; i < m; i++) r[l][i] = (float)rng_normal(&g);
        CHECK(d->H == 64 / (8 << l));
    }
    const float *const rc[3] = { r[0], r[1], r[2] };
    loss(&n, x, rc);
    net_zero_grad(&n);
    for (int l = 0; l < 3; l++) {
        Node *d = &n.node[n.detect[l]];
        memcpy(d->dout, r[l], sizeof(float) * 2 * (size_t)d->C * d->H * d->W);
    }
    net_backward(&n, x);
    // a directional derivative along a random direction in each trainable tensor
    double worst = 0;
    int checked = 0;
    for (int p = 0; p < n.n_params; p++) {
        Param *pa = &n.param[p];
        if (!pa->trainable || (p % 7 != 0 && p != n.n_params - 1)) continue;
        float *v = n.params + pa->offset, *gr = n.grads + pa->offset;
        double *dir = malloc(sizeof(double) * pa->count), gv = 0, h = 3e-3;
        float *keep = malloc(sizeof(float) * pa->count);
        memcpy(keep, v, sizeof(float) * pa->count);
        double norm = 0;
        for (size_t j = 0; j < pa->count; j++) { dir[j] = rng_normal(&g); norm += dir[j] * dir[j]; }
        norm = sqrt(norm);
        for (size_t j = 0; j < pa->count; j++) { dir[j] /= norm; gv += dir[j] * gr[j]; }   // a unit step
        for (size_t j = 0; j < pa->count; j++) v[j] = (float)(keep[j] + h * dir[j]);
        double lp = loss(&n, x, rc);
        for (size_t j = 0; j < pa->count; j++) v[j] = (float)(keep[j] - h * dir[j]);
        double lm = loss(&n, x, rc);
        memcpy(v, keep, sizeof(float) * pa->count);
        double num = (lp - lm) / (2 * h), err = fabs(num - gv) / fmax(fabs(num), 1e-3);
        if (err > worst) worst = err;
        if (err > 1e-2) fprintf(stderr, "%s: directional derivative %g, backward %g\n", pa->name, num, gv);
        checked++;
        free(dir);
        free(keep);
    }
    printf("net: %d tensors checked, largest relative error %.2e\n", checked, worst);
    CHECK(checked > 10);
    CHECK(worst < 1e-2);
    for (int l = 0; l < 3; l++) free(r[l]);
    free(x);
    net_free(&n);
    return check_report("net");
}
