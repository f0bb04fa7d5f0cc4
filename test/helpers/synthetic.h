// Synthetic targets for the detector's test helpers (nn_bench, gpu_parity): 2 or 3 boxes an
// image (2.5 on average, as in MED-MNIST), sides 0.08-0.4 of the image, inside it, with EARL
// weights in 1..3. t must hold 3 * B targets; returns how many were written.
#ifndef TEST_SYNTHETIC_H
#define TEST_SYNTHETIC_H

#include "loss.h"
#include "rng.h"

static inline int random_targets(Rng *r, int B, int classes, Target *t) {
    int nt = 0;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < 2 + (b % 2); k++) {
            float w = (float)rng_range(r, 0.08, 0.4), h = (float)rng_range(r, 0.08, 0.4);
            t[nt++] = (Target){ b, rng_int(r, 0, classes - 1), (float)rng_range(r, w / 2, 1 - w / 2),
                                (float)rng_range(r, h / 2, 1 - h / 2), w, h, (float)rng_range(r, 1, 3), NULL };
        }
    return nt;
}

#endif
