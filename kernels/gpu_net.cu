// The detector's forward and backward passes on the GPU (see gpu.h): cuDNN convolutions
// (algorithms found once per batch size, one shared workspace) and batch norm, the
// element-wise kernels of gpu_ops.cu, and the optimiser's updates on the device. The
// node walk mirrors net.c, so that both paths compute the same function.
#include <cuda_runtime.h>
#include <cudnn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_internal.h"

extern "C" int optim_group(const Param *p);

static const double BN_EPS = 1e-3, BN_MOMENTUM = 0.03;
static const size_t FIND_WORKSPACE = (size_t)1 << 30;   // the most any convolution may use

int gpu_fail_call(GpuNet *g, const char *call, const char *why) {
    char name[96];
    size_t n = strcspn(call, "(");
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, call, n);
    name[n] = 0;
    snprintf(g->err, sizeof g->err, "%s failed: %s", name, why);
    return -1;
}

int gpu_dalloc(GpuNet *g, void **p, size_t bytes) {
    CU(cudaMalloc(p, bytes ? bytes : 4));
    g->mem += bytes;
    return 0;
}

static float *P(GpuNet *g, int i) { return g->params + g->net->param[i].offset; }
static float *G(GpuNet *g, int i) { return g->grads + g->net->param[i].offset; }
static int is_conv(const Node *d) { return d->type == NODE_CONV || d->type == NODE_DETECT; }
static size_t act_of(const Node *d, int B) { return (size_t)B * d->C * d->H * d->W; }
// Buffers carved from one allocation start on 256-byte boundaries, as cuDNN's kernels expect.
static size_t padded(size_t floats) { return (floats + 63) / 64 * 64; }

// ---- building ----------------------------------------------------------------------------

static int make_descriptors(GpuNet *g) {
    const Net *n = g->net;
    for (int i = 0; i < n->n_nodes; i++) {
        const Node *d = &n->node[i];
        GNode *e = &g->node[i];
        DNN(cudnnCreateTensorDescriptor(&e->y));
        DNN(cudnnCreateTensorDescriptor(&e->chan));
        DNN(cudnnSetTensor4dDescriptor(e->chan, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, d->C, 1, 1));
        if (!is_conv(d)) continue;
        const Node *a = &n->node[d->in[0]];
        DNN(cudnnCreateFilterDescriptor(&e->w));
        DNN(cudnnSetFilter4dDescriptor(e->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, d->C, a->C, d->k, d->k));
        for (int k = 0; k < 3; k++) {
            DNN(cudnnCreateConvolutionDescriptor(&e->conv[k]));
            DNN(cudnnSetConvolution2dDescriptor(e->conv[k], d->pad, d->pad, d->stride, d->stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
            DNN(cudnnSetConvolutionMathType(e->conv[k], g->math == GPU_MATH_FP32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH));
        }
    }
    return 0;
}

// Activations for `cap` images; a smaller batch uses the front of each buffer.
static int alloc_activations(GpuNet *g, int cap) {
    const Net *n = g->net;
    if (g->arena) { cudaFree(g->arena); g->arena = NULL; g->mem -= g->arena_bytes; }
    size_t total = 0, max_act = 0;
    for (int i = 0; i < n->n_nodes; i++) {
        const Node *d = &n->node[i];
        size_t act = padded(act_of(d, cap));
        if (act > max_act) max_act = act;
        total += 2 * act;
        if (d->type == NODE_CONV) total += 2 * act + 2 * padded(d->C);
        if (d->type == NODE_MAXPOOL) total += act;
    }
    total += 2 * max_act;
    if (gpu_dalloc(g, (void **)&g->arena, sizeof(float) * total)) return -1;
    g->arena_bytes = sizeof(float) * total;
    CU(cudaMemset(g->arena, 0, sizeof(float) * total));
    float *p = g->arena;
    for (int i = 0; i < n->n_nodes; i++) {
        const Node *d = &n->node[i];
        GNode *e = &g->node[i];
        size_t act = padded(act_of(d, cap));
        e->out = p; p += act;
        e->dout = p; p += act;
        e->pre_bn = e->pre_act = e->mean = e->rstd = NULL;
        e->argmax = NULL;
        if (d->type == NODE_CONV) {
            e->pre_bn = p; p += act;
            e->pre_act = p; p += act;
            e->mean = p; p += padded(d->C);
            e->rstd = p; p += padded(d->C);
        }
        if (d->type == NODE_MAXPOOL) { e->argmax = (int *)p; p += act; }
    }
    g->tmp[0] = p; p += max_act;
    g->tmp[1] = p;
    g->cap = cap;
    return 0;
}

// The fastest algorithm of each convolution and direction for this batch size, timed by
// cuDNN on the real buffers (the weight-gradient search writes into scratch, not grads).
static int find_algorithms(GpuNet *g, AlgoSet *s) {
    const Net *n = g->net;
    int fp32 = g->math == GPU_MATH_FP32, rc = 0;
    // every algorithm of the configured math is a candidate again (use_algorithms narrowed
    // each descriptor to the math of the algorithm chosen for another batch size)
    for (int i = 0; i < n->n_nodes; i++)
        if (is_conv(&n->node[i]))
            for (int k = 0; k < 3; k++) DNN(cudnnSetConvolutionMathType(g->node[i].conv[k], fp32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH));
    void *ws = NULL;
    size_t wsb = FIND_WORKSPACE, fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) == cudaSuccess && wsb > fr / 4) wsb = fr / 4;
    CU(cudaMalloc(&ws, wsb));
    s->batch = g->B;
    s->workspace = 0;
    for (int i = 0; i < n->n_nodes && rc == 0; i++) {
        const Node *d = &n->node[i];
        if (!is_conv(d)) continue;
        GNode *e = &g->node[i], *a = &g->node[d->in[0]];
        float *y = d->type == NODE_CONV ? e->pre_bn : e->out;
        ConvAlgos *c = &s->a[i];
        int got = 0;
        cudnnConvolutionFwdAlgoPerf_t pf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        cudnnConvolutionBwdDataAlgoPerf_t pd[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        cudnnConvolutionBwdFilterAlgoPerf_t pw[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        cudnnStatus_t st = cudnnFindConvolutionForwardAlgorithmEx(g->dnn, a->y, a->out, e->w, P(g, d->w), e->conv[0], e->y, y,
                                                                  CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, pf, ws, wsb);
        if (st != CUDNN_STATUS_SUCCESS) { rc = gpu_fail_call(g, "cudnnFindConvolutionForwardAlgorithmEx", cudnnGetErrorString(st)); break; }
        int k = 0;
        while (k < got && pf[k].status != CUDNN_STATUS_SUCCESS) k++;
        if (k == got) { rc = gpu_fail_call(g, "cudnnFindConvolutionForwardAlgorithmEx", "no algorithm fits"); break; }
        c->fwd = pf[k].algo;
        c->fwd_math = fp32 ? CUDNN_FMA_MATH : pf[k].mathType;
        if (pf[k].memory > s->workspace) s->workspace = pf[k].memory;

        if (n->node[d->in[0]].type == NODE_INPUT) {   // the image needs no gradient
            c->data = CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
            c->data_math = fp32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
            got = 0;
        } else {
            st = cudnnFindConvolutionBackwardDataAlgorithmEx(g->dnn, e->w, P(g, d->w), e->y, e->dout, e->conv[1], a->y, a->dout,
                                                         CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, pd, ws, wsb);
            if (st != CUDNN_STATUS_SUCCESS) { rc = gpu_fail_call(g, "cudnnFindConvolutionBackwardDataAlgorithmEx", cudnnGetErrorString(st)); break; }
            k = 0;
            while (k < got && pd[k].status != CUDNN_STATUS_SUCCESS) k++;
            if (k == got) { rc = gpu_fail_call(g, "cudnnFindConvolutionBackwardDataAlgorithmEx", "no algorithm fits"); break; }
            c->data = pd[k].algo;
            c->data_math = fp32 ? CUDNN_FMA_MATH : pd[k].mathType;
            if (pd[k].memory > s->workspace) s->workspace = pd[k].memory;
        }

        st = cudnnFindConvolutionBackwardFilterAlgorithmEx(g->dnn, a->y, a->out, e->y, e->dout, e->conv[2], e->w, g->wscratch,
                                                           CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, pw, ws, wsb);
        if (st != CUDNN_STATUS_SUCCESS) { rc = gpu_fail_call(g, "cudnnFindConvolutionBackwardFilterAlgorithmEx", cudnnGetErrorString(st)); break; }
        k = 0;
        while (k < got && pw[k].status != CUDNN_STATUS_SUCCESS) k++;
        if (k == got) { rc = gpu_fail_call(g, "cudnnFindConvolutionBackwardFilterAlgorithmEx", "no algorithm fits"); break; }
        c->filter = pw[k].algo;
        c->filter_math = fp32 ? CUDNN_FMA_MATH : pw[k].mathType;
        if (pw[k].memory > s->workspace) s->workspace = pw[k].memory;
    }
    cudaFree(ws);
    return rc;
}

static int use_algorithms(GpuNet *g, const AlgoSet *s) {
    const Net *n = g->net;
    for (int i = 0; i < n->n_nodes; i++) {
        if (!is_conv(&n->node[i])) continue;
        DNN(cudnnSetConvolutionMathType(g->node[i].conv[0], s->a[i].fwd_math));
        DNN(cudnnSetConvolutionMathType(g->node[i].conv[1], s->a[i].data_math));
        DNN(cudnnSetConvolutionMathType(g->node[i].conv[2], s->a[i].filter_math));
    }
    if (s->workspace > g->ws_bytes) {
        if (g->ws) { cudaFree(g->ws); g->mem -= g->ws_bytes; g->ws = NULL; }
        if (gpu_dalloc(g, &g->ws, s->workspace)) return -1;
        g->ws_bytes = s->workspace;
    }
    return 0;
}

extern "C" int gpu_net_set_batch(GpuNet *g, int B) {
    const Net *n = g->net;
    if (B < 1) return gpu_fail_call(g, "gpu_net_set_batch", "batch size must be at least 1");
    if (B > g->cap && alloc_activations(g, B)) return -1;
    g->B = B;
    for (int i = 0; i < n->n_nodes; i++) {
        const Node *d = &n->node[i];
        DNN(cudnnSetTensor4dDescriptor(g->node[i].y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, B, d->C, d->H, d->W));
    }
    int k = 0;
    while (k < g->n_algos && g->algos[k].batch != B) k++;
    if (k == g->n_algos) {
        if (k == MAX_BATCH_SIZES) k = MAX_BATCH_SIZES - 1;   // forget the last one found
        g->algos[k].batch = 0;
        if (find_algorithms(g, &g->algos[k])) {
            g->algos[k].batch = 0;   // not a usable entry
            return -1;
        }
        if (k == g->n_algos) g->n_algos++;
        CU(cudaDeviceSynchronize());
    }
    g->cur = k;
    return use_algorithms(g, &g->algos[k]);
}

extern "C" GpuNet *gpu_net_create(const Net *net, int batch, int math, char *err, size_t errn) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        cudaGetLastError();
        snprintf(err, errn, "no CUDA device");
        return NULL;
    }
    GpuNet *g = (GpuNet *)calloc(1, sizeof *g);
    if (!g) { snprintf(err, errn, "out of memory"); return NULL; }
    g->net = net;
    g->math = math;
    // Training batch norm: cuDNN's persistent kernels are 3x faster at 640 px but reduce
    // with less precision (docs/performance.md), so they go with TF32, and FP32 keeps the
    // plain ones; MAD_GPU_BN=spatial|persistent chooses either way.
    const char *bn = getenv("MAD_GPU_BN");
    int persistent = bn && *bn ? !strcmp(bn, "persistent") : math == GPU_MATH_TF32;
    g->bn_mode = persistent ? CUDNN_BATCHNORM_SPATIAL_PERSISTENT : CUDNN_BATCHNORM_SPATIAL;
    size_t nf = net->n_floats, wmax = 1;
    for (int i = 0; i < net->n_params; i++)
        if (net->param[i].ndim == 4 && net->param[i].count > wmax) wmax = net->param[i].count;
    unsigned char *grp = (unsigned char *)malloc(nf ? nf : 1);
    int rc = grp ? 0 : gpu_fail_call(g, "malloc", "out of memory");
    for (int i = 0; i < net->n_params && rc == 0; i++) {
        const Param *p = &net->param[i];
        memset(grp + p->offset, p->trainable ? optim_group(p) : 255, p->count);
    }
    if (rc == 0 && cudaStreamCreate(&g->stream) != cudaSuccess) rc = gpu_fail_call(g, "cudaStreamCreate", cudaGetErrorString(cudaGetLastError()));
    if (rc == 0) {
        cudnnStatus_t s = cudnnCreate(&g->dnn);
        if (s != CUDNN_STATUS_SUCCESS) rc = gpu_fail_call(g, "cudnnCreate", cudnnGetErrorString(s));
        else if ((s = cudnnSetStream(g->dnn, g->stream)) != CUDNN_STATUS_SUCCESS) rc = gpu_fail_call(g, "cudnnSetStream", cudnnGetErrorString(s));
    }
    if (rc == 0) rc = gpu_dalloc(g, (void **)&g->params, sizeof(float) * nf);
    if (rc == 0) rc = gpu_dalloc(g, (void **)&g->grads, sizeof(float) * nf);
    if (rc == 0) rc = gpu_dalloc(g, (void **)&g->group, nf);
    if (rc == 0) rc = gpu_dalloc(g, (void **)&g->wscratch, sizeof(float) * wmax);
    if (rc == 0) rc = gpu_dalloc(g, (void **)&g->partial, sizeof(double) * gpu_sumsq_blocks(nf));
    if (rc == 0 && cudaMallocHost((void **)&g->partial_host, sizeof(double) * gpu_sumsq_blocks(nf)) != cudaSuccess)
        rc = gpu_fail_call(g, "cudaMallocHost", cudaGetErrorString(cudaGetLastError()));
    if (rc == 0 && cudaMemcpy(g->group, grp, nf, cudaMemcpyHostToDevice) != cudaSuccess)
        rc = gpu_fail_call(g, "cudaMemcpy", cudaGetErrorString(cudaGetLastError()));
    if (rc == 0 && cudaMemcpy(g->params, net->params, sizeof(float) * nf, cudaMemcpyHostToDevice) != cudaSuccess)
        rc = gpu_fail_call(g, "cudaMemcpy", cudaGetErrorString(cudaGetLastError()));
    if (rc == 0 && cudaMemset(g->grads, 0, sizeof(float) * nf) != cudaSuccess)
        rc = gpu_fail_call(g, "cudaMemset", cudaGetErrorString(cudaGetLastError()));
    free(grp);
    if (rc == 0) rc = make_descriptors(g);
    if (rc == 0) rc = gpu_net_set_batch(g, batch);
    if (rc != 0) {
        snprintf(err, errn, "%s", g->err);
        gpu_net_free(g);
        return NULL;
    }
    return g;
}

extern "C" void gpu_net_free(GpuNet *g) {
    if (!g) return;
    const Net *n = g->net;
    for (int i = 0; i < n->n_nodes; i++) {
        GNode *e = &g->node[i];
        if (e->y) cudnnDestroyTensorDescriptor(e->y);
        if (e->chan) cudnnDestroyTensorDescriptor(e->chan);
        if (e->w) cudnnDestroyFilterDescriptor(e->w);
        for (int k = 0; k < 3; k++)
            if (e->conv[k]) cudnnDestroyConvolutionDescriptor(e->conv[k]);
    }
    void *bufs[] = { g->params, g->grads, g->mom, g->second, g->ema, g->wscratch, g->group, g->partial, g->arena, g->ws };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) cudaFree(bufs[i]);
    if (g->partial_host) cudaFreeHost(g->partial_host);
    if (g->prof) {
        for (int i = 0; i < PROF_EVENTS; i++) cudaEventDestroy(g->prof->ev[i]);
        free(g->prof);
    }
    gpu_loss_free(g);
    if (g->dnn) cudnnDestroy(g->dnn);
    if (g->stream) cudaStreamDestroy(g->stream);
    free(g);
}

extern "C" const char *gpu_net_error(const GpuNet *g) { return g ? g->err : "no GPU network"; }
extern "C" int gpu_net_batch(const GpuNet *g) { return g->B; }
extern "C" size_t gpu_net_memory(const GpuNet *g) { return g->mem; }

static float **array_of(GpuNet *g, int which) {
    switch (which) {
    case GPU_PARAMS: return &g->params;
    case GPU_GRADS: return &g->grads;
    case GPU_MOMENTUM: return &g->mom;
    case GPU_SECOND: return &g->second;
    case GPU_EMA: return &g->ema;
    }
    return NULL;
}

extern "C" int gpu_net_upload(GpuNet *g, int which, const float *host) {
    float **d = array_of(g, which);
    if (!d || !*d) return gpu_fail_call(g, "gpu_net_upload", "no such device array");
    CU(cudaMemcpyAsync(*d, host, sizeof(float) * g->net->n_floats, cudaMemcpyHostToDevice, g->stream));
    CU(cudaStreamSynchronize(g->stream));
    return 0;
}

extern "C" int gpu_net_download(GpuNet *g, int which, float *host) {
    float **d = array_of(g, which);
    if (!d || !*d) return gpu_fail_call(g, "gpu_net_download", "no such device array");
    CU(cudaMemcpyAsync(host, *d, sizeof(float) * g->net->n_floats, cudaMemcpyDeviceToHost, g->stream));
    CU(cudaStreamSynchronize(g->stream));
    return 0;
}

extern "C" int gpu_net_zero_grad(GpuNet *g) {
    CU(cudaMemsetAsync(g->grads, 0, sizeof(float) * g->net->n_floats, g->stream));
    return 0;
}

extern "C" int gpu_net_sync(GpuNet *g) {
    CU(cudaStreamSynchronize(g->stream));
    return 0;
}

extern "C" void gpu_net_swap_ema(GpuNet *g) {
    float *t = g->params;
    g->params = g->ema;
    g->ema = t;
}

// ---- forward and backward ----------------------------------------------------------------

static const float ONE = 1.0f, ZERO = 0.0f;

static int conv_forward(GpuNet *g, int i, float *y) {
    const Node *d = &g->net->node[i];
    GNode *e = &g->node[i], *a = &g->node[d->in[0]];
    const ConvAlgos *c = &g->algos[g->cur].a[i];
    DNN(cudnnConvolutionForward(g->dnn, &ONE, a->y, a->out, e->w, P(g, d->w), e->conv[0], c->fwd, g->ws, g->ws_bytes, &ZERO, e->y, y));
    return 0;
}

// dy: the gradient at the convolution's output. Weight gradients accumulate; the input's
// gradient is written (fresh) or added, unless the input is the image.
static int conv_backward(GpuNet *g, int i, const float *dy, unsigned char *fresh) {
    const Node *d = &g->net->node[i];
    int ai = d->in[0];
    GNode *e = &g->node[i], *a = &g->node[ai];
    const ConvAlgos *c = &g->algos[g->cur].a[i];
    DNN(cudnnConvolutionBackwardFilter(g->dnn, &ONE, a->y, a->out, e->y, dy, e->conv[2], c->filter, g->ws, g->ws_bytes, &ONE, e->w,
                                       G(g, d->w)));
    gpu_prof_mark(g, PROF_CONV_BWD_FILTER);
    if (g->net->node[ai].type == NODE_INPUT) return 0;
    DNN(cudnnConvolutionBackwardData(g->dnn, &ONE, e->w, P(g, d->w), e->y, dy, e->conv[1], c->data, g->ws, g->ws_bytes,
                                     fresh[ai] ? &ZERO : &ONE, a->y, a->dout));
    gpu_prof_mark(g, PROF_CONV_BWD_DATA);
    fresh[ai] = 0;
    return 0;
}

extern "C" int gpu_net_forward(GpuNet *g, const float *x, int training, float *const out[NET_LEVELS]) {
    const Net *n = g->net;
    int B = g->B;
    cudaStream_t s = g->stream;
    for (int i = 0; i < n->n_nodes; i++) {
        const Node *d = &n->node[i];
        GNode *e = &g->node[i];
        const GNode *a = d->n_in ? &g->node[d->in[0]] : NULL;
        size_t act = act_of(d, B), hw = (size_t)d->H * d->W;
        switch (d->type) {
        case NODE_INPUT:
            CU(cudaMemcpyAsync(e->out, x, sizeof(float) * act, cudaMemcpyHostToDevice, s));
            gpu_prof_mark(g, PROF_INPUT);
            break;
        case NODE_CONV:
            if (training && (size_t)B * hw < 2)   // as PyTorch: the variance needs two values
                return gpu_fail_call(g, "gpu_net_forward", "batch norm needs more than one value per channel in training (a larger batch or input size)");
            if (conv_forward(g, i, e->pre_bn)) return -1;
            gpu_prof_mark(g, PROF_CONV_FWD);
            if (training)
                DNN(cudnnBatchNormalizationForwardTraining(g->dnn, g->bn_mode, &ONE, &ZERO, e->y, e->pre_bn, e->y,
                                                           e->pre_act, e->chan, P(g, d->g), P(g, d->g + 1), BN_MOMENTUM,
                                                           P(g, d->rm), P(g, d->rm + 1), BN_EPS, e->mean, e->rstd));
            else
                DNN(cudnnBatchNormalizationForwardInference(g->dnn, CUDNN_BATCHNORM_SPATIAL, &ONE, &ZERO, e->y, e->pre_bn, e->y,
                                                            e->pre_act, e->chan, P(g, d->g), P(g, d->g + 1), P(g, d->rm),
                                                            P(g, d->rm + 1), BN_EPS));
            gpu_prof_mark(g, PROF_BN_FWD);
            CU(gpu_silu_forward(e->out, e->pre_act, act, s));
            gpu_prof_mark(g, PROF_SILU_FWD);
            break;
        case NODE_DETECT:
            if (conv_forward(g, i, e->out)) return -1;
            DNN(cudnnAddTensor(g->dnn, &ONE, e->chan, P(g, d->b), &ONE, e->y, e->out));
            gpu_prof_mark(g, PROF_CONV_FWD);
            break;
        case NODE_ADD:
            CU(gpu_add(e->out, a->out, g->node[d->in[1]].out, act, s));
            break;
        case NODE_CONCAT: {
            size_t off = 0;
            for (int k = 0; k < d->n_in; k++) {
                const Node *sn = &n->node[d->in[k]];
                size_t w = sizeof(float) * sn->C * hw;
                CU(cudaMemcpy2DAsync(e->out + off, sizeof(float) * d->C * hw, g->node[d->in[k]].out, w, w, B,
                                     cudaMemcpyDeviceToDevice, s));
                off += (size_t)sn->C * hw;
            }
            break;
        }
        case NODE_UPSAMPLE:
            CU(gpu_upsample2x_forward(e->out, a->out, (long)B * d->C, d->H / 2, d->W / 2, s));
            break;
        case NODE_MAXPOOL:
            CU(gpu_maxpool_forward(e->out, e->argmax, a->out, (long)B * d->C, d->H, d->W, d->k, s));
            break;
        }
        if (d->type == NODE_ADD || d->type == NODE_CONCAT || d->type == NODE_UPSAMPLE || d->type == NODE_MAXPOOL)
            gpu_prof_mark(g, PROF_JOIN_FWD);
    }
    if (!out) return 0;   // the outputs stay on the device for the loss
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &n->node[n->detect[l]];
        CU(cudaMemcpyAsync(out[l], g->node[n->detect[l]].out, sizeof(float) * act_of(d, B), cudaMemcpyDeviceToHost, s));
    }
    CU(cudaStreamSynchronize(s));
    return 0;
}

// The gradient of node `to` receives src: copied where nothing reached it yet, else added.
static int give(GpuNet *g, unsigned char *fresh, int to, const float *src, size_t count) {
    float *dst = g->node[to].dout;
    if (fresh[to]) {
        CU(cudaMemcpyAsync(dst, src, sizeof(float) * count, cudaMemcpyDeviceToDevice, g->stream));
        fresh[to] = 0;
    } else {
        CU(gpu_accumulate(dst, src, count, g->stream));
    }
    return 0;
}

extern "C" int gpu_net_backward(GpuNet *g, const float *const dout[NET_LEVELS]) {
    const Net *n = g->net;
    int B = g->B;
    cudaStream_t s = g->stream;
    for (int l = 0; dout && l < NET_LEVELS; l++) {
        const Node *d = &n->node[n->detect[l]];
        CU(cudaMemcpyAsync(g->node[n->detect[l]].dout, dout[l], sizeof(float) * act_of(d, B), cudaMemcpyHostToDevice, s));
    }
    unsigned char fresh[NET_MAX_NODES];
    for (int i = 0; i < n->n_nodes; i++) fresh[i] = n->node[i].type != NODE_DETECT;
    float *t0 = g->tmp[0], *t1 = g->tmp[1];
    for (int i = n->n_nodes - 1; i > 0; i--) {
        const Node *d = &n->node[i];
        GNode *e = &g->node[i];
        int ai = d->in[0];
        const Node *a = &n->node[ai];
        size_t act = act_of(d, B), hw = (size_t)d->H * d->W;
        if (fresh[i]) {   // no consumer: a zero gradient
            CU(cudaMemsetAsync(e->dout, 0, sizeof(float) * act, s));
            fresh[i] = 0;
        }
        switch (d->type) {
        case NODE_INPUT:
            break;
        case NODE_CONV:
            CU(gpu_silu_backward(t1, e->dout, e->pre_act, act, s));
            gpu_prof_mark(g, PROF_SILU_BWD);
            DNN(cudnnBatchNormalizationBackward(g->dnn, g->bn_mode, &ONE, &ZERO, &ONE, &ONE, e->y, e->pre_bn, e->y, t1,
                                                e->y, t0, e->chan, P(g, d->g), G(g, d->g), G(g, d->g + 1), BN_EPS, e->mean, e->rstd));
            gpu_prof_mark(g, PROF_BN_BWD);
            if (conv_backward(g, i, t0, fresh)) return -1;
            break;
        case NODE_DETECT:
            DNN(cudnnConvolutionBackwardBias(g->dnn, &ONE, e->y, e->dout, &ONE, e->chan, G(g, d->b)));
            gpu_prof_mark(g, PROF_BIAS_BWD);
            if (conv_backward(g, i, e->dout, fresh)) return -1;
            break;
        case NODE_ADD:
            if (give(g, fresh, ai, e->dout, act) || give(g, fresh, d->in[1], e->dout, act)) return -1;
            break;
        case NODE_CONCAT: {
            size_t off = 0;
            for (int k = 0; k < d->n_in; k++) {
                int si = d->in[k];
                const Node *sn = &n->node[si];
                size_t m = (size_t)sn->C * hw;
                if (fresh[si])
                    CU(cudaMemcpy2DAsync(g->node[si].dout, sizeof(float) * m, e->dout + off, sizeof(float) * d->C * hw,
                                         sizeof(float) * m, B, cudaMemcpyDeviceToDevice, s));
                else
                    CU(gpu_slice_accumulate(g->node[si].dout, e->dout + off, B, m, (size_t)d->C * hw, s));
                fresh[si] = 0;
                off += m;
            }
            break;
        }
        case NODE_UPSAMPLE:
            CU(gpu_upsample2x_backward(g->node[ai].dout, e->dout, (long)B * a->C, a->H, a->W, !fresh[ai], s));
            fresh[ai] = 0;
            break;
        case NODE_MAXPOOL:
            CU(gpu_maxpool_backward(g->node[ai].dout, e->dout, e->argmax, (long)B * d->C, d->H, d->W, d->k, !fresh[ai], s));
            fresh[ai] = 0;
            break;
        }
        if (d->type != NODE_CONV && d->type != NODE_DETECT) gpu_prof_mark(g, PROF_JOIN_BWD);
    }
    CU(cudaGetLastError());
    return 0;
}

extern "C" int gpu_net_detect_grads(GpuNet *g, float *const dout[NET_LEVELS]) {
    const Net *n = g->net;
    for (int l = 0; l < NET_LEVELS; l++)
        CU(cudaMemcpyAsync(dout[l], g->node[n->detect[l]].dout, sizeof(float) * act_of(&n->node[n->detect[l]], g->B),
                           cudaMemcpyDeviceToHost, g->stream));
    CU(cudaStreamSynchronize(g->stream));
    return 0;
}

// ---- the optimiser -----------------------------------------------------------------------

extern "C" int gpu_net_optim_init(GpuNet *g, int adamw) {
    size_t nb = sizeof(float) * g->net->n_floats;
    if (!g->mom && gpu_dalloc(g, (void **)&g->mom, nb)) return -1;
    CU(cudaMemset(g->mom, 0, nb));
    if (adamw) {
        if (!g->second && gpu_dalloc(g, (void **)&g->second, nb)) return -1;
        CU(cudaMemset(g->second, 0, nb));
    }
    if (!g->ema && gpu_dalloc(g, (void **)&g->ema, nb)) return -1;
    CU(cudaMemcpy(g->ema, g->params, nb, cudaMemcpyDeviceToDevice));
    return 0;
}

extern "C" int gpu_net_clip(GpuNet *g, float clip, double *norm) {
    size_t nf = g->net->n_floats;
    int nb = gpu_sumsq_blocks(nf);
    CU(gpu_sumsq(g->partial, g->grads, g->group, nf, g->stream));
    CU(cudaMemcpyAsync(g->partial_host, g->partial, sizeof(double) * nb, cudaMemcpyDeviceToHost, g->stream));
    CU(cudaStreamSynchronize(g->stream));
    double s = 0;
    for (int i = 0; i < nb; i++) s += g->partial_host[i];
    *norm = sqrt(s);
    if (*norm > clip) CU(gpu_scale(g->grads, (float)(clip / (*norm + 1e-6)), nf, g->stream));
    return 0;
}

extern "C" int gpu_net_sgd_step(GpuNet *g, const double lr[3], double momentum, double wd, int has_momentum) {
    if (!g->mom) return gpu_fail_call(g, "gpu_net_sgd_step", "gpu_net_optim_init was not called");
    CU(gpu_sgd_step(g->params, g->mom, g->grads, g->group, g->net->n_floats, (float)lr[0], (float)lr[1], (float)lr[2], (float)momentum,
                    (float)wd, has_momentum, g->stream));
    return 0;
}

extern "C" int gpu_net_adamw_step(GpuNet *g, const double lr[3], double beta1, double wd, long t) {
    if (!g->mom || !g->second) return gpu_fail_call(g, "gpu_net_adamw_step", "gpu_net_optim_init was not called for AdamW");
    const double b2 = 0.999, eps = 1e-8;
    double c1 = 1 - pow(beta1, (double)t), c2 = 1 - pow(b2, (double)t);
    float rate[3], step[3];
    for (int k = 0; k < 3; k++) { rate[k] = (float)lr[k]; step[k] = (float)(lr[k] / c1); }
    CU(gpu_adamw_step(g->params, g->mom, g->second, g->grads, g->group, g->net->n_floats, rate, step, (float)wd, (float)beta1,
                      (float)b2, (float)(1 / sqrt(c2)), (float)eps, g->stream));
    return 0;
}

extern "C" int gpu_net_ema_update(GpuNet *g, float decay) {
    if (!g->ema) return gpu_fail_call(g, "gpu_net_ema_update", "gpu_net_optim_init was not called");
    CU(gpu_ema(g->ema, g->params, g->net->n_floats, decay, g->stream));
    gpu_prof_mark(g, PROF_OPTIM);
    return 0;
}

// ---- profiling ---------------------------------------------------------------------------

void gpu_prof_mark(GpuNet *g, int cat) {
    GpuProfile *p = g->prof;
    if (!p || !p->on || p->n >= PROF_EVENTS) return;
    if (cudaEventRecord(p->ev[p->n], g->stream) == cudaSuccess) p->cat[p->n++] = cat;
}

static const char *PROF_NAMES[PROF_COUNT] = { "input", "conv_fwd", "bn_fwd", "silu_fwd", "join_fwd", "loss", "silu_bwd", "bn_bwd",
                                              "conv_bwd_filter", "conv_bwd_data", "bias_bwd", "join_bwd", "optimiser" };

extern "C" int gpu_net_profile(GpuNet *g, int on) {
    GpuProfile *p = g->prof;
    if (!p) {
        p = g->prof = (GpuProfile *)calloc(1, sizeof *p);
        if (!p) return gpu_fail_call(g, "calloc", "out of memory");
        for (int i = 0; i < PROF_EVENTS; i++) CU(cudaEventCreate(&p->ev[i]));
    }
    if (on) {
        p->on = 1;
        p->n = 0;
        gpu_prof_mark(g, -1);   // the step's start
        return 0;
    }
    CU(cudaStreamSynchronize(g->stream));
    for (int i = 1; i < p->n; i++) {
        float ms = 0;
        CU(cudaEventElapsedTime(&ms, p->ev[i - 1], p->ev[i]));
        if (p->cat[i] >= 0) p->ms[p->cat[i]] += ms;
    }
    p->on = 0;
    p->steps++;
    return 0;
}

extern "C" void gpu_net_profile_report(const GpuNet *g, char *buf, size_t n) {
    const GpuProfile *p = g->prof;
    size_t k = (size_t)snprintf(buf, n, "{");
    for (int c = 0; p && c < PROF_COUNT && k < n; c++)
        k += (size_t)snprintf(buf + k, n - k, "%s\"%s\":%.2f", c ? "," : "", PROF_NAMES[c], p->ms[c] / (p->steps ? p->steps : 1));
    if (k < n) snprintf(buf + k, n - k, "}");
}

extern "C" void *gpu_host_alloc(size_t bytes) {
    void *p = NULL;
    if (cudaMallocHost(&p, bytes ? bytes : 4) != cudaSuccess) { cudaGetLastError(); return NULL; }
    return p;
}

extern "C" void gpu_host_free(void *p) {
    if (p) cudaFreeHost(p);
}
