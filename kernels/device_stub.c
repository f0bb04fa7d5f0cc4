// The CPU-only build (make CUDA=0): no CUDA path is compiled in.
#include <stdio.h>

#include "device.h"

int gpu_compiled(void) { return 0; }

int gpu_probe(char *desc, size_t n) {
    snprintf(desc, n, "no GPU found (built without CUDA: make CUDA=0)");
    return 0;
}
