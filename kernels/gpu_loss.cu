// YOLOv5's loss with EARL on the device. The host assigns targets to anchors and cells
// and computes their box and class terms (loss.c's loss_assign and loss_sparse_terms, the
// very code of the CPU path) from the few logits they need, gathered here; the objectness
// over every cell, which is nearly all of the work, runs on the device, and the Detect
// gradients are written in place for the backward pass. Per-element math: loss_math.h.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_internal.h"
#include "loss_math.h"

static const int LT = 256, LOSS_BLOCKS = 512;

#define GRID_LOOP(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

static int blocks_for(size_t n) {
    size_t b = (n + LT - 1) / LT;
    if (b > 65535u * 16) b = 65535u * 16;
    return (int)(b ? b : 1);
}

__global__ void gather_kernel(float *val, const float *src, const long *off, size_t n) {
    GRID_LOOP(i, n) val[i] = src[off[i]];
}

__global__ void objectness_init_kernel(float *tobj, float *wobj, size_t n) {
    GRID_LOOP(i, n) { tobj[i] = 0; wobj[i] = 1; }
}

// Distinct cells: the objectness target and weight of the last assignment to each.
__global__ void set_cells_kernel(float *tobj, float *wobj, const long *cell, const float *tv, const float *wv, size_t n) {
    GRID_LOOP(i, n) { tobj[cell[i]] = tv[i]; wobj[cell[i]] = wv[i]; }
}

// dout (B, A*no, H*W): the objectness gradient go * w * (sigmoid(x) - t) at channel a*no+4,
// zero elsewhere; part[block] gets the block's sum of w * BCE.
__global__ void objectness_kernel(float *dout, const float *out, const float *tobj, const float *wobj, int use_w, size_t total,
                                  long hw, int C, int no, float go, double *part) {
    __shared__ double s[LT];
    double q = 0;
    GRID_LOOP(i, total) {
        size_t pix = i % hw, c = (i / hw) % C, b = i / (hw * C);
        int a = (int)(c / no), k = (int)(c % no);
        if (k == 4) {
            size_t cell = (b * NET_ANCHORS + a) * hw + pix;
            float dx, w = use_w ? wobj[cell] : 1.0f;
            q += w * bce_logits_f(out[i], tobj[cell], &dx);
            dout[i] = go * w * dx;
        } else {
            dout[i] = 0;
        }
    }
    s[threadIdx.x] = q;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h >>= 1) {
        if ((int)threadIdx.x < h) s[threadIdx.x] += s[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[blockIdx.x] = s[0];
}

// Distinct offsets: each one's gradients, summed on the host in assignment order.
__global__ void scatter_add_kernel(float *dout, const long *off, const float *v, size_t n) {
    GRID_LOOP(i, n) dout[off[i]] += v[i];
}

typedef struct {
    long key;
    int idx;
} Keyed;

static int by_key(const void *a, const void *b) {
    const Keyed *x = (const Keyed *)a, *y = (const Keyed *)b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->idx - y->idx;
}

void gpu_loss_free(GpuNet *g) {
    GpuLoss *L = &g->loss;
    loss_sparse_free(&L->sp);
    if (L->h_idx) cudaFreeHost(L->h_idx);
    if (L->h_val) cudaFreeHost(L->h_val);
    if (L->h_part) cudaFreeHost(L->h_part);
    void *d[] = { L->d_idx, L->d_val, L->d_tobj, L->d_wobj, L->d_part };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (d[i]) cudaFree(d[i]);
    free(L->order);
    memset(L, 0, sizeof *L);
}

static int reserve(GpuNet *g, size_t elems, size_t cells) {
    GpuLoss *L = &g->loss;
    if (!L->d_part) {
        if (gpu_dalloc(g, (void **)&L->d_part, sizeof(double) * NET_LEVELS * LOSS_BLOCKS)) return -1;
        CU(cudaMallocHost((void **)&L->h_part, sizeof(double) * NET_LEVELS * LOSS_BLOCKS));
    }
    if (elems > L->cap) {
        size_t c = elems * 2 + 1024;
        if (L->h_idx) { cudaFreeHost(L->h_idx); L->h_idx = NULL; }
        if (L->h_val) { cudaFreeHost(L->h_val); L->h_val = NULL; }
        if (L->d_idx) { cudaFree(L->d_idx); L->d_idx = NULL; g->mem -= L->cap * sizeof(long); }
        if (L->d_val) { cudaFree(L->d_val); L->d_val = NULL; g->mem -= L->cap * sizeof(float); }
        free(L->order);
        L->cap = 0;
        CU(cudaMallocHost((void **)&L->h_idx, sizeof(long) * c));
        CU(cudaMallocHost((void **)&L->h_val, sizeof(float) * c));
        if (gpu_dalloc(g, (void **)&L->d_idx, sizeof(long) * c) || gpu_dalloc(g, (void **)&L->d_val, sizeof(float) * c)) return -1;
        L->order = (int *)malloc(sizeof(Keyed) * c);
        if (!L->order) return gpu_fail_call(g, "malloc", "out of memory");
        L->cap = c;
    }
    if (cells > L->cells_cap) {
        if (L->d_tobj) { cudaFree(L->d_tobj); cudaFree(L->d_wobj); g->mem -= 2 * L->cells_cap * sizeof(float); }
        L->d_tobj = L->d_wobj = NULL;
        L->cells_cap = 0;
        if (gpu_dalloc(g, (void **)&L->d_tobj, sizeof(float) * cells) || gpu_dalloc(g, (void **)&L->d_wobj, sizeof(float) * cells))
            return -1;
        L->cells_cap = cells;
    }
    return 0;
}

extern "C" int gpu_net_loss(GpuNet *g, const Target *t, int nt, const LossOptions *o, LossParts *parts) {
    const Net *net = g->net;
    GpuLoss *L = &g->loss;
    LossSparse *sp = &L->sp;
    cudaStream_t st = g->stream;
    int B = g->B, NB = loss_norm_batch(net, o), no = 5 + net->cfg.classes;   // NB: the normalisers' batch (loss.h)
    memset(parts, 0, sizeof *parts);
    if (net->batch != B) return gpu_fail_call(g, "gpu_net_loss", "the host network's batch differs from the device's");
    if (loss_assign(net, t, nt, o, sp) != 0) return gpu_fail_call(g, "loss_assign", "out of memory");
    int n = sp->start[NET_LEVELS], per = sp->per;
    size_t m = (size_t)n * per, max_cells = 0;
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &net->node[net->detect[l]];
        size_t c = (size_t)B * NET_ANCHORS * d->H * d->W;
        if (c > max_cells) max_cells = c;
    }
    if (reserve(g, m + 2 * (size_t)n, max_cells)) return -1;
    parts->assigned = n;

    // 1. the assigned cells' logits, gathered on the device
    if (m) {
        memcpy(L->h_idx, sp->off, sizeof(long) * m);
        CU(cudaMemcpyAsync(L->d_idx, L->h_idx, sizeof(long) * m, cudaMemcpyHostToDevice, st));
        for (int l = 0; l < NET_LEVELS; l++) {
            size_t r0 = (size_t)sp->start[l] * per, cnt = (size_t)sp->start[l + 1] * per - r0;
            if (cnt == 0) continue;
            gather_kernel<<<blocks_for(cnt), LT, 0, st>>>(L->d_val + r0, g->node[net->detect[l]].out, L->d_idx + r0, cnt);
            CU(cudaGetLastError());
        }
        CU(cudaMemcpyAsync(L->h_val, L->d_val, sizeof(float) * m, cudaMemcpyDeviceToHost, st));
        CU(cudaStreamSynchronize(st));
        memcpy(sp->val, L->h_val, sizeof(float) * m);
    }
    // 2. their box and class terms, on the host
    double lbox = 0, lcls = 0, lobj = 0;
    loss_sparse_terms(net, o, sp, &lbox, &lcls);
    // 3. per level: the distinct offsets' summed gradients (in assignment order) and the
    //    distinct cells' objectness targets (the last assignment wins), staged for the device
    Keyed *k = (Keyed *)L->order;
    int ug[NET_LEVELS], uc[NET_LEVELS];
    for (int l = 0; l < NET_LEVELS; l++) {
        size_t r0 = (size_t)sp->start[l] * per, r1 = (size_t)sp->start[l + 1] * per, u = r0;
        for (size_t j = r0; j < r1; j++) k[j - r0] = (Keyed){ sp->off[j], (int)j };
        qsort(k, r1 - r0, sizeof *k, by_key);
        for (size_t j = 0; j < r1 - r0; j++) {
            float v = sp->grad[k[j].idx];
            if (j > 0 && k[j].key == k[j - 1].key) { L->h_val[u - 1] += v; continue; }
            L->h_idx[u] = k[j].key;
            L->h_val[u++] = v;
        }
        ug[l] = (int)(u - r0);
        int c0 = sp->start[l], c1 = sp->start[l + 1], w = 0;
        for (int i = c0; i < c1; i++) k[i - c0] = (Keyed){ sp->cell[i], i };
        qsort(k, (size_t)(c1 - c0), sizeof *k, by_key);
        for (int j = 0; j < c1 - c0; j++) {
            if (j + 1 < c1 - c0 && k[j + 1].key == k[j].key) continue;   // a later assignment to this cell wins
            L->h_idx[m + c0 + w] = k[j].key;
            L->h_val[m + c0 + w] = sp->tobj[k[j].idx];
            L->h_val[m + n + c0 + w] = sp->wobj[k[j].idx];
            w++;
        }
        uc[l] = w;
    }
    if (n) {
        CU(cudaMemcpyAsync(L->d_idx, L->h_idx, sizeof(long) * (m + n), cudaMemcpyHostToDevice, st));
        CU(cudaMemcpyAsync(L->d_val, L->h_val, sizeof(float) * (m + 2 * (size_t)n), cudaMemcpyHostToDevice, st));
    }
    // 4. the objectness of every cell and the Detect gradients, on the device
    float gain[3];
    loss_gains(net, o, gain);
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &net->node[net->detect[l]];
        GNode *e = &g->node[net->detect[l]];
        long hw = (long)d->H * d->W;
        size_t cells = (size_t)B * NET_ANCHORS * hw, total = (size_t)B * d->C * hw;
        objectness_init_kernel<<<blocks_for(cells), LT, 0, st>>>(L->d_tobj, L->d_wobj, cells);
        CU(cudaGetLastError());
        if (uc[l]) {
            size_t c0 = m + sp->start[l];
            set_cells_kernel<<<blocks_for(uc[l]), LT, 0, st>>>(L->d_tobj, L->d_wobj, L->d_idx + c0, L->d_val + c0,
                                                                L->d_val + n + c0, (size_t)uc[l]);
            CU(cudaGetLastError());
        }
        float go = gain[1] * LOSS_BALANCE[l] * NB / (float)((size_t)NB * NET_ANCHORS * hw);
        objectness_kernel<<<LOSS_BLOCKS, LT, 0, st>>>(e->dout, e->out, L->d_tobj, L->d_wobj, o->weight_obj, total, hw, d->C, no, go,
                                                       L->d_part + l * LOSS_BLOCKS);
        CU(cudaGetLastError());
        if (ug[l]) {
            size_t r0 = (size_t)sp->start[l] * per;
            scatter_add_kernel<<<blocks_for(ug[l]), LT, 0, st>>>(e->dout, L->d_idx + r0, L->d_val + r0, (size_t)ug[l]);
            CU(cudaGetLastError());
        }
    }
    CU(cudaMemcpyAsync(L->h_part, L->d_part, sizeof(double) * NET_LEVELS * LOSS_BLOCKS, cudaMemcpyDeviceToHost, st));
    CU(cudaStreamSynchronize(st));
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &net->node[net->detect[l]];
        double s = 0, cells = (double)NB * NET_ANCHORS * d->H * d->W;
        for (int b = 0; b < LOSS_BLOCKS; b++) s += L->h_part[l * LOSS_BLOCKS + b];
        lobj += s / cells * LOSS_BALANCE[l];
    }
    gpu_prof_mark(g, PROF_LOSS);
    parts->box = lbox * gain[0] * NB;
    parts->obj = lobj * gain[1] * NB;
    parts->cls = lcls * gain[2] * NB;
    parts->total = parts->box + parts->obj + parts->cls;
    return 0;
}
