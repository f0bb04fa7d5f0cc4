// numpy's arithmetic where results must agree with Python references to the last digit.
#ifndef MAD_NUMPY_H
#define MAD_NUMPY_H

// np.sum / np.add.reduce of a contiguous float64 array: pairwise summation (sequential
// below 8 terms, 8 accumulators up to 128, halves above) within buffers of 8192 elements,
// and the buffers' sums added in turn.
double numpy_sum(const double *a, int n);

// np.linspace(start, stop, num)[i]: i * ((stop - start) / (num - 1)) + start, the last
// value exactly stop.
double numpy_linspace(double start, double stop, int num, int i);

// np.argsort(v) with numpy 1.x's default kind ('quicksort', an introsort): idx[0..n)
// receives the ascending order. Ties come out as that algorithm leaves them: in input
// order up to 16 elements, in a data-dependent order above.
void numpy_argsort(const double *v, int *idx, int n);

#endif
