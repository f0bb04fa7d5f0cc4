#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "layers.h"
#include <omp.h>
#include <cblas.h>
#include "rng.h"

static const float BN_EPS = 1e-3f, BN_MOMENTUM = 0.03f;

// ---- building ------------------------------------------------------------------------

static int channels(const Net *n, int c) {   // YOLOv5's make_divisible(c * width, 8)
    int v = (int)ceil(c * n->cfg.width / 8.0) * 8;
    return v < 8 ? 8 : v;
}

static int repeats(const Net *n, int r) {     // max(round(r * depth), 1)
    int v = (int)lround(r * n->cfg.depth);
    return v < 1 ? 1 : v;
}

static int add_param(Net *n, const char *name, int ndim, long d0, long d1, long d2, long d3, int decay, int trainable) {
    if (n->n_params == NET_MAX_PARAMS) return -1;
    Param *p = &n->param[n->n_params];
    p->name = strdup(name);
    p->ndim = ndim;
    long shape[4] = { d0, d1, d2, d3 };
    p->count = 1;
    for (int i = 0; i < ndim; i++) { p->shape[i] = shape[i]; p->count *= (size_t)shape[i]; }
    p->offset = n->n_floats;
    p->decay = decay;
    p->trainable = trainable;
    n->n_floats += p->count;
    return n->n_params++;
}

static int add_node(Net *n, NodeType t, const int *in, int n_in, int C, int H, int W) {
    if (n->n_nodes == NET_MAX_NODES) return -1;
    Node *d = &n->node[n->n_nodes];
    memset(d, 0, sizeof *d);
    d->type = t;
    d->n_in = n_in;
    for (int i = 0; i < n_in; i++) d->in[i] = in[i];
    d->C = C; d->H = H; d->W = W;
    d->w = d->g = d->b = d->rm = -1;
    return n->n_nodes++;
}

// Conv: conv k x k stride s (padding k/2 unless given) + BN + SiLU.
static int conv(Net *n, int in, int c2, int k, int s, int p) {
    const Node *x = &n->node[in];
    if (p < 0) p = k / 2;
    int H = (x->H + 2 * p - k) / s + 1, W = (x->W + 2 * p - k) / s + 1;
    int id = add_node(n, NODE_CONV, &in, 1, c2, H, W);
    if (id < 0) return -1;
    Node *d = &n->node[id];
    d->k = k; d->stride = s; d->pad = p;
    char name[64];
    snprintf(name, sizeof name, "node%d.conv.weight", id);
    d->w = add_param(n, name, 4, c2, x->C, k, k, 1, 1);
    snprintf(name, sizeof name, "node%d.bn.weight", id);
    d->g = add_param(n, name, 1, c2, 0, 0, 0, 0, 1);
    snprintf(name, sizeof name, "node%d.bn.bias", id);
    add_param(n, name, 1, c2, 0, 0, 0, 0, 1);
    snprintf(name, sizeof name, "node%d.bn.running_mean", id);
    d->rm = add_param(n, name, 1, c2, 0, 0, 0, 0, 0);
    snprintf(name, sizeof name, "node%d.bn.running_var", id);
    add_param(n, name, 1, c2, 0, 0, 0, 0, 0);
    return d->w < 0 ? -1 : id;
}

static int join(Net *n, NodeType t, const int *in, int n_in) {
    const Node *a = &n->node[in[0]];
    int C = a->C, H = a->H, W = a->W;
    if (t == NODE_CONCAT) { C = 0; for (int i = 0; i < n_in; i++) C += n->node[in[i]].C; }
    if (t == NODE_UPSAMPLE) { H *= 2; W *= 2; }
    return add_node(n, t, in, n_in, C, H, W);
}

static int bottleneck(Net *n, int in, int c2, int shortcut) {
    int a = conv(n, in, c2, 1, 1, -1);
    int b = conv(n, a, c2, 3, 1, -1);
    if (!shortcut || n->node[in].C != c2) return b;
    int pair[2] = { in, b };
    return join(n, NODE_ADD, pair, 2);
}

// C3: cv3(cat(bottlenecks(cv1(x)), cv2(x))), hidden width c2 / 2.
static int c3(Net *n, int in, int c2, int reps, int shortcut) {
    int h = c2 / 2;
    int a = conv(n, in, h, 1, 1, -1);
    for (int i = 0; i < reps && a >= 0; i++) a = bottleneck(n, a, h, shortcut);
    int b = conv(n, in, h, 1, 1, -1);
    int pair[2] = { a, b };
    return conv(n, join(n, NODE_CONCAT, pair, 2), c2, 1, 1, -1);
}

// SPPF: cv2(cat(x, m(x), m(m(x)), m(m(m(x))))) with x = cv1(input), m a 5x5 max pool.
static int sppf(Net *n, int in, int c2) {
    int x = conv(n, in, n->node[in].C / 2, 1, 1, -1);
    int y1 = join(n, NODE_MAXPOOL, &x, 1), y2 = join(n, NODE_MAXPOOL, &y1, 1), y3 = join(n, NODE_MAXPOOL, &y2, 1);
    n->node[y1].k = n->node[y2].k = n->node[y3].k = 5;
    int all[4] = { x, y1, y2, y3 };
    return conv(n, join(n, NODE_CONCAT, all, 4), c2, 1, 1, -1);
}

static int detect(Net *n, int in, int level) {
    const Node *x = &n->node[in];
    int out = NET_ANCHORS * (5 + n->cfg.classes);
    int id = add_node(n, NODE_DETECT, &in, 1, out, x->H, x->W);
    Node *d = &n->node[id];
    d->k = 1; d->stride = 1; d->pad = 0;
    char name[64];
    snprintf(name, sizeof name, "detect%d.weight", level);
    d->w = add_param(n, name, 4, out, x->C, 1, 1, 1, 1);
    snprintf(name, sizeof name, "detect%d.bias", level);
    d->b = add_param(n, name, 1, out, 0, 0, 0, 0, 1);
    return id;
}

// PyTorch's default initialisation (uniform +-1/sqrt(fan_in)) for convolutions, ones and
// zeros for batch norm, and YOLOv5's prior for the Detect biases.
static void init_params(Net *n, unsigned long long seed) {
    Rng r;
    rng_seed(&r, seed, 0x6e6574ULL);
    for (int i = 0; i < n->n_params; i++) {
        Param *p = &n->param[i];
        float *v = n->params + p->offset;
        const char *s = strrchr(p->name, '.');
        if (strcmp(s, ".running_var") == 0 || (strstr(p->name, ".bn.") && strcmp(s, ".weight") == 0)) {
            for (size_t j = 0; j < p->count; j++) v[j] = 1;
        } else if (strcmp(s, ".running_mean") == 0 || strstr(p->name, ".bn.")) {
            for (size_t j = 0; j < p->count; j++) v[j] = 0;
        } else {
            // conv weights (fan_in = C*k*k) and detect biases (fan_in of their weight)
            long fan = p->ndim == 4 ? p->shape[1] * p->shape[2] * p->shape[3] : n->param[i - 1].shape[1];
            float bound = (float)(1.0 / sqrt((double)fan));
            for (size_t j = 0; j < p->count; j++) v[j] = (float)rng_range(&r, -bound, bound);
        }
    }
    static const int strides[NET_LEVELS] = { 8, 16, 32 };
    for (int l = 0; l < NET_LEVELS; l++) {
        float *b = n->params + n->param[n->node[n->detect[l]].b].offset;
        int per = 5 + n->cfg.classes;
        for (int a = 0; a < NET_ANCHORS; a++) {
            b[a * per + 4] += (float)log(8.0 / ((640.0 / strides[l]) * (640.0 / strides[l])));
            for (int c = 0; c < n->cfg.classes; c++) b[a * per + 5 + c] += (float)log(0.6 / (n->cfg.classes - 0.99));
        }
    }
}

int net_build(Net *n, const NetConfig *cfg, unsigned long long seed) {
    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    if (cfg->size % 32 || cfg->size < 32 || cfg->classes < 1 || (cfg->in_ch != 1 && cfg->in_ch != 3)) return -1;
    int x = add_node(n, NODE_INPUT, NULL, 0, cfg->in_ch, cfg->size, cfg->size);
    // backbone
    x = conv(n, x, channels(n, 64), 6, 2, 2);                       // P1/2
    x = conv(n, x, channels(n, 128), 3, 2, -1);                     // P2/4
    x = c3(n, x, channels(n, 128), repeats(n, 3), 1);
    x = conv(n, x, channels(n, 256), 3, 2, -1);                     // P3/8
    int p3 = x = c3(n, x, channels(n, 256), repeats(n, 6), 1);
    x = conv(n, x, channels(n, 512), 3, 2, -1);                     // P4/16
    int p4 = x = c3(n, x, channels(n, 512), repeats(n, 9), 1);
    x = conv(n, x, channels(n, 1024), 3, 2, -1);                    // P5/32
    x = c3(n, x, channels(n, 1024), repeats(n, 3), 1);
    x = sppf(n, x, channels(n, 1024));
    // neck: top-down (FPN), then bottom-up (PAN)
    int h10 = x = conv(n, x, channels(n, 512), 1, 1, -1);
    x = join(n, NODE_UPSAMPLE, &x, 1);
    int cat1[2] = { x, p4 };
    x = c3(n, join(n, NODE_CONCAT, cat1, 2), channels(n, 512), repeats(n, 3), 0);
    int h14 = x = conv(n, x, channels(n, 256), 1, 1, -1);
    x = join(n, NODE_UPSAMPLE, &x, 1);
    int cat2[2] = { x, p3 };
    int out3 = x = c3(n, join(n, NODE_CONCAT, cat2, 2), channels(n, 256), repeats(n, 3), 0);
    x = conv(n, x, channels(n, 256), 3, 2, -1);
    int cat3[2] = { x, h14 };
    int out4 = x = c3(n, join(n, NODE_CONCAT, cat3, 2), channels(n, 512), repeats(n, 3), 0);
    x = conv(n, x, channels(n, 512), 3, 2, -1);
    int cat4[2] = { x, h10 };
    int out5 = c3(n, join(n, NODE_CONCAT, cat4, 2), channels(n, 1024), repeats(n, 3), 0);
    n->detect[0] = detect(n, out3, 0);
    n->detect[1] = detect(n, out4, 1);
    n->detect[2] = detect(n, out5, 2);
    if (n->detect[2] < 0) return -1;
    n->params = calloc(n->n_floats, sizeof(float));
    n->grads = calloc(n->n_floats, sizeof(float));
    if (!n->params || !n->grads) return -1;
    init_params(n, seed);
    // YOLOv5's default anchors (pixels), until k-means fits them to the data
    static const float def[NET_LEVELS][NET_ANCHORS][2] = {
        { { 10, 13 }, { 16, 30 }, { 33, 23 } }, { { 30, 61 }, { 62, 45 }, { 59, 119 } }, { { 116, 90 }, { 156, 198 }, { 373, 326 } } };
    memcpy(n->anchors, def, sizeof def);
    n->training = 1;
    return 0;
}

// The convolution of Conv or Detect node d (input node a) over B images, dense (channel
// strides B * H * W); a thread's share of the batch sets the strides of the whole batch.
static Conv2dShape conv_node_shape(int B, const Node *a, const Node *d) {
    return conv2d_shape(B, a->C, a->H, a->W, d->C, d->k, d->stride, d->pad);
}

// A buffer that every training step walks end to end (activations, columns, scratch),
// aligned to 2 MiB and, on Linux, marked for transparent huge pages: hundreds of MiB in 4 KiB
// pages miss the TLB on every few rows. Zeroed when asked; released with free().
static void *alloc_streamed(size_t bytes, int zero) {
    const size_t huge = (size_t)2 << 20;
    size_t rounded = (bytes + huge - 1) / huge * huge;
    void *p = NULL;
    if (rounded == 0) rounded = huge;
    if (posix_memalign(&p, huge, rounded) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, rounded, MADV_HUGEPAGE);   // advice only: without it the pages are small
#endif
    if (zero) memset(p, 0, bytes);
    return p;
}

int net_set_batch(Net *n, int B) {
    free(n->bn_sums);
    n->bn_sums = NULL;
    free(n->arena);
    free(n->col);
    free(n->wtmp);
    free(n->work);
    n->arena = NULL;
    n->col = NULL;
    n->wtmp = NULL;
    n->work = NULL;
    // Each thread convolves its share of the batch with a single-threaded sgemm: small
    // matrices gain nothing from OpenBLAS's own threads, which only spin.
    openblas_set_num_threads(1);
    if (!n->max_threads) n->max_threads = omp_get_max_threads();   // before any team changes it
    n->threads = n->max_threads;
    if (n->threads > B) n->threads = B;
    if (n->threads < 1) n->threads = 1;
    net_set_team(n, n->threads);
    int share = (B + n->threads - 1) / n->threads;   // the most images a thread takes
    size_t total = 0, max_act = 0, col = 1, work = 1;
    for (int i = 0; i < n->n_nodes; i++) {
        const Node *d = &n->node[i];
        size_t act = (size_t)B * d->C * d->H * d->W;
        if (act > max_act) max_act = act;
        total += 2 * act;                                        // out, dout
        if (d->type == NODE_CONV) total += 2 * act + 2 * (size_t)d->C;   // pre_bn, sig, mean, rstd
        if (d->type == NODE_MAXPOOL) total += act;               // argmax (stored as int in float slots)
        if (d->type == NODE_CONV || d->type == NODE_DETECT) {
            size_t c, w;
            Conv2dShape cv = conv_node_shape(share, &n->node[d->in[0]], d);
            conv2d_scratch(&cv, &c, &w);
            if (d->type == NODE_DETECT) w = (size_t)share * d->C * d->H * d->W;   // its outputs, channel-major
            if (c > col) col = c;
            if (w > work) work = w;
        }
    }
    total += 2 * max_act;
    size_t wmax = 1;
    for (int i = 0; i < n->n_params; i++)
        if (n->param[i].ndim == 4 && n->param[i].count > wmax) wmax = n->param[i].count;
    n->arena = alloc_streamed(sizeof(float) * total, 1);
    n->col = alloc_streamed(sizeof(float) * col * (size_t)n->threads, 0);
    n->work = alloc_streamed(sizeof(float) * work * (size_t)n->threads, 0);
    n->work_floats = work;
    n->wtmp = malloc(sizeof(float) * wmax * (size_t)n->threads);
    n->wtmp_floats = wmax;
    n->bn_channels = 1;   // also holds a Detect node's per-share bias sums (C doubles)
    for (int i = 0; i < n->n_nodes; i++) {
        int c = n->node[i].type == NODE_CONV ? n->node[i].C : n->node[i].type == NODE_DETECT ? (n->node[i].C + 1) / 2 : 0;
        if (c > n->bn_channels) n->bn_channels = c;
    }
    n->bn_sums = malloc(sizeof(double) * 2 * (size_t)n->bn_channels * (size_t)(n->threads + 1));
    if (!n->arena || !n->col || !n->work || !n->wtmp || !n->bn_sums) return -1;
    float *p = n->arena;
    for (int i = 0; i < n->n_nodes; i++) {
        Node *d = &n->node[i];
        size_t act = (size_t)B * d->C * d->H * d->W;
        d->out = p; p += act;
        d->dout = p; p += act;
        if (d->type == NODE_CONV) {
            d->pre_bn = p; p += act;
            d->sig = p; p += act;
            d->mean = p; p += d->C;
            d->rstd = p; p += d->C;
        }
        if (d->type == NODE_MAXPOOL) { d->argmax = (int *)p; p += act; }
    }
    n->tmp[0] = p; p += max_act;
    n->tmp[1] = p;
    n->max_act = max_act;
    n->col_floats = col;
    n->batch = B;
    return 0;
}

void net_free(Net *n) {
    for (int i = 0; i < n->n_params; i++) free((char *)n->param[i].name);
    free(n->params);
    free(n->grads);
    free(n->arena);
    free(n->col);
    free(n->wtmp);
    free(n->work);
    free(n->bn_sums);
    memset(n, 0, sizeof *n);
}

void net_zero_grad(Net *n) { memset(n->grads, 0, sizeof(float) * n->n_floats); }

void net_node_nchw(const Net *n, int i, int grad, float *dst) {
    const Node *d = &n->node[i];
    const float *src = grad ? d->dout : d->out;
    size_t B = (size_t)n->batch, hw = (size_t)d->H * d->W;
    if (d->type == NODE_DETECT) { memcpy(dst, src, sizeof(float) * B * d->C * hw); return; }
    for (size_t b = 0; b < B; b++)
        for (int c = 0; c < d->C; c++) memcpy(dst + (b * d->C + c) * hw, src + ((size_t)c * B + b) * hw, sizeof(float) * hw);
}

double net_macs(const Net *n) {
    double m = 0;
    for (int i = 0; i < n->n_nodes; i++) {
        const Node *d = &n->node[i];
        if (d->type == NODE_CONV || d->type == NODE_DETECT)
            m += (double)d->C * d->H * d->W * n->node[d->in[0]].C * d->k * d->k;
    }
    return m;
}

// ---- forward and backward --------------------------------------------------------------

static float *P(Net *n, int i) { return n->params + n->param[i].offset; }
static float *G(Net *n, int i) { return n->grads + n->param[i].offset; }

// Activations are channel-major: node output (c, b, y, x) at c * B*H*W + b * H*W + y*W + x,
// so that a thread's images [b0, b1) of one channel are contiguous and a convolution over
// them is one GEMM per group without copies (see layers.h). The Detect outputs alone are
// NCHW (B, C, H, W), as the loss and the decoder read them.

// The threads' batch-norm sums (2, C) added in thread order, into the slot after the last
// thread's; returns it. Called by one thread after a barrier.
static double *bn_sums_total(Net *n, int C) {
    size_t stride = 2 * (size_t)n->bn_channels;
    double *total = n->bn_sums + (size_t)n->threads * stride;
    for (int j = 0; j < 2 * C; j++) {
        double v = 0;
        for (int u = 0; u < n->threads; u++) v += n->bn_sums[(size_t)u * stride + j];
        total[j] = v;
    }
    return total;
}

// Batch norm's statistics are over the global batch (sync_bn across processes), or this
// process's batch: the count of values per channel, and the channel sums (2, C) of the
// shares, added over the processes where they are synchronised. Called by the master
// thread (MPI is initialised for calls from the main thread only).
static int bn_synced(const Net *n) { return n->training && n->sync && n->sync->sync_bn; }

static double bn_count(const Net *n, size_t hw) {
    return bn_synced(n) ? (double)n->sync->batch * (double)hw : (double)n->batch * (double)hw;
}

static const double *bn_sums_global(Net *n, int C) {
    double *total = bn_sums_total(n, C);
    if (bn_synced(n)) n->sync->sum_f64(n->sync->ctx, total, 2 * C);
    return total;
}

// One thread's share of a Conv node's convolution: images [b0, b1) into pre_bn.
static void conv_share(Net *n, int t, int b0, int b1, const Node *a, const Node *d) {
    int B = n->batch;
    size_t hw_in = (size_t)a->H * a->W, hw = (size_t)d->H * d->W;
    if (b1 > b0) {
        Conv2dShape s = conv_node_shape(b1 - b0, a, d);
        s.in_cs = (size_t)B * hw_in;
        s.out_cs = (size_t)B * hw;
        Conv2dScratch_f32 scratch = { n->col + (size_t)t * n->col_floats, n->work + (size_t)t * n->work_floats };
        conv2d_forward_f32(d->pre_bn + b0 * hw, a->out + b0 * hw_in, P(n, d->w), NULL, &s, &scratch);
    }
}

// A Detect node: each share's images are convolved into the share's work buffer,
// channel-major, then written out NCHW with the bias.
static void detect_forward(Net *n, const Node *a, Node *d) {
    int B = n->batch, T = n->threads;
    size_t hw_in = (size_t)a->H * a->W, hw = (size_t)d->H * d->W;
    #pragma omp parallel num_threads(n->team)
    for (int t = omp_get_thread_num(); t < T; t += omp_get_num_threads()) {
        int b0 = B * t / T, b1 = B * (t + 1) / T, bt = b1 - b0;
        float *y = n->work + (size_t)t * n->work_floats;   // (C, bt, hw)
        if (bt > 0) {
            Conv2dShape s = conv_node_shape(bt, a, d);
            s.in_cs = (size_t)B * hw_in;   // out: the thread's own images, dense
            Conv2dScratch_f32 scratch = { n->col + (size_t)t * n->col_floats, NULL };
            conv2d_forward_f32(y, a->out + b0 * hw_in, P(n, d->w), P(n, d->b), &s, &scratch);
            for (int j = 0; j < bt; j++)
                for (int o = 0; o < d->C; o++)
                    memcpy(d->out + ((size_t)(b0 + j) * d->C + o) * hw, y + ((size_t)o * bt + j) * hw, sizeof(float) * hw);
        }
    }
}

// Conv + batch norm + SiLU: each share's images are convolved and their channels summed;
// after the shares' sums are added (in share order) the same images are normalised, by the
// same thread, so that an image stays in one thread's caches through the node.
static void conv_bn_silu_split(Net *n, const Node *a, Node *d) {
    int B = n->batch, T = n->threads, C = d->C;
    size_t hw = (size_t)d->H * d->W, cs = (size_t)B * hw;
    const float *gamma = P(n, d->g), *beta = P(n, d->g + 1);
    #pragma omp parallel num_threads(n->team)
    {
        int first = omp_get_thread_num(), step = omp_get_num_threads();
        for (int t = first; t < T; t += step) {
            int b0 = B * t / T, b1 = B * (t + 1) / T;
            size_t off = (size_t)b0 * hw, len = (size_t)(b1 - b0) * hw;
            BnShape share = { .channels = C, .cs = cs, .n = len };
            conv_share(n, t, b0, b1, a, d);
            if (n->training) {
                double *sums = n->bn_sums + (size_t)t * 2 * n->bn_channels;
                memset(sums, 0, sizeof(double) * 2 * (size_t)C);
                batchnorm_sums_f32(sums, d->pre_bn + off, &share);
            } else {
                batchnorm_silu_inference_f32(d->out + off, d->pre_bn + off, &share, gamma, beta, P(n, d->rm), P(n, d->rm + 1),
                                             BN_EPS);
            }
        }
        if (n->training) {
            #pragma omp barrier
            #pragma omp master
            batchnorm_stats_f32(d->mean, d->rstd, bn_sums_global(n, C), bn_count(n, hw), C, BN_EPS);
            #pragma omp barrier
            BnNorm_f32 norm = { .mean = d->mean, .rstd = d->rstd, .gamma = gamma, .beta = beta };
            for (int t = first; t < T; t += step) {
                int b0 = B * t / T, b1 = B * (t + 1) / T;
                size_t off = (size_t)b0 * hw, len = (size_t)(b1 - b0) * hw;
                BnShape share = { .channels = C, .cs = cs, .n = len };
                batchnorm_silu_apply_f32(d->out + off, d->sig + off, d->pre_bn + off, &share, &norm);
            }
        }
    }
}

// The backward pass of a convolution: input gradients into dinp (may be NULL; added to what
// it holds with add), weight gradients summed over the threads into dw, bias gradients
// (Detect) into db. dy is the gradient at the node's output. A Conv node's batch norm and SiLU come first, by the same
// split as the forward pass: each thread takes SiLU's derivative on its images into bn_grad
// and sums its channels; after the threads' sums are added, it turns its part of bn_grad into
// the gradient at the convolution's output, which the convolution's backward then reads. A
// Detect node's NCHW gradient is first put channel-major in the thread's work buffer.
static void conv_split_backward(Net *n, float *dinp, int add, float *dw, float *db, const float *dy, const Node *a,
                                const float *w, const Node *d, float *bn_grad) {
    int B = n->batch, T = n->threads, C = d->C, detect = d->type == NODE_DETECT;
    size_t hw_in = (size_t)a->H * a->W, hw = (size_t)d->H * d->W, cs = (size_t)B * hw;
    size_t wn = (size_t)d->C * a->C * d->k * d->k;
    #pragma omp parallel num_threads(n->team)
    {
        int first = omp_get_thread_num(), step = omp_get_num_threads();
        const double *all = n->bn_sums + (size_t)T * 2 * n->bn_channels;   // filled by bn_sums_total
        BnNorm_f32 norm = { 0 };
        if (!detect) {
            norm = (BnNorm_f32){ .mean = d->mean, .rstd = d->rstd, .gamma = P(n, d->g), .beta = P(n, d->g + 1) };
            for (int t = first; t < T; t += step) {
                int b0 = B * t / T, b1 = B * (t + 1) / T;
                size_t off = (size_t)b0 * hw, len = (size_t)(b1 - b0) * hw;
                double *sums = n->bn_sums + (size_t)t * 2 * n->bn_channels;
                BnShape share = { .channels = C, .cs = cs, .n = len };
                memset(sums, 0, sizeof(double) * 2 * (size_t)C);
                silu_batchnorm_backward_sums_f32(bn_grad + off, sums, dy + off, d->sig + off, d->pre_bn + off, &share, &norm);
            }
            #pragma omp barrier
            #pragma omp master
            {
                float *dgamma = G(n, d->g), *dbeta = G(n, d->g + 1);
                bn_sums_global(n, C);
                // with sync_bn every process holds the totals: one of them adds them
                if (!bn_synced(n) || n->sync->lead)
                    for (int c = 0; c < C; c++) {
                        dbeta[c] += (float)all[c];
                        dgamma[c] += (float)all[C + c];
                    }
            }
            #pragma omp barrier
        }
        for (int t = first; t < T; t += step) {
            int b0 = B * t / T, b1 = B * (t + 1) / T, bt = b1 - b0;
            size_t off = (size_t)b0 * hw, len = (size_t)bt * hw;
            const float *g;   // this share's output gradient, channel stride g_cs
            size_t g_cs = cs;
            if (detect) {
                float *y = n->work + (size_t)t * n->work_floats;
                for (int j = 0; j < bt; j++)
                    for (int o = 0; o < C; o++)
                        memcpy(y + ((size_t)o * bt + j) * hw, dy + ((size_t)(b0 + j) * C + o) * hw, sizeof(float) * hw);
                g = y;
                g_cs = len;
            } else {
                BnShape share = { .channels = C, .cs = cs, .n = len };
                batchnorm_backward_input_f32(bn_grad + off, bn_grad + off, d->pre_bn + off, &share, &norm, all, bn_count(n, hw));
                g = bn_grad + off;
            }
            float *wt = n->wtmp + (size_t)t * n->wtmp_floats;
            memset(wt, 0, sizeof(float) * wn);
            if (bt > 0) {
                Conv2dShape s = conv_node_shape(bt, a, d);
                s.in_cs = (size_t)B * hw_in;
                s.out_cs = g_cs;
                Conv2dScratch_f32 scratch = { n->col + (size_t)t * n->col_floats, detect ? NULL : n->work + (size_t)t * n->work_floats };
                Conv2dGrads_f32 gr = { .dinp = dinp ? dinp + b0 * hw_in : NULL, .add_dinp = add, .dweight = wt, .dbias = NULL };
                conv2d_backward_f32(&gr, g, a->out + b0 * hw_in, w, &s, &scratch);
            }
        }
    }
    #pragma omp parallel for schedule(static)
    for (size_t j = 0; j < wn; j++) {
        float s = 0;
        for (int t = 0; t < T; t++) s += n->wtmp[(size_t)t * n->wtmp_floats + j];
        dw[j] += s;
    }
    if (db) {
        // per share, then added in share order (and over the processes): dy is NCHW here
        size_t stride = 2 * (size_t)n->bn_channels;
        #pragma omp parallel for schedule(static)
        for (int o = 0; o < C; o++)
            for (int t = 0; t < T; t++) {
                double s = 0;
                for (int b = B * t / T; b < B * (t + 1) / T; b++) {
                    const float *gb = dy + ((size_t)b * C + o) * hw;
                    for (size_t i = 0; i < hw; i++) s += gb[i];
                }
                n->bn_sums[(size_t)t * stride + o] = s;
            }
        double *total = n->bn_sums + (size_t)T * stride;
        for (int o = 0; o < C; o++) {
            double v = 0;
            for (int t = 0; t < T; t++) v += n->bn_sums[(size_t)t * stride + o];
            total[o] = v;
        }
        if (n->sync) n->sync->sum_f64(n->sync->ctx, total, C);
        if (!n->sync || n->sync->lead)
            for (int o = 0; o < C; o++) db[o] += (float)total[o];
    }
}

void net_set_team(Net *n, int team) {
    if (team < 1) team = 1;
    if (team > n->threads) team = n->threads;
    n->team = team;
    omp_set_num_threads(team);   // the element-wise loops follow the team too
}

int net_forward(Net *n, const float *x) {
    int B = n->batch;
    for (int i = 0; i < n->n_nodes; i++) {
        double t_start = n->node_ms ? omp_get_wtime() : 0;
        Node *d = &n->node[i];
        const Node *a = d->n_in ? &n->node[d->in[0]] : NULL;
        long act = (long)B * d->C * d->H * d->W, hw = (long)d->H * d->W;
        switch (d->type) {
        case NODE_INPUT:   // x is NCHW
            for (int c = 0; c < d->C; c++)
                for (int b = 0; b < B; b++)
                    memcpy(d->out + ((size_t)c * B + b) * hw, x + ((size_t)b * d->C + c) * hw, sizeof(float) * (size_t)hw);
            break;
        case NODE_CONV:
            conv_bn_silu_split(n, a, d);
            if (n->training) {
                // running statistics, as PyTorch keeps them (unbiased variance)
                float *rm = P(n, d->rm), *rv = P(n, d->rm + 1);
                double cnt = bn_count(n, (size_t)hw);
                for (int c = 0; c < d->C; c++) {
                    double var = 1.0 / ((double)d->rstd[c] * d->rstd[c]) - BN_EPS;
                    rm[c] = (1 - BN_MOMENTUM) * rm[c] + BN_MOMENTUM * d->mean[c];
                    rv[c] = (float)((1 - BN_MOMENTUM) * rv[c] + BN_MOMENTUM * var * cnt / (cnt > 1 ? cnt - 1 : 1));
                }
            }
            break;
        case NODE_DETECT:
            detect_forward(n, a, d);
            break;
        case NODE_ADD: {
            const float *b = n->node[d->in[1]].out;
            #pragma omp parallel for schedule(static)
            for (long j = 0; j < act; j++) d->out[j] = a->out[j] + b[j];
            break;
        }
        case NODE_CONCAT:   // channel-major: the inputs' arrays one after another
            #pragma omp parallel for schedule(static)
            for (int c = 0; c < d->C; c++) {
                int k = 0, c0 = 0;
                while (c - c0 >= n->node[d->in[k]].C) c0 += n->node[d->in[k++]].C;
                memcpy(d->out + (size_t)c * B * hw, n->node[d->in[k]].out + (size_t)(c - c0) * B * hw,
                       sizeof(float) * (size_t)B * hw);
            }
            break;
        case NODE_UPSAMPLE:
            upsample2x_forward_f32(d->out, a->out, B, a->C, a->H, a->W);
            break;
        case NODE_MAXPOOL:
            if (maxpool_forward_f32(d->out, d->argmax, a->out, B, d->C, d->H, d->W, d->k) != 0) return -1;
            break;
        }
        if (n->node_ms) n->node_ms[i] += 1e3 * (omp_get_wtime() - t_start);
    }
    return 0;
}

static void accumulate(float *dst, const float *src, long n) {
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) dst[i] += src[i];
}

// The gradient of node `to` receives src: copied where nothing reached it yet (fresh),
// added otherwise. This saves zeroing every gradient before the pass.
static void give(Net *n, unsigned char *fresh, int to, const float *src, long count) {
    float *dst = n->node[to].dout;
    if (fresh[to]) {
        #pragma omp parallel for schedule(static)
        for (long i = 0; i < count; i++) dst[i] = src[i];
        fresh[to] = 0;
    } else {
        accumulate(dst, src, count);
    }
}

void net_backward(Net *n, const float *x) {
    (void)x;
    int B = n->batch;
    // every gradient but the Detect ones (set by the loss) is fresh until a consumer writes it;
    // nodes are visited in reverse creation order, so all consumers of a node come first
    unsigned char fresh[NET_MAX_NODES];
    for (int i = 0; i < n->n_nodes; i++) fresh[i] = n->node[i].type != NODE_DETECT;
    float *t0 = n->tmp[0], *t1 = n->tmp[1];
    for (int i = n->n_nodes - 1; i > 0; i--) {
        double t_start = n->node_ms ? omp_get_wtime() : 0;
        Node *d = &n->node[i];
        int ai = d->in[0];
        Node *a = &n->node[ai];
        long act = (long)B * d->C * d->H * d->W, hw = (long)d->H * d->W, in_act = (long)B * a->C * a->H * a->W;
        if (d->type != NODE_INPUT && fresh[i]) {   // no consumer: a zero gradient
            memset(d->dout, 0, sizeof(float) * (size_t)act);
            fresh[i] = 0;
        }
        // where an input's gradient is still fresh, its producer's output goes straight into it
        float *into = fresh[ai] ? a->dout : t0;
        switch (d->type) {
        case NODE_INPUT:
            break;
        case NODE_CONV:
            if (a->type == NODE_INPUT) {
                conv_split_backward(n, NULL, 0, G(n, d->w), NULL, d->dout, a, P(n, d->w), d, t1);
                break;
            }
            conv_split_backward(n, a->dout, !fresh[ai], G(n, d->w), NULL, d->dout, a, P(n, d->w), d, t1);
            fresh[ai] = 0;
            break;
        case NODE_DETECT:
            conv_split_backward(n, a->dout, !fresh[ai], G(n, d->w), G(n, d->b), d->dout, a, P(n, d->w), d, NULL);
            fresh[ai] = 0;
            break;
        case NODE_ADD:
            give(n, fresh, ai, d->dout, act);
            give(n, fresh, d->in[1], d->dout, act);
            break;
        case NODE_CONCAT: {
            unsigned char was[NET_MAX_INPUTS];
            for (int k = 0; k < d->n_in; k++) was[k] = fresh[d->in[k]];
            #pragma omp parallel for schedule(static)
            for (int c = 0; c < d->C; c++) {
                int k = 0, c0 = 0;
                while (c - c0 >= n->node[d->in[k]].C) c0 += n->node[d->in[k++]].C;
                const float *g = d->dout + (size_t)c * B * hw;
                float *dst = n->node[d->in[k]].dout + (size_t)(c - c0) * B * hw;
                size_t m = (size_t)B * hw;
                if (was[k]) memcpy(dst, g, sizeof(float) * m);
                else for (size_t j = 0; j < m; j++) dst[j] += g[j];
            }
            for (int k = 0; k < d->n_in; k++) fresh[d->in[k]] = 0;
            break;
        }
        case NODE_UPSAMPLE:
            upsample2x_backward_f32(into, d->dout, B, a->C, a->H, a->W);
            if (into == t0) accumulate(a->dout, t0, in_act);
            fresh[ai] = 0;
            break;
        case NODE_MAXPOOL:
            maxpool_backward_f32(into, d->dout, d->argmax, B, d->C, d->H, d->W);
            if (into == t0) accumulate(a->dout, t0, in_act);
            fresh[ai] = 0;
            break;
        }
        if (n->node_ms) n->node_ms[NET_MAX_NODES + i] += 1e3 * (omp_get_wtime() - t_start);
    }
}
