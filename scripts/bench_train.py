#!/usr/bin/env python3
"""The PyTorch side of `make bench-train`: the same network, batch and image size as
test/helpers/nn_bench.c, trained the same way, on the CPU.

    bench_train.py [--width W] [--depth D] [--classes K] [--size S] [--batch B]
                   [--steps N] [--threads T]

A training step: forward, YOLOv5's loss with EARL weights (target assignment vectorised
as YOLOv5 does it), backward, gradient clipping at norm 10, SGD with Nesterov momentum
in YOLOv5's three parameter groups, and the EMA update. Inference: an eval-mode forward
pass and the box decoding (sigmoid, grid, anchors) without NMS, which favours PyTorch.
Prints one JSON object like nn_bench's.
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


def build_targets(targets, anchors, H, W, anchor_t=4.0, g=0.5):
    """targets (T, 7): image, class, x, y, w, h, weight; anchors (NA, 2) in cells."""
    nt = targets.shape[0]
    gain = torch.tensor([1, 1, W, H, W, H, 1], dtype=targets.dtype)
    t = (targets * gain)[None].repeat(NA, 1, 1)  # (NA, T, 7)
    ai = torch.arange(NA)[:, None].repeat(1, nt)
    r = t[..., 4:6] / anchors[:, None]
    j = torch.max(r, 1 / r).max(2)[0] < anchor_t
    t, a = t[j], ai[j]
    gxy = t[:, 2:4]
    gxi = torch.tensor([W, H], dtype=t.dtype) - gxy
    jj, kk = ((gxy % 1 < g) & (gxy > 1)).T
    ll, mm = ((gxi % 1 < g) & (gxi > 1)).T
    mask = torch.stack((torch.ones_like(jj), jj, kk, ll, mm))
    t = t.repeat((5, 1, 1))[mask]
    a = a.repeat((5, 1))[mask]
    off = (torch.zeros_like(gxy)[None] + OFFSETS[:, None] * g)[mask]
    gij = (t[:, 2:4] - off).long()
    gi = gij[:, 0].clamp(0, W - 1)
    gj = gij[:, 1].clamp(0, H - 1)
    tbox = torch.cat((t[:, 2:4] - torch.stack((gi, gj), 1), t[:, 4:6]), 1)
    return t[:, 0].long(), a, gj, gi, tbox, t[:, 1].long(), t[:, 6], anchors[a]


def yolo_loss(outs, targets, anchors_px, nc, size):
    B = outs[0].shape[0]
    box_gain, cls_gain, obj_gain = 0.05, 0.5 * nc / 80, (size / 640) ** 2
    lbox = lobj = lcls = torch.zeros(())
    for l, o in enumerate(outs):
        _, _, H, W = o.shape
        p = o.view(B, NA, 5 + nc, H, W).permute(0, 1, 3, 4, 2)
        b, a, gj, gi, tbox, tcls, wt, anc = build_targets(targets, anchors_px[l] / STRIDES[l], H, W)
        tobj = torch.zeros(p.shape[:4])
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
        gy, gx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
        xy = (p[..., :2] * 2 - 0.5 + torch.stack((gx, gy), -1)) * STRIDES[l]
        wh = (p[..., 2:4] * 2) ** 2 * anchors_px[l].view(1, NA, 1, 1, 2)
        res.append(torch.cat((xy, wh, p[..., 4:]), -1).view(B, -1, 5 + nc))
    return torch.cat(res, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=float, default=0.1875)
    ap.add_argument("--depth", type=float, default=0.33)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    B, S, nc = a.batch, a.size, a.classes
    x = torch.rand(B, 1, S, S)
    rows = []
    g = torch.Generator().manual_seed(2)
    for b in range(B):
        for _ in range(2 + b % 2):
            w, h = (0.08 + 0.32 * torch.rand(2, generator=g)).tolist()
            cx = w / 2 + (1 - w) * torch.rand(1, generator=g).item()
            cy = h / 2 + (1 - h) * torch.rand(1, generator=g).item()
            rows.append([b, int(torch.randint(nc, (1,), generator=g)), cx, cy, w, h, 1 + 2 * torch.rand(1, generator=g).item()])
    targets = torch.tensor(rows)
    anchors = torch.tensor([[[10, 13], [16, 30], [33, 23]], [[30, 61], [62, 45], [59, 119]],
                            [[116, 90], [156, 198], [373, 326]]], dtype=torch.float32) * S / 640
    P = {}
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

    for _ in range(2):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    train = a.steps * B / (time.perf_counter() - t0)
    with torch.no_grad():
        for i in range(a.steps + 2):
            if i == 2:
                t0 = time.perf_counter()
            out = Layout(ema, a.width, a.depth, False, keep_nodes=False).forward(x)
            det = decode(out, anchors, nc)
            det = det[det[..., 4] > 0.001]
        pred = a.steps * B / (time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"impl": "pytorch", "version": torch.__version__, "size": S, "batch": B, "width": a.width,
                      "depth": a.depth, "threads": torch.get_num_threads(), "steps": a.steps,
                      "train_images_per_s": round(train, 2), "predict_images_per_s": round(pred, 2),
                      "peak_rss_mib": round(rss, 1)}))


if __name__ == "__main__":
    main()
