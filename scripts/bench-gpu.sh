#!/usr/bin/env bash
# make bench-gpu: training and predict throughput of the C detector on the GPU against
# PyTorch (CUDA, cuDNN autotuned, TF32) on the same network, batch and image size, each
# one's peak GPU memory, and the C training rate against the FLOP floor: the images/s the
# GPU's measured TF32 matrix rate (scripts/gpu_matrate.py) would give if training cost
# 3 x the forward pass's 2 x macs_per_image flops and nothing else.
#
#   PRESETS="n s" SIZES="320 640" BATCH=32 STEPS=20 CLASSES=10 PY=python3 OUT_DIR=dir \
#       BUILD=build/rel-cuda bash scripts/bench-gpu.sh
#
# Every raw JSON line goes to ${OUT_DIR:-/tmp}/bench-gpu.jsonl. A run that fails is shown
# (its command and the tail of its stderr), its cells are left blank and the others go on;
# the script then exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
# the newest CUDA release build unless BUILD is given (make bench-gpu gives it)
BUILD="${BUILD:-$(ls -dt build/rel-cuda*/test/nn_bench 2>/dev/null | head -n1 | sed 's#/test/nn_bench##' || true)}"
BUILD="${BUILD:-build/rel-cuda}"
PRESETS="${PRESETS:-n s}"
SIZES="${SIZES:-320 640}"
BATCH="${BATCH:-32}"
STEPS="${STEPS:-20}"
CLASSES="${CLASSES:-10}"
PY="${PY:-python3}"
jsonl="${OUT_DIR:-/tmp}/bench-gpu.jsonl"
mkdir -p "$(dirname "$jsonl")"
: > "$jsonl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

width_of() { case "$1" in cpu) echo 0.1875 ;; n) echo 0.25 ;; s) echo 0.5 ;; *) echo "unknown preset $1" >&2; exit 2 ;; esac; }
for p in $PRESETS; do width_of "$p" >/dev/null; done

# run NAME CMD...: stdout to $tmp/NAME.out and its JSON lines to $jsonl; on failure the
# command and its stderr's tail are printed and NAME.out is left empty
run() {
    local name=$1 rc=0
    shift
    "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" || rc=$?
    if ((rc != 0)); then
        echo "FAILED (exit $rc): $*"
        tail -n 20 "$tmp/$name.err" | sed 's/^/    /'
        : > "$tmp/$name.out"
        touch "$tmp/$name.failed"
    fi
    grep '^[[:space:]]*{' "$tmp/$name.out" >> "$jsonl" || true
}

echo "bench-gpu: presets $PRESETS, sizes $SIZES, batch $BATCH, $CLASSES classes, $STEPS timed steps (PyTorch: 5 warm-up steps); C from $BUILD, PyTorch from $PY"
run matrate "$PY" scripts/gpu_matrate.py
for p in $PRESETS; do
    w=$(width_of "$p")
    for s in $SIZES; do
        run "c-$p-$s" "$BUILD/test/nn_bench" --device cuda --width "$w" --depth 0.33 --size "$s" --batch "$BATCH" \
            --steps "$STEPS" --classes "$CLASSES"
        run "t-$p-$s" "$PY" scripts/bench_train.py --device cuda --width "$w" --depth 0.33 --size "$s" --batch "$BATCH" \
            --steps "$STEPS" --classes "$CLASSES" --warmup 5
    done
done

# the table (python3, not jq: the GPU machine may lack jq)
python3 - "$tmp" "$PRESETS" "$SIZES" <<'EOF'
import json
import os
import sys

tmp, presets, sizes = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()


def load(name):
    """The last JSON object the run printed, or {} when it failed or printed none."""
    obj = {}
    try:
        with open(f"{tmp}/{name}.out") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        v = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(v, dict):
                        obj = v
    except OSError:
        pass
    return obj


def num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def div(a, b):
    return a / b if a is not None and b else None


m = load("matrate")
tf32 = num(m.get("tf32_tflops"))
if "error" in m or not m:
    print(f"matrix rates: {m.get('error', 'no result')}")
else:
    print(f"{m.get('device')}: dense matmul {m.get('n')}^3, TFLOP/s: fp32 {m.get('fp32_tflops')}, "
          f"tf32 {m.get('tf32_tflops')}, bf16 {m.get('bf16_tflops')} (PyTorch {m.get('version')}, CUDA {m.get('cuda')})")
devs = set()
head = ("preset", "size", "C train", "PT train", "C/PT", "C pred", "PT pred", "C MiB", "PT MiB", "floor", "C/floor")
widths = (6, 5, 9, 9, 6, 9, 9, 8, 8, 9, 8)
print("  ".join(h.rjust(w) for h, w in zip(head, widths)))
for p in presets:
    for s in sizes:
        c, t = load(f"c-{p}-{s}"), load(f"t-{p}-{s}")
        for r in (c, t):
            if r.get("device"):
                devs.add(f"{r.get('impl', '?')}: {r['device']}")
        ct, tt = num(c.get("train_images_per_s")), num(t.get("train_images_per_s"))
        cp, tp = num(c.get("predict_images_per_s")), num(t.get("predict_images_per_s"))
        macs = num(c.get("macs_per_image")) or num(t.get("macs_per_image"))
        floor = div(tf32 * 1e12, macs * 2 * 3) if tf32 and macs else None
        cells = (p, s, fmt(ct, ".1f"), fmt(tt, ".1f"), fmt(div(ct, tt), ".2f"), fmt(cp, ".1f"), fmt(tp, ".1f"),
                 fmt(num(c.get("gpu_mem_mib")), ".0f"), fmt(num(t.get("gpu_peak_mem_mib")), ".0f"),
                 fmt(floor, ".0f"), fmt(div(ct, floor), ".3f"))
        line = "  ".join(str(v).rjust(w) for v, w in zip(cells, widths))
        failed = [who for who, n in (("C", "c"), ("PyTorch", "t")) if os.path.exists(f"{tmp}/{n}-{p}-{s}.failed")]
        if failed:
            line += f"   ({' and '.join(failed)} failed)"
        if p == "s" and s == "640":
            line += "   (target: ratio >= 1.2)"
        print(line)
print("img/s; C/PT = C train / PyTorch train; MiB = GPU memory (C: all its device allocations; PyTorch: peak allocated in its timed regions);")
print("floor = tf32 rate / (macs_per_image x 2 x 3), the images/s at the TF32 matmul rate; C/floor = C train / floor")
for d in sorted(devs):
    print(f"  {d}")
EOF
echo "raw JSON lines: $jsonl"
# the table is whole even when a run failed; the exit status still says so
if compgen -G "$tmp/*.failed" > /dev/null; then exit 1; fi
