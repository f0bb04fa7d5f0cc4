// The processes of data-parallel training, over Open MPI (launched by mpirun, or srun under
// Slurm). A thin layer: train's other files never name MPI, and a build without MPI
// (make MPI=0) keeps one process, refusing to run under a launcher.
//
// Functions returning int give 0, or -1 with the reason in err (MPI's default error
// handler aborts the job on a communication error, so -1 means a local failure).
#ifndef TRAIN_DIST_H
#define TRAIN_DIST_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    int rank, size;          // this process among size (0 of 1 without a launcher)
    int local_rank;          // among the processes of this machine: the GPU it takes
    int active;              // MPI is initialised (a launcher started this process)
    char host[64];
} Dist;

// Starts MPI when a launcher started this process (its environment says so: Open MPI's,
// PMIx's or Slurm's variables), else a single process. From then on, a process that
// exits before dist_finalize (an error, a signal handler's exit) stops every process of
// the job with its exit code. Returns -1 under a launcher in a build without MPI, and when
// MPI joins fewer processes than the launcher started (srun without --mpi=pmix).
int dist_init(Dist *d, char *err, size_t n);
// This process's rank as the launcher's environment gives it (0 without a launcher), before
// dist_init: for what every process would print alike (the help, a usage error).
int dist_launcher_rank(void);
// Ends MPI after a successful run (every process calls it).
void dist_finalize(Dist *d);

// Sums over the processes, in place; every process gets the same values.
void dist_sum_f32(const Dist *d, float *v, size_t n);
void dist_sum_f64(const Dist *d, double *v, size_t n);
void dist_sum_int(const Dist *d, int *v, int n);
// Rank root's bytes to every process (any size).
void dist_bcast(const Dist *d, void *buf, size_t bytes, int root);

// Reads fp to its end on rank 0 and gives the bytes to every process: *buf (malloc'd, NUL
// after the last byte) and *len. -1 when out of memory or the read fails (rank 0's err).
int dist_read_all(const Dist *d, FILE *fp, char **buf, size_t *len, char *err, size_t n);

#endif
