// The layers in double: the same code, for finite-difference checks.
#include "layers.h"

#define real double
#define S _f64
#define GEMM cblas_dgemm
#define EXP exp
#define SQRT sqrt
#include "layers_impl.h"
