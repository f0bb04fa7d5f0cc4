#include "ddp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

int ddp_share_images(void *ctx, Dataset *d, int parts) {
    const Dist *dist = ctx;
    size_t plane = (size_t)d->ch * d->size * d->size;
    for (int r = 0; r < parts; r++) {
        long lo = (long)d->n * r / parts, hi = (long)d->n * (r + 1) / parts;
        size_t k = (size_t)(hi - lo);
        dist_bcast(dist, d->pixels + (size_t)lo * plane, k * plane, r);
        dist_bcast(dist, d->scale_x + lo, k * sizeof(double), r);
        dist_bcast(dist, d->scale_y + lo, k * sizeof(double), r);
        dist_bcast(dist, d->pad_x + lo, k * sizeof(double), r);
        dist_bcast(dist, d->pad_y + lo, k * sizeof(double), r);
    }
    return 0;
}

static void net_sum(void *ctx, double *v, int n) { dist_sum_f64(ctx, v, (size_t)n); }

int ddp_pick_gpu(const Dist *dist, DeviceChoice device, char *err, size_t n) {
    char probe[256];
    if (!dist->active || device == DEVICE_CPU) return 0;
    int count = gpu_probe(probe, sizeof probe);
    // one GPU in sight (one machine's only GPU, or the one a scheduler gave this task): that
    // one; several: the local rank's, one process per GPU
    if (count <= 1) return 0;
    if (dist->local_rank >= count) {
        snprintf(err, n, "%d GPUs on %s for more processes (local rank %d): start one process per GPU, or give --device cpu", count,
                 dist->host, dist->local_rank);
        return -1;
    }
    return gpu_use_device(dist->local_rank, err, n);
}

int ddp_init(Ddp *p, const Dist *dist, Engine *eng, int sync_bn, char *err, size_t n) {
    memset(p, 0, sizeof *p);
    p->dist = dist;
    p->eng = eng;
    if (!dist->active) return 0;
    int gpus = engine_on_gpu(eng);
    dist_sum_int(dist, &gpus, 1);
    if (gpus != 0 && gpus != dist->size) {
        snprintf(err, n, "%d of the %d processes run on a GPU, the others on the CPU: give them all --device cpu, or a GPU each", gpus,
                 dist->size);
        return -1;
    }
    if (gpus) {
        if (sync_bn && dist->size > 1) {
            snprintf(err, n, "--sync-bn: batch norm is synchronised on the CPU only; GPU processes normalise by their own images");
            return -1;
        }
        unsigned char id[GPU_COMM_ID_BYTES] = { 0 };
        char why[400] = "";
        int ok = dist->rank != 0 || gpu_comm_id(id, why, sizeof why) == 0;
        dist_sum_int(dist, &ok, 1);   // every process learns whether rank 0 made the id
        if (ok != dist->size) {
            if (dist->rank == 0) snprintf(err, n, "the GPU processes cannot sum their gradients: %s (or give --device cpu)", why);
            else snprintf(err, n, "rank 0 could not start NCCL (its message says why)");
            return -1;
        }
        dist_bcast(dist, id, sizeof id, 0);
        p->comm = gpu_comm_create(id, dist->size, dist->rank, err, n);
        return p->comm ? 0 : -1;
    }
    p->acc = calloc(eng->net->n_floats, sizeof(float));
    if (!p->acc) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    p->sync = (NetSync){ .sum_f64 = net_sum, .ctx = (void *)dist, .lead = dist->rank == 0, .sync_bn = sync_bn };
    eng->net->sync = &p->sync;
    return 0;
}

void ddp_free(Ddp *p) {
    if (p->eng && p->eng->net && p->eng->net->sync == &p->sync) p->eng->net->sync = NULL;
    gpu_comm_free(p->comm);
    free(p->acc);
    memset(p, 0, sizeof *p);
}

int ddp_loss_norm(Ddp *p, const Target *t, int nt, int global, LossOptions *lo, char *err, size_t n) {
    if (!p->dist->active) return 0;
    int counts[NET_LEVELS];
    if (loss_count_assigned(p->eng->net, t, nt, lo, counts) != 0) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    dist_sum_int(p->dist, counts, NET_LEVELS);
    lo->norm_batch = global;
    memcpy(lo->norm_assigned, counts, sizeof counts);
    p->sync.batch = global;
    return 0;
}

void ddp_after_backward(Ddp *p) {
    if (!p->dist->active || !p->acc) return;
    Net *net = p->eng->net;
    size_t nf = net->n_floats;
    // this pass's gradients, summed over the processes, join the step's sum in the order one
    // process adds its passes: acc + (pass's sum), as net_backward adds into grads
    dist_sum_f32(p->dist, net->grads, nf);
    for (size_t j = 0; j < nf; j++) p->acc[j] += net->grads[j];
    memset(net->grads, 0, sizeof(float) * nf);
}

int ddp_before_step(Ddp *p) {
    if (!p->dist->active) return 0;
    if (p->comm) {
        if (gpu_net_sum_grads(p->eng->gpu, p->comm) != 0) {
            snprintf(p->eng->err, sizeof p->eng->err, "GPU: %s", gpu_net_error(p->eng->gpu));
            return -1;
        }
        return 0;
    }
    Net *net = p->eng->net;
    memcpy(net->grads, p->acc, sizeof(float) * net->n_floats);
    memset(p->acc, 0, sizeof(float) * net->n_floats);
    return 0;
}
