// A build without NCCL (make CUDA=0, or a CUDA toolkit without nccl.h): GPU processes
// cannot sum their gradients, and say so.
#include <stdio.h>

#include "gpu.h"

int gpu_use_device(int index, char *err, size_t n) {
    snprintf(err, n, "built without NCCL (make CUDA=1 with a CUDA toolkit that has nccl.h)");
    return -1;
}
int gpu_comm_id(void *id, char *err, size_t n) {
    snprintf(err, n, "built without NCCL (make CUDA=1 with a CUDA toolkit that has nccl.h)");
    return -1;
}
GpuComm *gpu_comm_create(const void *id, int ranks, int rank, char *err, size_t n) {
    snprintf(err, n, "built without NCCL (make CUDA=1 with a CUDA toolkit that has nccl.h)");
    return NULL;
}
void gpu_comm_free(GpuComm *c) {}
int gpu_net_sum_grads(GpuNet *g, GpuComm *c) { return -1; }
