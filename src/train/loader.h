// Batches assembled on a worker thread while the network computes: the augmentation of
// batch i+1 overlaps the forward and backward passes of batch i (two slots, double
// buffered). The worker draws from the same RNG in the same order as a sequential loop
// would, so training stays deterministic and --resume exact.
#ifndef TRAIN_LOADER_H
#define TRAIN_LOADER_H

#include <pthread.h>

#include "data.h"

typedef struct {
    float *x;                // (nb, ch, size, size)
    Target *t;               // the batch's targets
    int nt, nb;              // targets, images (this process's part)
    int global;              // images of the whole batch, over every process
} Batch;

typedef struct {
    const Dataset *d;
    const AugOptions *aug;
    Rng *rng;
    const int *order;        // this epoch's image order
    int B, tcap;             // B: images of a whole batch
    int part, parts;         // data-parallel training: this process builds part `part` of
                             // `parts` of each batch (images nb * part / parts onwards)
    long per_epoch;
    Batch slot[2];
    int full[2];             // slot holds a batch not yet taken
    int pinned[2];           // slot's images are page-locked (gpu_host_alloc)
    long produced, taken;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running;
} Loader;

// Allocates two slots for part `part` of `parts` of batches of B images (0 of 1: whole
// batches). Returns -1 when out of memory.
int loader_init(Loader *L, const Dataset *d, const AugOptions *aug, Rng *rng, int B, int part, int parts, int tcap);
// Starts producing the epoch's batches in `order` (n images, per_epoch batches).
int loader_start_epoch(Loader *L, const int *order, long per_epoch);
// The next batch (waits for it); valid until the following loader_next call.
const Batch *loader_next(Loader *L);
// Waits for the worker after the epoch's last batch was taken.
void loader_end_epoch(Loader *L);
void loader_free(Loader *L);

#endif
