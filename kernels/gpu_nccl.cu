// Data-parallel training between GPUs: NCCL's all-reduce of the gradients, one process
// per GPU (gpu.h). The processes are started, and the communicator's id passed around, by
// MPI (src/train/dist.c); NCCL moves the gradients between the devices.
//
// Built against the CUDA toolkit's nccl.h; libnccl.so.2 (about 200 MB) is loaded when a
// communicator is made, not at start, so that train runs where NCCL is not installed (one
// GPU, or the CPU) and says so where it is needed. It is loaded once and never unloaded
// (RTLD_NODELETE): ncclGetUniqueId leaves a thread running in it.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nccl.h>

#include "gpu_internal.h"

typedef struct {
    void *lib;
    ncclResult_t (*get_unique_id)(ncclUniqueId *);
    ncclResult_t (*comm_init_rank)(ncclComm_t *, int, ncclUniqueId, int);
    ncclResult_t (*comm_destroy)(ncclComm_t);
    ncclResult_t (*all_reduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
    const char *(*error_string)(ncclResult_t);
} NcclApi;

struct GpuComm {
    NcclApi api;
    ncclComm_t comm;
};

static int nccl_load(NcclApi *a, char *err, size_t n) {
    memset(a, 0, sizeof *a);
    a->lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!a->lib) {
        snprintf(err, n, "cannot load NCCL (libnccl.so.2, in the CUDA toolkit or PyTorch's nvidia-nccl wheel): %s", dlerror());
        return -1;
    }
    a->get_unique_id = (ncclResult_t(*)(ncclUniqueId *))dlsym(a->lib, "ncclGetUniqueId");
    a->comm_init_rank = (ncclResult_t(*)(ncclComm_t *, int, ncclUniqueId, int))dlsym(a->lib, "ncclCommInitRank");
    a->comm_destroy = (ncclResult_t(*)(ncclComm_t))dlsym(a->lib, "ncclCommDestroy");
    a->all_reduce = (ncclResult_t(*)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t))dlsym(
        a->lib, "ncclAllReduce");
    a->error_string = (const char *(*)(ncclResult_t))dlsym(a->lib, "ncclGetErrorString");
    if (!a->get_unique_id || !a->comm_init_rank || !a->comm_destroy || !a->all_reduce || !a->error_string) {
        snprintf(err, n, "libnccl.so.2 lacks a function this build calls: %s", dlerror());
        return -1;
    }
    return 0;
}

extern "C" int gpu_use_device(int index, char *err, size_t n) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        snprintf(err, n, "cudaGetDeviceCount failed: %s", cudaGetErrorString(e));
        return -1;
    }
    if (index < 0 || index >= count) {
        snprintf(err, n, "this machine has %d GPU%s; local rank %d has none (one process per GPU)", count, count == 1 ? "" : "s", index);
        return -1;
    }
    e = cudaSetDevice(index);
    if (e != cudaSuccess) {
        snprintf(err, n, "cudaSetDevice(%d) failed: %s", index, cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

extern "C" int gpu_comm_id(void *id, char *err, size_t n) {
    static_assert(sizeof(ncclUniqueId) == GPU_COMM_ID_BYTES, "NCCL's id size");
    NcclApi a;
    if (nccl_load(&a, err, n) != 0) return -1;
    ncclResult_t r = a.get_unique_id((ncclUniqueId *)id);
    if (r != ncclSuccess) snprintf(err, n, "ncclGetUniqueId failed: %s", a.error_string(r));
    return r == ncclSuccess ? 0 : -1;
}

extern "C" GpuComm *gpu_comm_create(const void *id, int ranks, int rank, char *err, size_t n) {
    GpuComm *c = (GpuComm *)calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    if (nccl_load(&c->api, err, n) != 0) {
        free(c);
        return NULL;
    }
    ncclUniqueId uid;
    memcpy(&uid, id, sizeof uid);
    ncclResult_t r = c->api.comm_init_rank(&c->comm, ranks, uid, rank);
    if (r != ncclSuccess) {
        snprintf(err, n, "ncclCommInitRank (rank %d of %d) failed: %s", rank, ranks, c->api.error_string(r));
        free(c);
        return NULL;
    }
    return c;
}

extern "C" void gpu_comm_free(GpuComm *c) {
    if (!c) return;
    c->api.comm_destroy(c->comm);
    free(c);
}

extern "C" int gpu_net_sum_grads(GpuNet *g, GpuComm *c) {
    size_t nf = g->net->n_floats;
    ncclResult_t r = c->api.all_reduce(g->grads, g->grads, nf, ncclFloat, ncclSum, c->comm, g->stream);
    if (r != ncclSuccess) return gpu_fail_call(g, "ncclAllReduce", c->api.error_string(r));
    return 0;
}
