#!/usr/bin/env python3
"""The PyTorch side of `make bench-train` (CPU) and `make bench-gpu` (--device cuda): the
same network, batch and image size as test/helpers/nn_bench.c, trained the same way.

    bench_train.py [--width W] [--depth D] [--classes K] [--size S] [--batch B]
                   [--steps N] [--threads T] [--warmup N] [--channels C]
                   [--device cpu|cuda] [--tf32 1|0]

A training step: forward, YOLOv5's loss with EARL weights (target assignment vectorised
as YOLOv5 does it), backward, gradient clipping at norm 10, SGD with Nesterov momentum
in YOLOv5's three parameter groups, and the EMA update. Inference: an eval-mode forward
pass and the box decoding (sigmoid, grid, anchors) without NMS, which favours PyTorch.
Prints one JSON object like nn_bench's. With --device cuda every tensor lives on the GPU,
cuDNN autotunes (cudnn.benchmark), TF32 is on unless --tf32 0, each timed region is
bracketed by torch.cuda.synchronize(), and the JSON adds the device's name, the peak GPU
memory (torch.cuda.max_memory_allocated) of the timed training and predict regions, and
the network's multiply-accumulates per image.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test"))
from torch_yolo import BALANCE, NA, STRIDES, Layout, ciou  # noqa: E402

OFFSETS = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=torch.float32)
_OFFSETS_ON = {}


def offsets_on(device):
    """OFFSETS on a device, copied there once."""
    if device.type == "cpu":
        return OFFSETS
    if device not in _OFFSETS_ON:
        _OFFSETS_ON[device] = OFFSETS.to(device)
    return _OFFSETS_ON[device]


def build_targets(targets, anchors, H, W, anchor_t=4.0, g=0.5):
    """targets (T, 7): image, class, x, y, w, h, weight; anchors (NA, 2) in cells."""
    nt, dev = targets.shape[0], targets.device
    gain = torch.tensor([1, 1, W, H, W, H, 1], dtype=targets.dtype, device=dev)
    t = (targets * gain)[None].repeat(NA, 1, 1)  # (NA, T, 7)
    ai = torch.arange(NA, device=dev)[:, None].repeat(1, nt)
    r = t[..., 4:6] / anchors[:, None]
    j = torch.max(r, 1 / r).max(2)[0] < anchor_t
    t, a = t[j], ai[j]
    gxy = t[:, 2:4]
    gxi = torch.tensor([W, H], dtype=t.dtype, device=dev) - gxy
    jj, kk = ((gxy % 1 < g) & (gxy > 1)).T
    ll, mm = ((gxi % 1 < g) & (gxi > 1)).T
    mask = torch.stack((torch.ones_like(jj), jj, kk, ll, mm))
    t = t.repeat((5, 1, 1))[mask]
    a = a.repeat((5, 1))[mask]
    off = (torch.zeros_like(gxy)[None] + offsets_on(dev)[:, None] * g)[mask]
    gij = (t[:, 2:4] - off).long()
    gi = gij[:, 0].clamp(0, W - 1)
    gj = gij[:, 1].clamp(0, H - 1)
    tbox = torch.cat((t[:, 2:4] - torch.stack((gi, gj), 1), t[:, 4:6]), 1)
    return t[:, 0].long(), a, gj, gi, tbox, t[:, 1].long(), t[:, 6], anchors[a]


def yolo_loss(outs, targets, anchors_px, nc, size):
    B = outs[0].shape[0]
    box_gain, cls_gain, obj_gain = 0.05, 0.5 * nc / 80, (size / 640) ** 2
    lbox = lobj = lcls = torch.zeros((), device=outs[0].device)
    for l, o in enumerate(outs):
        _, _, H, W = o.shape
        p = o.view(B, NA, 5 + nc, H, W).permute(0, 1, 3, 4, 2)
        b, a, gj, gi, tbox, tcls, wt, anc = build_targets(targets, anchors_px[l] / STRIDES[l], H, W)
        tobj = torch.zeros(p.shape[:4], dtype=p.dtype, device=p.device)
        if b.numel():
            ps = p[b, a, gj, gi]
            pbox = torch.cat((ps[:, :2].sigmoid() * 2 - 0.5, (ps[:, 2:4].sigmoid() * 2) ** 2 * anc), 1)
            iou = ciou(pbox, tbox)
            lbox = lbox + ((1 - iou) * wt).mean()
            tobj[b, a, gj, gi] = iou.detach().clamp(0)
            if nc > 1:
                onehot = F.one_hot(tcls, nc).float()
                lcls = lcls + (F.binary_cross_entropy_with_logits(ps[:, 5:], onehot, reduction="none") * wt[:, None]).mean()
        lobj = lobj + F.binary_cross_entropy_with_logits(p[..., 4], tobj) * BALANCE[l]
    return (lbox * box_gain + lobj * obj_gain + lcls * cls_gain) * B


def decode(outs, anchors_px, nc):
    res = []
    for l, o in enumerate(outs):
        B, _, H, W = o.shape
        p = o.view(B, NA, 5 + nc, H, W).permute(0, 1, 3, 4, 2).sigmoid()
        gy, gx = torch.meshgrid(torch.arange(H, device=o.device), torch.arange(W, device=o.device), indexing="ij")
        xy = (p[..., :2] * 2 - 0.5 + torch.stack((gx, gy), -1)) * STRIDES[l]
        wh = (p[..., 2:4] * 2) ** 2 * anchors_px[l].view(1, NA, 1, 1, 2)
        res.append(torch.cat((xy, wh, p[..., 4:]), -1).view(B, -1, 5 + nc))
    return torch.cat(res, 1)


def random_targets(B, nc, g, dtype=torch.float32):
    """2-3 boxes per image, as nn_bench draws them: (T, 7) image, class, x, y, w, h, EARL weight."""
    rows = []
    for b in range(B):
        for _ in range(2 + b % 2):
            w, h = (0.08 + 0.32 * torch.rand(2, generator=g)).tolist()
            cx = w / 2 + (1 - w) * torch.rand(1, generator=g).item()
            cy = h / 2 + (1 - h) * torch.rand(1, generator=g).item()
            rows.append([b, int(torch.randint(nc, (1,), generator=g)), cx, cy, w, h, 1 + 2 * torch.rand(1, generator=g).item()])
    return torch.tensor(rows, dtype=dtype)


def default_anchors(S, dtype=torch.float32):
    """YOLOv5's default anchors (3 levels x 3 x 2), in pixels of an S-pixel input."""
    return torch.tensor([[[10, 13], [16, 30], [33, 23]], [[30, 61], [62, 45], [59, 119]],
                         [[116, 90], [156, 198], [373, 326]]], dtype=dtype) * S / 640


def set_tf32(on):
    """TF32 for matmuls and cuDNN convolutions: PyTorch >= 2.9's fp32_precision settings
    where they exist (the allow_tf32 flags are deprecated there), else the flags."""
    def has(obj, name):  # PyTorch 1.13's torch.backends.cuda.matmul raises AssertionError
        try:
            getattr(obj, name)
            return True
        except (AttributeError, AssertionError):
            return False

    mode = "tf32" if on else "ieee"
    if has(torch.backends.cuda.matmul, "fp32_precision") and has(torch.backends.cudnn, "conv") \
            and has(torch.backends.cudnn.conv, "fp32_precision"):
        torch.backends.cuda.matmul.fp32_precision = mode
        torch.backends.cudnn.conv.fp32_precision = mode
    else:
        torch.backends.cuda.matmul.allow_tf32 = bool(on)
        torch.backends.cudnn.allow_tf32 = bool(on)


def count_macs(make, x):
    """Runs make(x) counting the convolutions' multiply-accumulates per image."""
    total = [0]
    conv2d = F.conv2d

    def counting(inp, w, *args, **kw):
        y = conv2d(inp, w, *args, **kw)
        total[0] += y.numel() // y.shape[0] * (w.shape[1] * w.shape[2] * w.shape[3])
        return y

    F.conv2d = counting
    try:
        make(x)
    finally:
        F.conv2d = conv2d
    return total[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=float, default=0.1875)
    ap.add_argument("--depth", type=float, default=0.33)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps before each timed region")
    ap.add_argument("--channels", type=int, default=1, choices=(1, 3), help="input channels")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--tf32", type=int, default=1, choices=(0, 1), help="TF32 matmuls and convolutions (cuda)")
    a = ap.parse_args()
    cuda = a.device == "cuda"
    if cuda:
        if not torch.cuda.is_available():
            sys.exit(f"bench_train.py: --device cuda: no CUDA device available to PyTorch {torch.__version__} "
                     f"(built with CUDA {torch.version.cuda})")
        torch.backends.cudnn.benchmark = True
        set_tf32(a.tf32)
    dev = torch.device(a.device)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    B, S, nc = a.batch, a.size, a.classes
    x = torch.rand(B, a.channels, S, S)
    targets = random_targets(B, nc, torch.Generator().manual_seed(2))
    anchors = default_anchors(S)
    P = {}
    macs = None
    if cuda:
        # the parameters are made on the CPU (the values of the CPU run: their shapes do not
        # depend on the image size, so one small image makes them), then moved. Where the size
        # is a multiple of 32 every convolution's output scales exactly with the image's area
        small = 64 if S % 32 == 0 else S
        make = Layout(P, a.width, a.depth, True, create=True, nc=nc, keep_nodes=False).forward
        macs = count_macs(make, x[:1, :, :small, :small]) * (S * S) // (small * small)
        P = {k: v.detach().to(dev).requires_grad_(v.requires_grad) for k, v in P.items()}
        x, targets, anchors = x.to(dev), targets.to(dev), anchors.to(dev)
    else:
        Layout(P, a.width, a.depth, True, create=True, nc=nc, keep_nodes=False).forward(x)
    decay = [v for k, v in P.items() if k.endswith(".weight") and ".bn." not in k]
    bn = [v for k, v in P.items() if k.endswith(".weight") and ".bn." in k]
    bias = [v for k, v in P.items() if k.endswith(".bias")]
    opt = torch.optim.SGD(bn, lr=0.01, momentum=0.937, nesterov=True)
    opt.add_param_group({"params": decay, "weight_decay": 5e-4 * B / 64})
    opt.add_param_group({"params": bias})
    params = decay + bn + bias
    ema = {k: v.detach().clone() for k, v in P.items()}
    updates = 0

    def step():
        nonlocal updates
        opt.zero_grad(set_to_none=True)
        net = Layout(P, a.width, a.depth, True, keep_nodes=False)
        loss = yolo_loss(net.forward(x), targets, anchors, nc, S)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        with torch.no_grad():  # running statistics move as the C code moves them
            for k, v in net.after.items():
                P[k].copy_(v)
            updates += 1
            d = 0.9999 * (1 - math.exp(-updates / 2000))
            for k, v in P.items():
                ema[k].mul_(d).add_(v.detach(), alpha=1 - d)

    for _ in range(a.warmup):
        step()
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    sync()
    train = a.steps * B / (time.perf_counter() - t0)
    if cuda:
        mem_train = torch.cuda.max_memory_allocated() / 2**20
        reserved = torch.cuda.max_memory_reserved() / 2**20
        opt.zero_grad(set_to_none=True)  # the gradients are not part of inference
        torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        for i in range(a.steps + a.warmup):
            if i == a.warmup:
                sync()
                t0 = time.perf_counter()
            out = Layout(ema, a.width, a.depth, False, keep_nodes=False).forward(x)
            det = decode(out, anchors, nc)
            det = det[det[..., 4] > 0.001]
        sync()
        pred = a.steps * B / (time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = {"impl": "pytorch", "version": torch.__version__, "size": S, "batch": B, "width": a.width,
           "depth": a.depth, "threads": torch.get_num_threads(), "steps": a.steps,
           "train_images_per_s": round(train, 2), "predict_images_per_s": round(pred, 2),
           "peak_rss_mib": round(rss, 1)}
    if a.channels != 1 or cuda:
        res["channels"] = a.channels
    if cuda:
        mem_pred = torch.cuda.max_memory_allocated() / 2**20
        reserved = max(reserved, torch.cuda.max_memory_reserved() / 2**20)
        res.update({"device": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
                    "cudnn": torch.backends.cudnn.version(), "tf32": bool(a.tf32), "warmup": a.warmup,
                    "classes": nc, "macs_per_image": macs,
                    "gpu_peak_mem_mib": round(max(mem_train, mem_pred), 1),
                    "gpu_peak_mem_train_mib": round(mem_train, 1), "gpu_peak_mem_predict_mib": round(mem_pred, 1),
                    "gpu_peak_reserved_mib": round(reserved, 1)})
    print(json.dumps(res))


if __name__ == "__main__":
    main()
