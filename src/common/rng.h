// Seedable random numbers: PCG32 (O'Neill's PCG-XSH-RR, 64-bit state, 32-bit output)
// with independent streams, plus uniform, normal, gamma and Dirichlet draws.
// Every draw is a pure function of (seed, stream, number of draws so far), so results
// do not depend on threads or the machine.
#ifndef MAD_RNG_H
#define MAD_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
    uint64_t inc;   // stream selector, always odd
} Rng;

// Seeds a generator; different streams give independent sequences for one seed.
void rng_seed(Rng *r, uint64_t seed, uint64_t stream);
uint32_t rng_u32(Rng *r);
// Uniform double in [0, 1) with 53 random bits.
double rng_uniform(Rng *r);
// Uniform double in [lo, hi).
double rng_range(Rng *r, double lo, double hi);
// Uniform integer in [lo, hi] (inclusive), without modulo bias.
int rng_int(Rng *r, int lo, int hi);
// Standard normal N(0,1) (Marsaglia polar method; one value per call).
double rng_normal(Rng *r);
// Gamma(shape, 1) for shape > 0 (Marsaglia and Tsang).
double rng_gamma(Rng *r, double shape);
// Dirichlet(alpha[0..k-1]) into out[0..k-1]; out sums to 1.
void rng_dirichlet(Rng *r, const double *alpha, int k, double *out);
// Poisson(lambda), lambda >= 0 (inversion; fine for the small rates used here).
int rng_poisson(Rng *r, double lambda);
// Shuffles idx[0..n-1] in place (Fisher-Yates).
void rng_shuffle_int(Rng *r, int *idx, int n);

#endif
