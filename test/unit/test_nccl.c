// The GPU processes' NCCL path (kernels/gpu_nccl.cu) as far as a machine without a GPU can
// take it: libnccl.so.2 loads, an id is made twice (the thread NCCL starts for the first
// keeps running in the library, which must stay loaded), and a communicator without a GPU
// fails with NCCL's reason. A build or a machine without NCCL says so and checks that.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gpu.h"

int main(void) {
    unsigned char id[GPU_COMM_ID_BYTES], id2[GPU_COMM_ID_BYTES];
    char err[512] = "";
    if (gpu_comm_id(id, err, sizeof err) != 0) {
        printf("nccl: %s\n", err);
        CHECK(strstr(err, "built without NCCL") || strstr(err, "cannot load NCCL"));
        CHECK(gpu_comm_create(id, 1, 0, err, sizeof err) == NULL);
        return check_report("nccl");
    }
    CHECK(gpu_comm_id(id2, err, sizeof err) == 0);
    CHECK(memcmp(id, id2, sizeof id) != 0);   // two communicators, two ids
    GpuComm *c = gpu_comm_create(id, 1, 0, err, sizeof err);
    if (c) {
        printf("nccl: a communicator of one process on this machine's GPU\n");
        gpu_comm_free(c);
    } else {
        printf("nccl: no GPU: %s\n", err);
        CHECK(strstr(err, "ncclCommInitRank (rank 0 of 1) failed") != NULL);
    }
    usleep(300000);   // NCCL's threads run on in the library meanwhile
    return check_report("nccl");
}
