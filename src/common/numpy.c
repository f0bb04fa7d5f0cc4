#include "numpy.h"

// numpy's pairwise summation of one buffer.
static double pairwise_sum(const double *a, int n) {
    if (n < 8) {
        double r = 0.0;
        for (int i = 0; i < n; i++) r += a[i];
        return r;
    }
    if (n <= 128) {
        double r[8];
        int i;
        for (int k = 0; k < 8; k++) r[k] = a[k];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int k = 0; k < 8; k++) r[k] += a[i + k];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    int n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double numpy_sum(const double *a, int n) {
    // The reduction runs over buffers of 8192 elements (numpy's default buffer size),
    // summed pairwise each, and adds the buffers' sums in turn.
    enum { BUFSIZE = 8192 };
    if (n <= BUFSIZE) return pairwise_sum(a, n);
    double r = 0.0;
    for (int i = 0; i < n; i += BUFSIZE) r += pairwise_sum(a + i, n - i < BUFSIZE ? n - i : BUFSIZE);
    return r;
}

double numpy_linspace(double start, double stop, int num, int i) {
    if (i == num - 1) return stop;
    double step = (stop - start) / (num - 1);
    return (double)i * step + start;
}

// numpy's comparison for floats: NaN sorts last.
static int np_less(double a, double b) { return a < b || (b != b && a == a); }

static void swap_idx(int *a, int *b) { int t = *a; *a = *b; *b = t; }

// Moves a[i]'s index down the 1-based heap a[1..n] until its children are not larger.
static void np_sift_down(const double *v, int *a, int i, int n) {
    int tmp = a[i], j = i << 1;
    while (j <= n) {
        if (j < n && np_less(v[a[j]], v[a[j + 1]])) j++;
        if (!np_less(v[tmp], v[a[j]])) break;
        a[i] = a[j];
        i = j;
        j += j;
    }
    a[i] = tmp;
}

// numpy's heapsort of indices, the introsort's fallback (1-based heap over idx[0..n)).
static void np_aheapsort(const double *v, int *idx, int n) {
    int *a = idx - 1;
    for (int l = n >> 1; l > 0; --l) np_sift_down(v, a, l, n);
    while (n > 1) {
        int tmp = a[n];
        a[n] = a[1];
        a[1] = tmp;
        np_sift_down(v, a, 1, --n);
    }
}

void numpy_argsort(const double *v, int *idx, int n) {
    enum { SMALL = 15, STACK = 128 };
    for (int i = 0; i < n; i++) idx[i] = i;
    if (n < 2) return;
    int *stack[STACK], depth[STACK / 2];
    int **sp = stack, *dp = depth;
    int *pl = idx, *pr = idx + n - 1;
    int cdepth = 0;
    for (unsigned u = (unsigned)n; u >>= 1;) cdepth++;
    cdepth *= 2;
    for (;;) {
        if (cdepth < 0) {
            np_aheapsort(v, pl, (int)(pr - pl + 1));
            goto pop;
        }
        while (pr - pl > SMALL) {
            // median of three, then partition around it
            int *pm = pl + ((pr - pl) >> 1);
            if (np_less(v[*pm], v[*pl])) swap_idx(pm, pl);
            if (np_less(v[*pr], v[*pm])) swap_idx(pr, pm);
            if (np_less(v[*pm], v[*pl])) swap_idx(pm, pl);
            double vp = v[*pm];
            int *pi = pl, *pj = pr - 1;
            swap_idx(pm, pj);
            for (;;) {
                do ++pi; while (np_less(v[*pi], vp));
                do --pj; while (np_less(vp, v[*pj]));
                if (pi >= pj) break;
                swap_idx(pi, pj);
            }
            swap_idx(pi, pr - 1);
            // the larger part waits on the stack
            if (pi - pl < pr - pi) {
                *sp++ = pi + 1;
                *sp++ = pr;
                pr = pi - 1;
            } else {
                *sp++ = pl;
                *sp++ = pi - 1;
                pl = pi + 1;
            }
            *dp++ = --cdepth;
        }
        // insertion sort of the small part
        for (int *pi = pl + 1; pi <= pr; ++pi) {
            int vi = *pi;
            double vv = v[vi];
            int *pj = pi, *pk = pi - 1;
            while (pj > pl && np_less(vv, v[*pk])) *pj-- = *pk--;
            *pj = vi;
        }
    pop:
        if (sp == stack) break;
        pr = *(--sp);
        pl = *(--sp);
        cdepth = *(--dp);
    }
}
