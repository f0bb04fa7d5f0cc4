#include "dist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_MPI
#include <mpi.h>
#endif

// The launcher's variables: Open MPI's mpirun, PMIx and PMI-2 (srun --mpi=pmix or pmi2),
// and a step of several tasks under srun (SLURM_STEP_NUM_TASKS: srun sets it, a batch
// script's own environment, which also has SLURM_NTASKS, does not run as a step of several).
static int env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : fallback;
}

static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") ||
           (getenv("SLURM_PROCID") && env_int("SLURM_STEP_NUM_TASKS", 1) > 1);
}

int dist_launcher_rank(void) {
    if (!launched()) return 0;
    static const char *const names[] = { "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID" };
    for (int i = 0; i < 4; i++)
        if (getenv(names[i])) return env_int(names[i], 0);
    return 0;
}



#ifdef HAVE_MPI

// The processes the launcher started, where its environment says (0: it does not say).
static int launcher_size(void) {
    int n = env_int("OMPI_COMM_WORLD_SIZE", 0);
    if (!n) n = env_int("PMI_SIZE", 0);
    if (!n && getenv("SLURM_PROCID")) n = env_int("SLURM_STEP_NUM_TASKS", 0);
    return n;
}

// An exit before dist_finalize takes the whole job down, with this process's exit code,
// so that no rank waits forever on one that is gone.
static void stop_job(int status, void *arg) {
    const Dist *d = arg;
    int fin = 0, init = 0;
    MPI_Initialized(&init);
    if (!init) return;
    MPI_Finalized(&fin);
    if (fin) return;
    fprintf(stderr, "train: rank %d of %d (%s) stopped with exit code %d: stopping every rank\n", d->rank, d->size, d->host,
            status);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, status);
}

int dist_init(Dist *d, char *err, size_t n) {
    memset(d, 0, sizeof *d);
    d->size = 1;
    if (gethostname(d->host, sizeof d->host - 1) != 0) snprintf(d->host, sizeof d->host, "?");
    if (!launched()) return 0;
    int provided = 0;
    // MPI is called from the main thread only (the master thread of OpenMP's regions)
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        snprintf(err, n, "MPI_Init_thread failed");
        return -1;
    }
    d->active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    // the handler outlives main's frame: it gets its own copy
    Dist *copy = malloc(sizeof *copy);
    if (copy) {
        *copy = *d;
        on_exit(stop_job, copy);
    }
    if (provided < MPI_THREAD_FUNNELED) {
        snprintf(err, n, "this MPI cannot be called from the main thread of a threaded process (MPI_THREAD_FUNNELED)");
        return -1;
    }
    int started = launcher_size();
    if (started && started != d->size) {
        snprintf(err, n, "the launcher started %d processes, but MPI joined %d: under srun, give --mpi=pmix (Open MPI joins srun's tasks through PMIx)",
                 started, d->size);
        return -1;
    }
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &d->local_rank);
    MPI_Comm_free(&local);
    return 0;
}

void dist_finalize(Dist *d) {
    if (!d->active) return;
    MPI_Finalize();
    d->active = 0;
}

// MPI counts are ints: large arrays go in pieces of at most 2^28 elements.
enum { PIECE = 1 << 28 };

void dist_sum_f32(const Dist *d, float *v, size_t n) {
    if (!d->active) return;
    for (size_t i = 0; i < n; i += PIECE)
        MPI_Allreduce(MPI_IN_PLACE, v + i, (int)(n - i < PIECE ? n - i : PIECE), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

void dist_sum_f64(const Dist *d, double *v, size_t n) {
    if (!d->active) return;
    for (size_t i = 0; i < n; i += PIECE)
        MPI_Allreduce(MPI_IN_PLACE, v + i, (int)(n - i < PIECE ? n - i : PIECE), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void dist_sum_int(const Dist *d, int *v, int n) {
    if (d->active) MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
}

void dist_bcast(const Dist *d, void *buf, size_t bytes, int root) {
    if (!d->active) return;
    for (size_t i = 0; i < bytes; i += PIECE)
        MPI_Bcast((char *)buf + i, (int)(bytes - i < PIECE ? bytes - i : PIECE), MPI_BYTE, root, MPI_COMM_WORLD);
}

#else   // built without MPI: one process

int dist_init(Dist *d, char *err, size_t n) {
    memset(d, 0, sizeof *d);
    d->size = 1;
    if (gethostname(d->host, sizeof d->host - 1) != 0) snprintf(d->host, sizeof d->host, "?");
    if (launched()) {
        snprintf(err, n, "started by a launcher (mpirun, srun), but this build has no MPI: install libopenmpi-dev and rebuild");
        return -1;
    }
    return 0;
}

void dist_finalize(Dist *d) { (void)d; }
void dist_sum_f32(const Dist *d, float *v, size_t n) { (void)d; (void)v; (void)n; }
void dist_sum_f64(const Dist *d, double *v, size_t n) { (void)d; (void)v; (void)n; }
void dist_sum_int(const Dist *d, int *v, int n) { (void)d; (void)v; (void)n; }
void dist_bcast(const Dist *d, void *buf, size_t bytes, int root) { (void)d; (void)buf; (void)bytes; (void)root; }

#endif

int dist_read_all(const Dist *d, FILE *fp, char **buf, size_t *len, char *err, size_t n) {
    // rank 0 reads; the length goes out first (SIZE_MAX: rank 0 failed, and says why)
    uint64_t have = 0;
    char *b = NULL;
    if (d->rank == 0) {
        size_t cap = 1 << 16;
        b = malloc(cap + 1);
        while (b) {
            size_t got = fread(b + have, 1, cap - have, fp);
            have += got;
            if (got == 0) break;
            if (have == cap) {
                char *nb = realloc(b, 2 * cap + 1);
                if (!nb) { free(b); b = NULL; break; }
                b = nb;
                cap *= 2;
            }
        }
        if (!b || ferror(fp)) {
            snprintf(err, n, b ? "cannot read the records" : "out of memory reading the records");
            free(b);
            b = NULL;
            have = UINT64_MAX;
        }
    }
    dist_bcast(d, &have, sizeof have, 0);
    if (have == UINT64_MAX) {
        if (d->rank != 0) snprintf(err, n, "rank 0 could not read the records");
        return -1;
    }
    if (d->rank != 0) {
        b = malloc(have + 1);
        if (!b) { snprintf(err, n, "out of memory for %llu bytes of records", (unsigned long long)have); return -1; }
    }
    dist_bcast(d, b, have, 0);
    b[have] = 0;
    *buf = b;
    *len = have;
    return 0;
}
