#!/usr/bin/env python3
"""The GPU's measured dense matrix rates, the ceiling under `make bench-gpu`'s FLOP floor.

    gpu_matrate.py [--n N] [--runs R]

Times torch.matmul of two random N x N matrices (default 8192) with CUDA events after
warm-up, in fp32 without TF32, in fp32 with TF32, and in bf16, and prints one JSON object
with each rate in TFLOP/s (2 N^3 flops a product, median of R runs). Without a CUDA device
it prints {"error": ...} and exits 0.
"""
import argparse
import json
import statistics

import torch


def set_tf32(on):
    """PyTorch >= 2.9's fp32_precision setting where it exists, else the allow_tf32 flag."""
    try:  # PyTorch 1.13's torch.backends.cuda.matmul raises AssertionError for unknown names
        torch.backends.cuda.matmul.fp32_precision
        new_api = True
    except (AttributeError, AssertionError):
        new_api = False
    if new_api:
        torch.backends.cuda.matmul.fp32_precision = "tf32" if on else "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = bool(on)


def rate(n, dtype, runs, warmup=3):
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    c = torch.empty(n, n, device="cuda", dtype=dtype)
    for _ in range(warmup):
        torch.matmul(a, b, out=c)
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.matmul(a, b, out=c)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    del a, b, c
    return 2 * n ** 3 / statistics.median(times) / 1e12


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=8192)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"bench": "gpu_matrate", "error": f"no CUDA device available to PyTorch {torch.__version__}"}))
        return
    try:
        res = {"bench": "gpu_matrate", "device": torch.cuda.get_device_name(0), "version": torch.__version__,
               "cuda": torch.version.cuda, "n": a.n, "runs": a.runs}
        set_tf32(False)
        res["fp32_tflops"] = round(rate(a.n, torch.float32, a.runs), 1)
        set_tf32(True)
        res["tf32_tflops"] = round(rate(a.n, torch.float32, a.runs), 1)
        res["bf16_tflops"] = round(rate(a.n, torch.bfloat16, a.runs), 1)
    except Exception as e:  # a device that errors still gives one JSON line
        res = {"bench": "gpu_matrate", "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
