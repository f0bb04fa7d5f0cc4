"""The YOLOv5 v6 layout in PyTorch, for the cross-check and the training benchmark.

Written from the published description of YOLOv5 (Conv = conv + batch norm + SiLU, C3,
SPPF, the FPN/PAN neck, Detect on P3-P5), as a function of a dict of parameters named as
the C code names them: layers are numbered in the order they are created
(node<i>.conv.weight, node<i>.bn.weight, ..., detect<l>.weight). With create=True the
missing parameters are made (PyTorch's default initialisation) on the first forward pass.
"""
import json
import math
import struct

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

    def __init__(self, P, width, depth, training, argmax=None, create=False, nc=None, dtype=torch.float32, keep_nodes=True):
        self.P, self.width, self.depth, self.training = P, width, depth, training
        self.keep_nodes = keep_nodes
        self.create, self.nc, self.dtype = create, nc, dtype
        self.argmax = argmax or {}
        self.rerouted = 0  # max-pool outputs whose tie (within float32) the C code broke differently
        self.next = 1  # node 0 is the input
        self.after = {}  # updated running statistics
        self.nodes = {}  # node id -> output, kept with its gradient

    def keep(self, i, y):
        if not self.keep_nodes:
            return y
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

    def param(self, name, shape, fill=None, fan=None, grad=True):
        if name not in self.P:
            if not self.create:
                raise KeyError(name)
            if fill is not None:
                t = torch.full(shape, float(fill), dtype=self.dtype)
            else:
                bound = 1 / math.sqrt(fan)
                t = torch.empty(shape, dtype=self.dtype).uniform_(-bound, bound)
            self.P[name] = t.requires_grad_(grad)
        return self.P[name]

    def conv(self, x, c2, k, s, p=None):
        i = self.take()
        c1 = x.shape[1]
        w = self.param(f"node{i}.conv.weight", (c2, c1, k, k), fan=c1 * k * k)
        for name, fill, grad in (("weight", 1, True), ("bias", 0, True), ("running_mean", 0, False), ("running_var", 1, False)):
            self.param(f"node{i}.bn.{name}", (c2,), fill=fill, grad=grad)
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
        i = self.take()
        if self.create and f"detect{level}.weight" not in self.P:
            out, c1 = NA * (5 + self.nc), x.shape[1]
            self.param(f"detect{level}.weight", (out, c1, 1, 1), fan=c1)
            b = torch.empty(NA, 5 + self.nc, dtype=self.dtype).uniform_(-1 / math.sqrt(c1), 1 / math.sqrt(c1))
            b[:, 4] += math.log(8 / (640 / STRIDES[level]) ** 2)  # YOLOv5's priors
            b[:, 5:] += math.log(0.6 / (self.nc - 0.99))
            self.P[f"detect{level}.bias"] = b.view(-1).requires_grad_()
        return self.keep(i, F.conv2d(x, self.P[f"detect{level}.weight"], self.P[f"detect{level}.bias"]))

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
