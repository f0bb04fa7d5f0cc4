// The GPU at run time. Tools that can use a GPU ask gpu_probe() first and fall back to
// the CPU, saying so, when it returns 0.
#ifndef MAD_DEVICE_H
#define MAD_DEVICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Number of usable CUDA devices. desc receives one line: the first device's name, memory
// and compute capability, or why there is none (no CUDA in this build, no driver, ...).
int gpu_probe(char *desc, size_t n);
// 1 when this build has the CUDA path compiled in.
int gpu_compiled(void);

#ifdef __cplusplus
}
#endif

#endif
