#!/usr/bin/env python3
"""PyTorch's own TF32 error on the detector: the anchor for gpu_parity's TF32 figures.

    tf32_anchor.py [--device cuda|cpu]

For the -n width at 128 px (batch 8) and the -s width at 320 px (batch 4), the same layout
and loss as the C code (test/torch_yolo.py, scripts/bench_train.py) run one training step
on one random batch three ways: float64, float32, and float32 with TF32 convolutions. It
prints, as normwise relative errors, the Detect outputs and the gradients (all together and
the worst tensor) of TF32 against float32: the comparison gpu_parity makes between the GPU's
TF32 path and the CPU's float32 one. Also float32 and TF32 against float64. One JSON line
per configuration.
"""
import argparse
import json
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "test"))
from bench_train import default_anchors, random_targets, set_tf32, yolo_loss  # noqa: E402
from torch_yolo import Layout  # noqa: E402


def batch(B, S, nc, g):
    x = torch.rand(B, 1, S, S, generator=g)
    return x, random_targets(B, nc, g, torch.float64)


def step(P, x, targets, anchors, width, nc, S, dtype, dev):
    Q = {k: v.detach().to(dev, dtype).clone().requires_grad_(v.requires_grad) for k, v in P.items()}
    outs = Layout(Q, width, 0.33, True, keep_nodes=False, dtype=dtype).forward(x.to(dev, dtype))
    yolo_loss(outs, targets.to(dev, dtype), anchors.to(dev, dtype), nc, S).backward()
    return [o.detach().double().cpu() for o in outs], {k: v.grad.double().cpu() for k, v in Q.items() if v.grad is not None}


def rel(a, b):
    d, r = (a - b).norm().item(), b.norm().item()
    return d / r if r else (0.0 if d == 0 else float("inf"))


def compare(a, b):
    oa, ga = a
    ob, gb = b
    worst = max(ga, key=lambda k: rel(ga[k], gb[k]))
    return {"detect": max(rel(x, y) for x, y in zip(oa, ob)),
            "gradients": rel(torch.cat([ga[k].flatten() for k in sorted(ga)]), torch.cat([gb[k].flatten() for k in sorted(gb)])),
            "worst_tensor": worst, "worst_tensor_err": rel(ga[worst], gb[worst])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("tf32_anchor.py: no CUDA device")
    dev = torch.device(a.device)
    nc = 10
    for width, S, B in ((0.25, 128, 8), (0.5, 320, 4)):
        g = torch.Generator().manual_seed(a.seed)
        torch.manual_seed(a.seed)
        x, targets = batch(B, S, nc, g)
        P = {}
        Layout(P, width, 0.33, True, create=True, nc=nc, keep_nodes=False).forward(x)
        anchors = default_anchors(S, torch.float64)
        set_tf32(False)
        r64 = step(P, x, targets, anchors, width, nc, S, torch.float64, dev)
        r32 = step(P, x, targets, anchors, width, nc, S, torch.float32, dev)
        res = {"width": width, "size": S, "batch": B, "torch": torch.__version__, "device": a.device,
               "fp32_vs_fp64": compare(r32, r64)}
        if a.device == "cuda":
            set_tf32(True)
            rt = step(P, x, targets, anchors, width, nc, S, torch.float32, dev)
            set_tf32(False)
            res["tf32_vs_fp64"] = compare(rt, r64)
            res["tf32_vs_fp32"] = compare(rt, r32)
        print(json.dumps(res))


if __name__ == "__main__":
    main()
