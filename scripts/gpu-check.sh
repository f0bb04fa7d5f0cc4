#!/usr/bin/env bash
# make gpu-check: one prepared script for a lent GPU machine (about 6 minutes on an H100).
#
#   1. the device, the driver, and whether every library the tools need is found;
#   2. parity: gpu_parity runs the same weights and batch through the CPU reference and the
#      CUDA path (FP32 and TF32 convolutions, SGD and AdamW, 1 and 3 channels, the -n and -s
#      widths, one-hot and soft class targets) and compares outputs, loss, every gradient,
#      the running statistics and the optimiser's updates;
#   3. loss curves: train on simulated MED-MNIST at 320 px, a few hundred steps, on the CPU
#      and on the GPU (FP32 and TF32) with the same seed, and compare the epochs' losses;
#      and the data-parallel path (mpirun -np 1: NCCL's all-reduce) against plain FP32;
#   4. a step's device time per kind of operation (nn_bench --profile), with cuDNN's two
#      training batch-norm modes (MAD_GPU_BN=spatial, the default, or persistent);
#   5. the benchmark (scripts/bench-gpu.sh): training and predict images/s against PyTorch.
# A short table comes last. Logs go to $OUT (or /tmp/gpu-check): gpu-check.log, the
# training logs and bench-gpu.jsonl.
#
#   bash scripts/gpu-check.sh [BUILD]              tools in bin/, helpers in BUILD/test
#   GPU_PACK=DIR bash scripts/gpu-check.sh         everything from an unpacked scripts/gpu-pack.sh
#   (TRAIN_N=512 VAL_N=128 EPOCHS=6 SIZE=320 size the loss-curve runs; CURVES=0, ANCHOR=0
#   and PROFILE=0 leave out the loss curves, the PyTorch TF32 yardstick and the profiles;
#   bench-gpu.sh's own variables, PRESETS SIZES BATCH STEPS, pass through)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/rel-cuda}"
LOGDIR="${OUT:-/tmp/gpu-check}"
mkdir -p "$LOGDIR"
log="$LOGDIR/gpu-check.log"
: > "$log"
if [ -n "${GPU_PACK:-}" ]; then
    BIN="$GPU_PACK/bin"; HELP="$GPU_PACK/test"; MNIST="$GPU_PACK/mnist/images-idx3-ubyte.gz"
    export LD_LIBRARY_PATH="$GPU_PACK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
    BIN=bin; HELP="$BUILD/test"; MNIST=data/mnist/images-idx3-ubyte
fi
PY="${PY:-python3}"
CURVES="${CURVES:-1}"; ANCHOR="${ANCHOR:-1}"; PROFILE="${PROFILE:-1}"
TRAIN_N="${TRAIN_N:-512}"; VAL_N="${VAL_N:-128}"; EPOCHS="${EPOCHS:-6}"; SIZE="${SIZE:-320}"
# cuDNN: the system's, else the one that PyTorch's wheels bring
if ! ldconfig -p 2>/dev/null | grep -q 'libcudnn\.so\.9' && ! [ -e /usr/local/cuda/lib64/libcudnn.so.9 ]; then
    d=$("$PY" -c 'import os, nvidia.cudnn as c; print(os.path.join(list(c.__path__)[0], "lib"))' 2>/dev/null)
    [ -n "$d" ] && export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
fi
# NCCL (train's GPU processes load libnccl.so.2 when they start it): the toolkit's, else PyTorch's
if ! ldconfig -p 2>/dev/null | grep -q 'libnccl\.so\.2' && ! [ -e /usr/local/cuda/lib64/libnccl.so.2 ]; then
    d=$("$PY" -c 'import os, nvidia.nccl as c; print(os.path.join(list(c.__path__)[0], "lib"))' 2>/dev/null)
    [ -n "$d" ] && export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
fi
summary=()
say() { echo "$*" | tee -a "$log"; }
# stage NAME SECONDS CMD...: runs with a time limit, output to the log; remembers the result
stage() {
    local name=$1 limit=$2; shift 2
    local t0=$(date +%s.%N)
    say "== $name: $*"
    timeout "$limit" "$@" >> "$log" 2>&1
    local rc=$?
    local dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    say "-- $name: exit $rc in $dt s"
    return $rc
}

say "gpu-check $(date -u +%FT%TZ) on $(hostname)"
stage device 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
stage devices 30 "$BIN/devices"
ldd "$BIN/train" | grep -E 'cudnn|openblas' >> "$log"
missing=$(ldd "$BIN/train" "$HELP/gpu_parity" 2>&1 | grep 'not found' | sort -u)
[ -n "$missing" ] && say "missing libraries: $missing"

# ---- 2. parity --------------------------------------------------------------------------
par() {
    local name=$1 from; shift
    from=$(($(wc -l < "$log") + 1))
    if [ "$1" = env ]; then stage "$name" 120 "$@"; else stage "$name" 120 "$HELP/gpu_parity" "$@"; fi
    local line=$(tail -n +"$from" "$log" | grep '^parity:' | tail -n 1)
    summary+=("${line:-parity: FAIL ($name: no result)}")
    line=$(tail -n +"$from" "$log" | grep '^  trajectory' | tail -n 1 | sed 's/^  trajectory *all parameters */  free trajectory: /')
    [ -n "$line" ] && summary+=("$line")
}
par parity-n-fp32-sgd --width 0.25 --size 128 --batch 8 --gpu-math fp32 --steps 3
par parity-n-fp32-adamw --width 0.25 --size 128 --batch 8 --gpu-math fp32 --optimizer adamw --steps 3
par parity-n-fp32-soft --width 0.25 --size 128 --batch 8 --gpu-math fp32 --steps 3 --soft
par parity-n-tf32-sgd --width 0.25 --size 128 --batch 8 --gpu-math tf32 --steps 3
par parity-s-fp32-rgb --width 0.5 --size 320 --batch 4 --channels 3 --classes 1 --gpu-math fp32 --steps 2
par parity-s-tf32 --width 0.5 --size 320 --batch 4 --gpu-math tf32 --steps 2
"$HELP/gpu_parity" --width 0.25 --size 128 --batch 8 --gpu-math fp32 --steps 0 --all > "$LOGDIR/parity-tensors.txt" 2>&1
# PyTorch's own TF32 error on the same layout: the yardstick for the TF32 gradients above
from=$(($(wc -l < "$log") + 1))
[ "$ANCHOR" = 1 ] && stage tf32-anchor 120 "$PY" scripts/tf32_anchor.py
anchor=$(tail -n +"$from" "$log" | "$PY" -c '
import json, sys
for l in sys.stdin:
    if l.startswith("{"):
        r = json.loads(l)
        t = r.get("tf32_vs_fp32", {})
        print("PyTorch %s TF32 vs FP32, width %g, %d px: detect %.3e, gradients %.3e (worst %s %.3e)" % (r["torch"], r["width"], r["size"],
              t.get("detect", float("nan")), t.get("gradients", float("nan")), t.get("worst_tensor"), t.get("worst_tensor_err", float("nan"))))
' 2>&1)
while IFS= read -r l; do [ -n "$l" ] && summary+=("$l"); done <<< "$anchor"

# ---- 3. loss curves ---------------------------------------------------------------------
data=$(mktemp -d)
[ "$CURVES" = 1 ] || TRAIN_N=0
sim() { "$BIN/simulate" --quiet --mnist "$MNIST" --preset paper --seed 1 "$@"; }
if [ "$TRAIN_N" -gt 0 ] && stage simulate 120 bash -c "$(declare -f sim); BIN='$BIN' MNIST='$MNIST'; set -e
        sim --digits 0:7000 --first 0 --n $TRAIN_N --out '$data/img' | '$BIN/fuse' --quiet --iou-thr 0.4 > '$data/train.jsonl'
        sim --digits 7000:8500 --first $TRAIN_N --n $VAL_N --out '$data/img' | '$BIN/fuse' --quiet --iou-thr 0.4 > '$data/val.jsonl'"; then
    common=(--quiet --val "$data/val.jsonl" --size $SIZE --batch 16 --epochs $EPOCHS --seed 3 --optimizer adamw --lr0 0.002 --warmup-epochs 1)
    stage train-cpu 240 bash -c "'$BIN/train' ${common[*]} --device cpu --out '$data/cpu.safetensors' < '$data/train.jsonl' > '$LOGDIR/train-cpu.jsonl'"
    stage train-gpu-fp32 120 bash -c "'$BIN/train' ${common[*]} --device cuda --gpu-math fp32 --out '$data/fp32.safetensors' < '$data/train.jsonl' > '$LOGDIR/train-gpu-fp32.jsonl'"
    # the data-parallel path: one process under mpirun sums its gradients through NCCL (an
    # all-reduce over one GPU) and normalises its loss by the global batch (its own): the
    # same training as the plain FP32 run, up to cuDNN's own run-to-run differences
    if command -v mpirun > /dev/null; then
        [ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
        stage train-gpu-nccl 150 bash -c "mpirun -np 1 --bind-to none '$BIN/train' ${common[*]} --device cuda --gpu-math fp32 --out '$data/nccl.safetensors' < '$data/train.jsonl' > '$LOGDIR/train-gpu-nccl.jsonl'"
    else
        say "train-gpu-nccl: mpirun is not on this machine: the NCCL path did not run"
        summary+=("NCCL path: not run (no mpirun on the GPU machine)")
    fi
    stage train-gpu-tf32 120 bash -c "'$BIN/train' ${common[*]} --device cuda --out '$data/tf32.safetensors' < '$data/train.jsonl' > '$LOGDIR/train-gpu-tf32.jsonl'"
    stage predict-gpu 60 bash -c "'$BIN/predict' --device cuda --model '$data/tf32.safetensors' < '$data/val.jsonl' | '$BIN/score' > '$LOGDIR/val-score-gpu.json'"
    curves=$("$PY" - "$LOGDIR" <<'PY'
import json, sys, os
d = sys.argv[1]
def load(n):
    p = os.path.join(d, n)
    return [json.loads(l) for l in open(p)] if os.path.exists(p) else []
cpu = load("train-cpu.jsonl")
for name in ("train-gpu-fp32.jsonl", "train-gpu-tf32.jsonl"):
    gpu = load(name)
    if not cpu or not gpu:
        print(f"loss curves {name[6:-6]}: no result"); continue
    rel = [abs(g["loss"] - c["loss"]) / abs(c["loss"]) for c, g in zip(cpu, gpu)]
    print(f"loss curves {name[6:-6]} vs cpu over {len(rel)} epochs: largest relative difference {max(rel):.2e} "
          f"(epoch 1 {rel[0]:.2e}); final loss cpu {cpu[-1]['loss']:.5g} gpu {gpu[-1]['loss']:.5g}; "
          f"val mAP@0.4 cpu {cpu[-1]['val_map40']:.4f} gpu {gpu[-1]['val_map40']:.4f}; "
          f"images/s cpu {cpu[-1]['images_per_s']:.0f} gpu {gpu[-1]['images_per_s']:.0f}")
plain, nccl = load("train-gpu-fp32.jsonl"), load("train-gpu-nccl.jsonl")
if plain and nccl:
    rel = [abs(a["loss"] - b["loss"]) / abs(b["loss"]) for a, b in zip(nccl, plain)]
    print(f"NCCL path (mpirun -np 1) vs plain fp32 over {len(rel)} epochs: largest relative loss difference {max(rel):.2e}; "
          f"val mAP@0.4 {nccl[-1]['val_map40']:.4f} vs {plain[-1]['val_map40']:.4f}; images/s {nccl[-1]['images_per_s']:.0f} vs {plain[-1]['images_per_s']:.0f}")
elif plain:
    print("NCCL path (mpirun -np 1): no result")
PY
)
    say "$curves"
    while IFS= read -r l; do summary+=("$l"); done <<< "$curves"
fi
rm -rf "$data"

# ---- 4. where a step's time goes (-s, 640 px, batch 32), and cuDNN's persistent batch norm
for mode in $([ "$PROFILE" = 1 ] && echo spatial persistent); do
    from=$(($(wc -l < "$log") + 1))
    MAD_GPU_BN=$mode stage "profile-bn-$mode" 120 "$HELP/nn_bench" --device cuda --width 0.5 --size 640 --batch 32 --steps 20 --profile
    prof=$(tail -n +"$from" "$log" | grep '^{' | tail -n 1 | "$PY" -c '
import json, sys
d = json.loads(sys.stdin.read())
p = d.get("profile_ms", {})
print("batch norm %s: -s 640 px train %.1f img/s; step ms: %s (sum %.1f)" % (sys.argv[1], d["train_images_per_s"],
      ", ".join("%s %.1f" % (k, v) for k, v in p.items()), sum(p.values())))' "$mode" 2>&1)
    summary+=("$prof")
done
[ "$PROFILE" = 1 ] && par parity-s-fp32-persistent-bn env MAD_GPU_BN=persistent "$HELP/gpu_parity" --width 0.5 --size 320 --batch 4 --gpu-math fp32 --steps 2

# ---- 5. benchmark -----------------------------------------------------------------------
OUT_DIR="$LOGDIR" BUILD="${GPU_PACK:-$BUILD}" PY="$PY" stage bench-gpu 300 bash scripts/bench-gpu.sh
bench=$(sed -n '/^preset /,$p' "$log" | tail -n 8)

echo
echo "================ gpu-check summary ================"
for l in "${summary[@]}"; do echo "$l"; done
grep -E '^-- .*exit [^0]' "$log" | sed 's/^/failed stage: /'
echo "$bench"
