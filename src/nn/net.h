// The detector: YOLOv5's layout (v6: Conv-BN-SiLU, C3, SPPF, FPN/PAN neck, Detect on P3-P5)
// as a list of nodes over NCHW float activations, with forward and backward passes.
//
// Parameters live in one allocation carved into named tensors (as llm.c does), so that
// saving, the optimiser and the EMA see one flat array; gradients mirror it.
#ifndef NN_NET_H
#define NN_NET_H

#include <stddef.h>

enum { NET_MAX_NODES = 256, NET_MAX_INPUTS = 4, NET_MAX_PARAMS = 512, NET_ANCHORS = 3, NET_LEVELS = 3 };

typedef enum {
    NODE_INPUT,     // the image batch
    NODE_CONV,      // conv (no bias) + batch norm + SiLU
    NODE_DETECT,    // conv with bias: the raw outputs of one level
    NODE_ADD,       // sum of two nodes (bottleneck shortcut)
    NODE_CONCAT,    // channel concatenation of 2..4 nodes
    NODE_UPSAMPLE,  // nearest, by 2
    NODE_MAXPOOL,   // kernel k, stride 1, same size (SPPF)
} NodeType;

typedef struct {
    NodeType type;
    int in[NET_MAX_INPUTS], n_in;
    int C, H, W;              // output shape per image
    int k, stride, pad;       // conv and pool
    int w, g, b;              // parameter indices: conv weight, BN gamma (beta = g + 1), detect bias
    int rm;                   // running mean index (running var = rm + 1), not trained
    // activations for a batch (B, C, H, W), owned by the net's arena
    float *out, *dout;
    float *pre_bn;            // conv output before BN
    float *sig;               // the sigmoid inside SiLU, kept by the training forward pass
    float *mean, *rstd;       // BN batch statistics
    int *argmax;              // max pool
} Node;

typedef struct {
    const char *name;
    size_t offset, count;
    int ndim;
    long shape[4];
    int decay;                // weight decay applies (conv weights only)
    int trainable;            // 0 for batch norm's running statistics
} Param;

typedef struct {
    float width, depth;       // multipliers
    int in_ch, classes, size; // input channels, classes, input side in pixels
} NetConfig;

// Data-parallel training (train's dist.c): the sums that cross processes. Each process runs
// its own images; sum_f64 adds a vector over the processes in place, the same result on
// every one. NULL in a single process.
typedef struct {
    void (*sum_f64)(void *ctx, double *v, int n);
    void *ctx;
    int lead;        // this process adds the totals every process holds (the Detect biases'
                     // gradients, and batch norm's with sync_bn) to grads; the others add
                     // nothing, so that summing grads over the processes counts them once
    int sync_bn;     // batch-norm statistics over the global batch (PyTorch's SyncBatchNorm)
    long batch;      // with sync_bn: images of the global batch this step
} NetSync;

typedef struct {
    NetConfig cfg;
    Node node[NET_MAX_NODES];
    int n_nodes;
    int detect[NET_LEVELS];   // the three Detect nodes, P3 P4 P5
    Param param[NET_MAX_PARAMS];
    int n_params;
    float *params, *grads;    // one allocation each, carved by param[].offset
    size_t n_floats;
    float anchors[NET_LEVELS][NET_ANCHORS][2];   // pixels
    int batch;                // activations are sized for this batch
    float *arena;             // activations and their gradients
    float *col;               // im2col scratch, one per thread
    size_t col_floats;        // per thread
    float *work;              // a group's convolution outputs or output gradients, one per thread
    size_t work_floats;       // per thread
    float *wtmp;              // per-thread weight-gradient scratch
    size_t wtmp_floats;       // per thread
    int threads;              // images of a batch are split across this many shares (one per
                              // thread of OMP_NUM_THREADS, at most one per image)
    int max_threads;          // omp_get_max_threads() when the net was first sized
    int team;                 // threads that run the shares (see team.h): a divisor of threads
    double *bn_sums;          // batch norm's per-channel sums, per thread: (threads, 2, bn_channels)
    int bn_channels;          // the widest convolution's output channels
    float *tmp[2];            // two activation-sized scratch buffers for the backward pass
    size_t max_act;           // floats of the largest activation of the batch
    int training;             // batch norm: batch statistics (1) or running ones (0)
    const NetSync *sync;      // NULL, or the processes of data-parallel training (training only)
    double *node_ms;          // NULL, or 2 * NET_MAX_NODES milliseconds summed per node: forward, then backward
} Net;

// Builds the layout and allocates parameters (initialised as PyTorch and YOLOv5 do, from
// the seed). Returns -1 when out of memory or the configuration is invalid.
int net_build(Net *net, const NetConfig *cfg, unsigned long long seed);
// (Re)allocates activations for a batch size.
int net_set_batch(Net *net, int batch);
// Runs the shares of every parallel region on `team` threads (1 <= team <= threads; the
// results do not depend on it, only the speed). net_set_batch resets it to threads.
void net_set_team(Net *net, int team);
void net_free(Net *net);

// x: (B, in_ch, size, size). Inside, activations are channel-major (C, B, H, W); the
// Detect outputs alone are NCHW: node[detect[l]].out, shaped
// (B, NET_ANCHORS * (5 + classes), size / stride, size / stride) with strides 8, 16, 32.
// Returns -1 when out of memory (a max pool's scratch; the outputs are then incomplete).
int net_forward(Net *net, const float *x);
// Given node[detect[l]].dout for each level, accumulates parameter gradients into grads.
void net_backward(Net *net, const float *x);
void net_zero_grad(Net *net);

// Node i's output (grad 0) or its gradient (grad 1) as NCHW (B, C, H, W) into dst: the
// network keeps them channel-major (C, B, H, W), except the Detect nodes'.
void net_node_nchw(const Net *net, int i, int grad, float *dst);

// Total multiply-adds of one forward pass of one image.
double net_macs(const Net *net);

#endif
