// The GPU network's state, shared by the CUDA sources of kernels/ (not a public header:
// tools use gpu.h). Error macros check every CUDA and cuDNN call and name the one that
// failed in g->err.
#ifndef MAD_GPU_INTERNAL_H
#define MAD_GPU_INTERNAL_H

#include <cuda_runtime.h>
#include <cudnn.h>

#include "gpu.h"
#include "gpu_ops.h"
#include "loss.h"

enum { MAX_BATCH_SIZES = 8 };

typedef struct {
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t data;
    cudnnConvolutionBwdFilterAlgo_t filter;
    cudnnMathType_t fwd_math, data_math, filter_math;
} ConvAlgos;

typedef struct {
    int batch;
    size_t workspace;
    ConvAlgos a[NET_MAX_NODES];
} AlgoSet;

typedef struct {
    float *out, *dout, *pre_bn, *pre_act, *mean, *rstd;
    int *argmax;
    cudnnTensorDescriptor_t y;      // (B, C, H, W)
    cudnnTensorDescriptor_t chan;   // (1, C, 1, 1): batch-norm parameters, Detect bias
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv[3];   // forward, backward data, backward filter
} GNode;

// The loss's device buffers (gpu_loss.cu), grown as needed.
typedef struct {
    LossSparse sp;                  // the host's part
    long *h_idx;                    // host staging: offsets and cells (page-locked)
    float *h_val;                   // host staging: gathered logits, then gradients and targets
    long *d_idx;                    // device: gather offsets, then scatter offsets and cells
    float *d_val;                   // device: gathered logits, then gradients and targets
    size_t cap;                     // elements of each of the four
    float *d_tobj, *d_wobj;         // dense objectness targets and weights of one level
    size_t cells_cap;
    double *d_part, *h_part;        // per-block objectness sums, NET_LEVELS x LOSS_BLOCKS
    int *order;                     // host scratch for sorting
    size_t order_cap;
} GpuLoss;

// Profiling (gpu_net_profile): device events between the operations of a step, each
// interval charged to the category of the operation it ends with.
enum { PROF_INPUT, PROF_CONV_FWD, PROF_BN_FWD, PROF_SILU_FWD, PROF_JOIN_FWD, PROF_LOSS, PROF_SILU_BWD, PROF_BN_BWD,
       PROF_CONV_BWD_FILTER, PROF_CONV_BWD_DATA, PROF_BIAS_BWD, PROF_JOIN_BWD, PROF_OPTIM, PROF_COUNT, PROF_EVENTS = 4096 };

typedef struct {
    int on, n;
    cudaEvent_t ev[PROF_EVENTS];
    int cat[PROF_EVENTS];
    double ms[PROF_COUNT];
    int steps;
} GpuProfile;

struct GpuNet {
    const Net *net;
    int B, cap, math;
    cudaStream_t stream;
    cudnnHandle_t dnn;
    float *params, *grads, *mom, *second, *ema, *wscratch;
    unsigned char *group;
    double *partial, *partial_host;
    GNode node[NET_MAX_NODES];
    float *arena, *tmp[2];
    void *ws;
    size_t ws_bytes, arena_bytes, mem;
    AlgoSet algos[MAX_BATCH_SIZES];
    int n_algos, cur;
    GpuLoss loss;
    cudnnBatchNormMode_t bn_mode;   // training batch norm: SPATIAL (FP32) or SPATIAL_PERSISTENT (TF32)
    GpuProfile *prof;               // NULL unless profiling
    char err[512];
};

// Records the end of an operation of category cat when profiling.
void gpu_prof_mark(GpuNet *g, int cat);

// Writes "CALL failed: why" (the call's name up to its parenthesis) and returns -1.
int gpu_fail_call(GpuNet *g, const char *call, const char *why);
// cudaMalloc, counted in g->mem.
int gpu_dalloc(GpuNet *g, void **p, size_t bytes);
void gpu_loss_free(GpuNet *g);

#define CU(call)                                                                       \
    do {                                                                               \
        cudaError_t e_ = (call);                                                       \
        if (e_ != cudaSuccess) return gpu_fail_call(g, #call, cudaGetErrorString(e_)); \
    } while (0)
#define DNN(call)                                                                          \
    do {                                                                                   \
        cudnnStatus_t s_ = (call);                                                         \
        if (s_ != CUDNN_STATUS_SUCCESS) return gpu_fail_call(g, #call, cudnnGetErrorString(s_)); \
    } while (0)

#endif
