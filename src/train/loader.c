#include "loader.h"

#include "gpu.h"

#include <stdlib.h>
#include <string.h>

int loader_init(Loader *L, const Dataset *d, const AugOptions *aug, Rng *rng, int B, int part, int parts, int tcap) {
    memset(L, 0, sizeof *L);
    L->d = d;
    L->aug = aug;
    L->rng = rng;
    L->B = B;
    L->tcap = tcap;
    L->part = part;
    L->parts = parts;
    size_t plane = (size_t)d->size * d->size, most = (size_t)(B + parts - 1) / parts;   // a part's images at most
    for (int s = 0; s < 2; s++) {
        // page-locked where CUDA can give it: the GPU copies the batch in faster
        L->slot[s].x = gpu_host_alloc(sizeof(float) * most * d->ch * plane);
        L->pinned[s] = L->slot[s].x != NULL;
        if (!L->slot[s].x) L->slot[s].x = malloc(sizeof(float) * most * d->ch * plane);
        L->slot[s].t = malloc(sizeof(Target) * (size_t)tcap);
        if (!L->slot[s].x || !L->slot[s].t) return -1;
    }
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    return 0;
}

// The worker: batch it goes to slot it % 2 once the consumer has taken what was there.
static void *produce(void *arg) {
    Loader *L = arg;
    int n = L->d->n;
    for (long it = 0; it < L->per_epoch; it++) {
        int s = (int)(it % 2);
        pthread_mutex_lock(&L->mu);
        while (L->full[s]) pthread_cond_wait(&L->cv, &L->mu);
        pthread_mutex_unlock(&L->mu);
        Batch *b = &L->slot[s];
        int start = (int)(it * L->B);
        int nb = n - start < L->B ? n - start : L->B, b0 = nb * L->part / L->parts, b1 = nb * (L->part + 1) / L->parts;
        b->global = nb;
        b->nb = b1 - b0;
        b->nt = dataset_batch_part(L->d, L->order + start, nb, b0, b1, L->aug, L->rng, b->x, b->t, L->tcap);
        pthread_mutex_lock(&L->mu);
        L->full[s] = 1;
        L->produced = it + 1;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
    }
    return NULL;
}

int loader_start_epoch(Loader *L, const int *order, long per_epoch) {
    L->order = order;
    L->per_epoch = per_epoch;
    L->produced = L->taken = 0;
    L->full[0] = L->full[1] = 0;
    if (pthread_create(&L->thread, NULL, produce, L) != 0) return -1;
    L->running = 1;
    return 0;
}

const Batch *loader_next(Loader *L) {
    pthread_mutex_lock(&L->mu);
    if (L->taken > 0) {   // the previous batch is done with: free its slot
        L->full[(L->taken - 1) % 2] = 0;
        pthread_cond_broadcast(&L->cv);
    }
    int s = (int)(L->taken % 2);
    while (!L->full[s]) pthread_cond_wait(&L->cv, &L->mu);
    L->taken++;
    pthread_mutex_unlock(&L->mu);
    return &L->slot[s];
}

void loader_end_epoch(Loader *L) {
    if (!L->running) return;
    pthread_mutex_lock(&L->mu);
    L->full[0] = L->full[1] = 0;   // nothing more will be taken: let the worker finish
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    pthread_join(L->thread, NULL);
    L->running = 0;
}

void loader_free(Loader *L) {
    loader_end_epoch(L);
    for (int s = 0; s < 2; s++) {
        if (L->pinned[s]) gpu_host_free(L->slot[s].x);
        else free(L->slot[s].x);
        free(L->slot[s].t);
    }
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
    memset(L, 0, sizeof *L);
}
