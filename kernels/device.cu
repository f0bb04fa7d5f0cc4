// Device discovery through the CUDA runtime (statically linked, so binaries run on
// machines without the toolkit and report "no GPU" when there is no driver or device).
#include <cuda_runtime.h>
#include <stdio.h>

#include "device.h"

extern "C" int gpu_compiled(void) { return 1; }

extern "C" int gpu_probe(char *desc, size_t n) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorInsufficientDriver) {
        snprintf(desc, n, "no GPU found (no NVIDIA driver, or one older than CUDA %d.%d)",
                 CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10);
        cudaGetLastError();
        return 0;
    }
    if (e != cudaSuccess) {
        snprintf(desc, n, "no GPU found (%s)", cudaGetErrorString(e));
        cudaGetLastError();   // clear the sticky error
        return 0;
    }
    if (count == 0) {
        snprintf(desc, n, "no GPU found (no CUDA device)");
        return 0;
    }
    cudaDeviceProp p;
    e = cudaGetDeviceProperties(&p, 0);
    if (e != cudaSuccess) {
        snprintf(desc, n, "no GPU found (%s)", cudaGetErrorString(e));
        return 0;
    }
    snprintf(desc, n, "%s, %.1f GiB, compute capability %d.%d%s", p.name,
             (double)p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), p.major, p.minor,
             count > 1 ? " (more devices present; using device 0)" : "");
    return count;
}
