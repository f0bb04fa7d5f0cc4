#!/usr/bin/env python3
"""The C detector against PyTorch: one training step, compared tensor by tensor.

    crosscheck.py DUMP.safetensors [--tol 1e-4]

DUMP comes from test/helpers/nn_dump.c: the C network's parameters, an input batch, EARL
targets, and what the C code computed from them (training and eval Detect outputs, the
loss parts, every parameter gradient, the updated batch-norm statistics). This script
builds the YOLOv5 v6 layout in PyTorch from the same parameters, computes the YOLOv5
loss with EARL weights in float64, differentiates it with autograd, and prints, for each
tensor, the normwise relative error ||C - ref|| / ||ref|| (and the largest element
difference over the largest reference magnitude). It exits 1 when any exceeds the
tolerance. PyTorch's own float32 error against the same reference is printed for scale.

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
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

BN_EPS, BN_MOMENTUM = 1e-3, 0.03
STRIDES = (8, 16, 32)
BALANCE = (4.0, 1.0, 0.4)
NA = 3


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, h in header.items():
        if h["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {h['dtype']}")
        a, b = h["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype="<f4").reshape(h["shape"])
        tensors[name] = torch.from_numpy(arr.astype(np.float64))
    return tensors, meta


class Layout:
    """YOLOv5 v6's model as a function of its parameters. Layers are numbered in the order
    they are created, which names their parameters (node<i>.conv.weight, ...)."""

    def __init__(self, P, width, depth, training, argmax=None):
        self.P, self.width, self.depth, self.training = P, width, depth, training
        self.argmax = argmax or {}
        self.rerouted = 0  # max-pool outputs whose tie (within float32) the C code broke differently
        self.next = 1  # node 0 is the input
        self.after = {}  # updated running statistics
        self.nodes = {}  # node id -> output, kept with its gradient

    def keep(self, i, y):
        if y.requires_grad:
            y.retain_grad()
        self.nodes[i] = y
        return y

    def ch(self, c):
        return max(8, int(math.ceil(c * self.width / 8)) * 8)

    def reps(self, r):
        return max(int(math.floor(r * self.depth + 0.5)), 1)

    def take(self):
        i = self.next
        self.next += 1
        return i

    def conv(self, x, c2, k, s, p=None):
        i = self.take()
        w = self.P[f"node{i}.conv.weight"]
        assert w.shape[0] == c2 and w.shape[1] == x.shape[1] and w.shape[2] == k, f"node{i}: {tuple(w.shape)}"
        y = F.conv2d(x, w, stride=s, padding=k // 2 if p is None else p)
        rm = self.P[f"node{i}.bn.running_mean"].clone()
        rv = self.P[f"node{i}.bn.running_var"].clone()
        y = F.batch_norm(y, rm, rv, self.P[f"node{i}.bn.weight"], self.P[f"node{i}.bn.bias"],
                         training=self.training, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.after[f"node{i}.bn.running_mean"] = rm
        self.after[f"node{i}.bn.running_var"] = rv
        return self.keep(i, F.silu(y))

    def bottleneck(self, x, c2, shortcut):
        y = self.conv(self.conv(x, c2, 1, 1), c2, 3, 1)
        if shortcut and x.shape[1] == c2:
            return self.keep(self.take(), x + y)
        return y

    def c3(self, x, c2, n, shortcut=True):
        h = c2 // 2
        a = self.conv(x, h, 1, 1)
        for _ in range(n):
            a = self.bottleneck(a, h, shortcut)
        b = self.conv(x, h, 1, 1)
        return self.conv(self.cat([a, b]), c2, 1, 1)

    def cat(self, xs):
        return self.keep(self.take(), torch.cat(xs, 1))

    def up(self, x):
        return self.keep(self.take(), F.interpolate(x, scale_factor=2, mode="nearest"))

    def pool(self, x):
        i = self.take()
        y = F.max_pool2d(x, 5, 1, 2)
        arg = self.argmax.get(i)
        if arg is not None and self.training:
            # the C code's choice of maximum, checked to hold the window's maximum: where
            # values tie within float32 rounding the gradient follows it
            flat = x.flatten(2)
            chosen = flat.gather(2, arg.flatten(2)).view_as(y)
            gap = (y.detach() - chosen.detach()).abs().max().item()
            scale = y.detach().abs().max().item()
            if gap > 1e-5 * max(scale, 1e-30):
                raise SystemExit(f"crosscheck: node{i}: the C max pool chose a non-maximum (gap {gap:.3e})")
            _, own = F.max_pool2d(x.detach(), 5, 1, 2, return_indices=True)
            self.rerouted += int((own != arg).sum())
            y = chosen
        return self.keep(i, y)

    def sppf(self, x, c2):
        x = self.conv(x, x.shape[1] // 2, 1, 1)
        y1 = self.pool(x)
        y2 = self.pool(y1)
        y3 = self.pool(y2)
        return self.conv(self.cat([x, y1, y2, y3]), c2, 1, 1)

    def detect(self, x, level):
        return self.keep(self.take(), F.conv2d(x, self.P[f"detect{level}.weight"], self.P[f"detect{level}.bias"]))

    def forward(self, x):
        c, r = self.ch, self.reps
        x = self.conv(x, c(64), 6, 2, 2)
        x = self.conv(x, c(128), 3, 2)
        x = self.c3(x, c(128), r(3))
        x = self.conv(x, c(256), 3, 2)
        p3 = x = self.c3(x, c(256), r(6))
        x = self.conv(x, c(512), 3, 2)
        p4 = x = self.c3(x, c(512), r(9))
        x = self.conv(x, c(1024), 3, 2)
        x = self.c3(x, c(1024), r(3))
        x = self.sppf(x, c(1024))
        h10 = x = self.conv(x, c(512), 1, 1)
        x = self.c3(self.cat([self.up(x), p4]), c(512), r(3), False)
        h14 = x = self.conv(x, c(256), 1, 1)
        out3 = x = self.c3(self.cat([self.up(x), p3]), c(256), r(3), False)
        x = self.conv(x, c(256), 3, 2)
        out4 = x = self.c3(self.cat([x, h14]), c(512), r(3), False)
        x = self.conv(x, c(512), 3, 2)
        out5 = self.c3(self.cat([x, h10]), c(1024), r(3), False)
        return [self.detect(out3, 0), self.detect(out4, 1), self.detect(out5, 2)]


def ciou(p, t, eps=1e-7):
    """CIoU of (cx, cy, w, h) boxes, alpha without gradient (as YOLOv5)."""
    p1, p2 = p[:, :2] - p[:, 2:] / 2, p[:, :2] + p[:, 2:] / 2
    t1, t2 = t[:, :2] - t[:, 2:] / 2, t[:, :2] + t[:, 2:] / 2
    wh = (torch.minimum(p2, t2) - torch.maximum(p1, t1)).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    union = p[:, 2] * p[:, 3] + t[:, 2] * t[:, 3] - inter + eps
    iou = inter / union
    c = torch.maximum(p2, t2) - torch.minimum(p1, t1)
    c2 = (c ** 2).sum(1) + eps
    rho2 = (((t1 + t2) - (p1 + p2)) ** 2).sum(1) / 4
    v = (4 / math.pi ** 2) * (torch.atan(t[:, 2] / t[:, 3]) - torch.atan(p[:, 2] / p[:, 3])) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


def assign(targets, anchors, H, W, anchor_t=4.0):
    """YOLOv5's build_targets for one level, in its order (offset, anchor, target):
    (image, anchor, row, col, tbox (4), class, weight) per assignment."""
    g = 0.5
    offsets = [(0, 0), (1, 0), (0, 1), (-1, 0), (0, -1)]
    out = []
    for k, (ox, oy) in enumerate(offsets):
        for a in range(NA):
            aw, ah = anchors[a]
            for row in targets.tolist():
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
                out.append((int(b), a, gj, gi, (gx - gi, gy - gj, gw, gh), int(cls), wt))
    return out


def yolo_loss(outs, targets, anchors_px, nc, size, weight_obj):
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
                onehot = F.one_hot(tcls, nc).to(torch.float64)
                bce = F.binary_cross_entropy_with_logits(ps[:, 5:], onehot, reduction="none")
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
    x, targets, anchors = T["x"], T["targets"], T["anchors"]
    size = x.shape[-1]
    nc = T["out.detect0"].shape[1] // NA - 5

    argmax = {int(k[len("argmax.node"):]): v.long() for k, v in T.items() if k.startswith("argmax.")}
    net = Layout(P, width, depth, training=True, argmax=argmax)
    outs = net.forward(x)
    box, obj, cls, total, assigned = yolo_loss(outs, targets, anchors, nc, size, weight_obj)
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
    yolo_loss([o.double() for o in o32], targets, anchors, nc, size, weight_obj)[3].backward()
    f32_worst = max(rel_err(P32[k].grad, v.grad) for k, v in P.items() if v.requires_grad)

    rows.sort(reverse=True)
    print(f"crosscheck: {args.dump}: batch {x.shape[0]}, {x.shape[1]} channel(s), {size} px, {nc} classes, "
          f"width {width}, depth {depth}, weight_obj {weight_obj}")
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
