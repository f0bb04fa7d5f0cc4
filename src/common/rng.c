#include "rng.h"

#include <math.h>

static const uint64_t PCG_MULT = 6364136223846793005ULL;

void rng_seed(Rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    rng_u32(r);
    r->state += seed;
    rng_u32(r);
}

uint32_t rng_u32(Rng *r) {
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

double rng_uniform(Rng *r) {
    uint64_t hi = rng_u32(r) >> 5;   // 27 bits
    uint64_t lo = rng_u32(r) >> 6;   // 26 bits
    return (double)((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

double rng_range(Rng *r, double lo, double hi) {
    return lo + (hi - lo) * rng_uniform(r);
}

int rng_int(Rng *r, int lo, int hi) {
    if (hi <= lo) return lo;
    uint32_t span = (uint32_t)((int64_t)hi - lo + 1);
    uint32_t limit = (uint32_t)(-span) % span;   // reject the low values that bias
    uint32_t x;
    do { x = rng_u32(r); } while (x < limit);
    return lo + (int)(x % span);
}

double rng_normal(Rng *r) {
    double u, v, s;
    do {
        u = 2.0 * rng_uniform(r) - 1.0;
        v = 2.0 * rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}

double rng_gamma(Rng *r, double shape) {
    if (shape < 1.0) {
        // Boost: Gamma(a) = Gamma(a+1) * U^(1/a)
        double u = rng_uniform(r);
        return rng_gamma(r, shape + 1.0) * pow(u > 0 ? u : 1e-300, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do { x = rng_normal(r); v = 1.0 + c * x; } while (v <= 0.0);
        v = v * v * v;
        double u = rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

void rng_dirichlet(Rng *r, const double *alpha, int k, double *out) {
    double sum = 0.0;
    for (int i = 0; i < k; i++) { out[i] = rng_gamma(r, alpha[i]); sum += out[i]; }
    if (sum <= 0.0) {  // every draw underflowed: fall back to the mean
        double asum = 0.0;
        for (int i = 0; i < k; i++) asum += alpha[i];
        for (int i = 0; i < k; i++) out[i] = alpha[i] / asum;
        return;
    }
    for (int i = 0; i < k; i++) out[i] /= sum;
}

int rng_poisson(Rng *r, double lambda) {
    if (lambda <= 0.0) return 0;
    double l = exp(-lambda), p = 1.0;
    int k = 0;
    do { k++; p *= rng_uniform(r); } while (p > l && k < 1000000);
    return k - 1;
}

void rng_shuffle_int(Rng *r, int *idx, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = rng_int(r, 0, i);
        int t = idx[i]; idx[i] = idx[j]; idx[j] = t;
    }
}
