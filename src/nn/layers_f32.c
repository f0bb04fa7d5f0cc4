// The layers in float: the network's own arithmetic.
#include "layers.h"

#define real float
#define S _f32
#define GEMM cblas_sgemm
#define EXP expf
#define SQRT sqrtf
#include "layers_impl.h"
