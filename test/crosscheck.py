#!/usr/bin/env python3
"""The C detector against PyTorch: one training step, compared tensor by tensor.

    crosscheck.py DUMP.safetensors [--tol 1e-4]

DUMP comes from test/helpers/nn_dump.c: the C network's parameters, an input batch, EARL
targets (with nn_dump --soft, each with soft class targets, a "probs" row, that the class
BCE uses instead of one-hot on its class), and what the C code computed from them
(training and eval Detect outputs, the loss parts, every parameter gradient, the updated
batch-norm statistics). This script builds the YOLOv5 v6 layout in PyTorch from the same
parameters, computes the YOLOv5 loss with EARL weights in float64, differentiates it
with autograd, and prints, for each tensor, the normwise relative error ||C - ref|| /
||ref|| (and the largest element difference over the largest reference magnitude). It
exits 1 when any exceeds the tolerance. PyTorch's own float32 error against the same
reference is printed for scale.

Two things are not differentiable and are handled as such: max-pool ties (SPPF's second
and third pools repeat values; where a tie is broken differently within float32 rounding,
the gradient follows the C code's choice after checking it holds the maximum), and the
kinks of CIoU where a predicted and a target edge coincide (a batch that puts one within
float32 rounding of a kink shows a large error on that one cell; the tests use batches
that do not).

The PyTorch side is written from the published descriptions of YOLOv5 (the v6 model
layout, its build_targets assignment, CIoU, the objectness and class BCE terms) and the
EARL weighting; it shares nothing with the C code but the parameter names, which follow
the order in which the layout creates its layers.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_yolo import NA, STRIDES, BALANCE, Layout, ciou, read_safetensors  # noqa: E402

def assign(targets, anchors, H, W, anchor_t=4.0):
    """YOLOv5's build_targets for one level, in its order (offset, anchor, target):
    (image, anchor, row, col, tbox (4), class, weight, target index) per assignment."""
    g = 0.5
    offsets = [(0, 0), (1, 0), (0, 1), (-1, 0), (0, -1)]
    out = []
    for k, (ox, oy) in enumerate(offsets):
        for a in range(NA):
            aw, ah = anchors[a]
            for ti, row in enumerate(targets.tolist()):
                b, cls, x, y, w, h, wt = row
                gx, gy, gw, gh = x * W, y * H, w * W, h * H
                if not max(gw / aw, aw / gw, gh / ah, ah / gh) < anchor_t:
                    continue
                ix, iy = W - gx, H - gy
                use = [True, gx % 1 < g and gx > 1, gy % 1 < g and gy > 1,
                       ix % 1 < g and ix > 1, iy % 1 < g and iy > 1][k]
                if not use:
                    continue
                gi = min(max(int(gx - ox * g), 0), W - 1)
                gj = min(max(int(gy - oy * g), 0), H - 1)
                out.append((int(b), a, gj, gi, (gx - gi, gy - gj, gw, gh), int(cls), wt, ti))
    return out


def yolo_loss(outs, targets, anchors_px, nc, size, weight_obj, probs=None):
    """probs (T, nc), when given: each target's soft class targets, instead of one-hot."""
    B = outs[0].shape[0]
    box_gain = 0.05 * 3 / 3
    cls_gain = 0.5 * nc / 80 * 3 / 3
    obj_gain = 1.0 * (size / 640) ** 2 * 3 / 3
    lbox = lobj = lcls = torch.zeros((), dtype=torch.float64)
    assigned = 0
    for l, o in enumerate(outs):
        _, _, H, W = o.shape
        p = o.view(B, NA, 5 + nc, H, W).permute(0, 1, 3, 4, 2)  # (B, A, H, W, 5 + nc)
        anchors = [(aw / STRIDES[l], ah / STRIDES[l]) for aw, ah in anchors_px[l].tolist()]
        asg = assign(targets, anchors, H, W)
        assigned += len(asg)
        tobj = torch.zeros(B, NA, H, W, dtype=torch.float64)
        wobj = torch.ones(B, NA, H, W, dtype=torch.float64)
        if asg:
            b = torch.tensor([s[0] for s in asg])
            a = torch.tensor([s[1] for s in asg])
            gj = torch.tensor([s[2] for s in asg])
            gi = torch.tensor([s[3] for s in asg])
            tbox = torch.tensor([s[4] for s in asg], dtype=torch.float64)
            tcls = torch.tensor([s[5] for s in asg])
            wt = torch.tensor([s[6] for s in asg], dtype=torch.float64)
            anc = torch.tensor([anchors[s[1]] for s in asg], dtype=torch.float64)
            ps = p[b, a, gj, gi]  # (n, 5 + nc)
            pxy = ps[:, :2].sigmoid() * 2 - 0.5
            pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * anc
            iou = ciou(torch.cat([pxy, pwh], 1), tbox)
            lbox = lbox + ((1 - iou) * wt).mean()
            for s, v in enumerate(iou.detach().clamp(min=0).tolist()):  # the last assignment wins
                tobj[asg[s][0], asg[s][1], asg[s][2], asg[s][3]] = v
                if weight_obj:
                    wobj[asg[s][0], asg[s][1], asg[s][2], asg[s][3]] = asg[s][6]
            if nc > 1:
                if probs is None:
                    tc = F.one_hot(tcls, nc).to(torch.float64)
                else:
                    tc = probs[torch.tensor([s[7] for s in asg])].to(torch.float64)
                bce = F.binary_cross_entropy_with_logits(ps[:, 5:], tc, reduction="none")
                lcls = lcls + (bce * wt[:, None]).mean()
        bce = F.binary_cross_entropy_with_logits(p[..., 4], tobj, reduction="none")
        lobj = lobj + (bce * wobj).mean() * BALANCE[l]
    box, obj, cls = lbox * box_gain * B, lobj * obj_gain * B, lcls * cls_gain * B
    return box, obj, cls, box + obj + cls, assigned


def rel_err(c, ref):
    """Normwise relative error ||c - ref|| / ||ref|| (absolute when ref is zero)."""
    scale = ref.norm().item()
    diff = (c.to(ref.dtype) - ref).norm().item()
    return diff / scale if scale > 0 else diff


def max_err(c, ref):
    """The largest element difference over the largest reference magnitude."""
    scale = ref.abs().max().item()
    diff = (c.to(ref.dtype) - ref).abs().max().item()
    return diff / scale if scale > 0 else diff


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    T, meta = read_safetensors(args.dump)
    width, depth, weight_obj = float(meta["width"]), float(meta["depth"]), int(meta["weight_obj"])
    P = {k[len("param."):]: v.clone().requires_grad_(not k.endswith(("running_mean", "running_var")))
         for k, v in T.items() if k.startswith("param.")}
    x, targets, anchors, probs = T["x"], T["targets"], T["anchors"], T.get("probs")
    size = x.shape[-1]
    nc = T["out.detect0"].shape[1] // NA - 5

    argmax = {int(k[len("argmax.node"):]): v.long() for k, v in T.items() if k.startswith("argmax.")}
    net = Layout(P, width, depth, training=True, argmax=argmax)
    outs = net.forward(x)
    box, obj, cls, total, assigned = yolo_loss(outs, targets, anchors, nc, size, weight_obj, probs)
    total.backward()

    rows, worst = [], 0.0

    def check(name, c, ref):
        nonlocal worst
        e = rel_err(c, ref)
        worst = max(worst, e)
        rows.append((e, name, tuple(ref.shape), max_err(c, ref)))

    for l in range(3):
        check(f"out.detect{l}", T[f"out.detect{l}"], outs[l].detach())
    for name, v in (("loss.box", box), ("loss.obj", obj), ("loss.cls", cls), ("loss.total", total)):
        check(name, torch.tensor(float(meta[name[5:]])), v.detach())
    if assigned != int(meta["assigned"]):
        print(f"crosscheck: assignments differ: C {meta['assigned']}, PyTorch {assigned}")
        worst = math.inf
    for k, v in P.items():
        if v.requires_grad:
            if v.grad is None:
                print(f"crosscheck: {k} has no gradient in PyTorch")
                worst = math.inf
                continue
            check(f"grad.{k}", T[f"grad.{k}"], v.grad)
        else:
            check(f"after.{k}", T[f"after.{k}"], net.after[k])
    n_params = len([k for k in P if P[k].requires_grad])
    # with nn_dump --nodes: every node's output and gradient, to find where a difference starts
    for i, y in sorted(net.nodes.items()):
        if f"node{i}.out" in T:
            check(f"node{i}.out", T[f"node{i}.out"], y.detach())
            if y.grad is not None:
                check(f"node{i}.dout", T[f"node{i}.dout"], y.grad)
    # eval mode, with the updated statistics
    Pe = dict(P)
    Pe.update(net.after)
    ev = Layout({k: v.detach() for k, v in Pe.items()}, width, depth, training=False).forward(x)
    for l in range(3):
        check(f"eval.detect{l}", T[f"eval.detect{l}"], ev[l])

    # for scale: PyTorch's own float32 error against the same float64 reference
    P32 = {k: v.detach().float().requires_grad_(v.requires_grad) for k, v in P.items()}
    n32 = Layout(P32, width, depth, training=True, argmax=argmax)
    o32 = n32.forward(x.float())
    yolo_loss([o.double() for o in o32], targets, anchors, nc, size, weight_obj, probs)[3].backward()
    f32_worst = max(rel_err(P32[k].grad, v.grad) for k, v in P.items() if v.requires_grad)

    rows.sort(reverse=True)
    print(f"crosscheck: {args.dump}: batch {x.shape[0]}, {x.shape[1]} channel(s), {size} px, {nc} classes, "
          f"width {width}, depth {depth}, weight_obj {weight_obj}, "
          f"class targets {'soft (probs)' if probs is not None else 'one-hot'}")
    print(f"crosscheck: {assigned} assignments; loss C {float(meta['total']):.8g} PyTorch {total.item():.8g}")
    print(f"crosscheck: {net.rerouted} max-pool outputs with a near-tie broken differently in float32 (routed as C chose)")
    print(f"crosscheck: {len(rows)} tensors compared ({n_params} gradients) against float64; "
          "relative error ||C - ref|| / ||ref|| (and largest element error / largest |ref|):")
    for e, name, shape, m in rows[:8]:
        print(f"  {e:.3e} ({m:.3e})  {name} {list(shape)}")
    bad = [r for r in rows if not r[0] <= args.tol]
    if bad or not worst <= args.tol:
        print(f"crosscheck: FAIL: {len(bad)} tensors above {args.tol:g} "
              f"(PyTorch in float32 reaches {f32_worst:.2e} on the gradients)")
        for e, name, shape, m in bad[:20]:
            print(f"  {e:.3e}  {name}")
        return 1
    print(f"crosscheck: ok: every tensor within {args.tol:g} (largest {worst:.2e}; "
          f"PyTorch in float32 reaches {f32_worst:.2e} on the gradients)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
