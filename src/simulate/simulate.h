// The MED-MNIST generator: canvases, experts and records.
#ifndef SIM_SIMULATE_H
#define SIM_SIMULATE_H

#include <stdint.h>
#include <stdio.h>

#include "canvas.h"
#include "cli.h"
#include "experts.h"
#include "idx.h"

enum { SIM_MAX_EXPERTS = 64 };

typedef struct {
    int n;                    // images
    long first;               // index of the first image (ids and random streams)
    const char *out;          // image folder
    const char *prefix;       // id prefix
    const char *matrices;     // JSON file for the transition matrices, or NULL
    uint64_t seed;
    int quality;              // JPEG quality
    CanvasParams canvas;
    int n_experts;
    double proficiency[SIM_MAX_EXPERTS];
    double sigma, zeta, jitter, fp_rate;
} SimParams;

typedef struct {
    int empty;
    long digits, annotations;
} SimSummary;

void sim_params_default(SimParams *sp);

// The experts' matrices, A[k] for expert k; each from its own random stream.
void sim_draw_matrices(const SimParams *sp, double (*A)[N_COLS][N_COLS]);

// Generates sp->n images into sp->out and writes their records to `records`.
// Images are made in parallel; the output is the same for any number of threads.
int simulate_run(const SimParams *sp, const Digits *d, FILE *records, Progress *pr, SimSummary *sum,
                 char *err, size_t errn);

#endif
