// The layers in float: the network's own arithmetic.
#include "layers.h"

#include <math.h>

// expf in 8 lanes: glibc's libmvec (_ZGVdN8v_expf) where a loop vectorises for AVX2
#pragma omp declare simd notinbranch simdlen(8)
float expf(float);

#define real float
#define S _f32
#define LAYER_NAME(name_f32, name_f64) name_f32
#define GEMM cblas_sgemm
#define EXP expf
#define SQRT sqrtf
#include "layers_impl.h"
