// The layers in double: the same code, for finite-difference checks.
#include "layers.h"

#define real double
#define S _f64
#define LAYER_NAME(name_f32, name_f64) name_f64
#define GEMM cblas_dgemm
#define EXP exp
#define SQRT sqrt
#include "layers_impl.h"
