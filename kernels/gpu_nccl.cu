// Data-parallel training between GPUs: NCCL's all-reduce of the gradients, one process
// per GPU (gpu.h). The processes are started and the communicator's id is passed around
// by MPI (src/train/dist.c); NCCL moves the gradients between the devices.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nccl.h>

#include "gpu_internal.h"

struct GpuComm {
    ncclComm_t comm;
};

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
    ncclResult_t r = ncclGetUniqueId((ncclUniqueId *)id);
    if (r != ncclSuccess) {
        snprintf(err, n, "ncclGetUniqueId failed: %s", ncclGetErrorString(r));
        return -1;
    }
    return 0;
}

extern "C" GpuComm *gpu_comm_create(const void *id, int ranks, int rank, char *err, size_t n) {
    GpuComm *c = (GpuComm *)calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    ncclUniqueId uid;
    memcpy(&uid, id, sizeof uid);
    ncclResult_t r = ncclCommInitRank(&c->comm, ranks, uid, rank);
    if (r != ncclSuccess) {
        snprintf(err, n, "ncclCommInitRank (rank %d of %d) failed: %s", rank, ranks, ncclGetErrorString(r));
        free(c);
        return NULL;
    }
    return c;
}

extern "C" void gpu_comm_free(GpuComm *c) {
    if (!c) return;
    ncclCommDestroy(c->comm);
    free(c);
}

extern "C" int gpu_net_sum_grads(GpuNet *g, GpuComm *c) {
    size_t nf = g->net->n_floats;
    ncclResult_t r = ncclAllReduce(g->grads, g->grads, nf, ncclFloat, ncclSum, c->comm, g->stream);
    if (r != ncclSuccess) return gpu_fail_call(g, "ncclAllReduce", ncclGetErrorString(r));
    return 0;
}
