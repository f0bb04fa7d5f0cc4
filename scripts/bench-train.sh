#!/usr/bin/env bash
# make bench-train: training and predict throughput of the C detector against PyTorch
# (Debian's python3-torch, CPU) on the same network, batch and image size, with the same
# number of threads, measured in the same run; and each one's peak memory.
#
#   PRESETS="cpu n" SIZE=128 BATCH=32 STEPS=10 THREADS=$(nproc) bash scripts/bench-train.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-$(ls -dt build/rel-*/test/nn_bench | head -n1 | sed 's#/test/nn_bench##')}"
PRESETS="${PRESETS:-cpu}"
SIZE="${SIZE:-128}"
BATCH="${BATCH:-32}"
STEPS="${STEPS:-10}"
THREADS="${THREADS:-$(nproc)}"
PY=/usr/bin/python3

width_of() { case "$1" in cpu) echo 0.1875 ;; n) echo 0.25 ;; s) echo 0.5 ;; *) echo "unknown preset $1" >&2; exit 2 ;; esac; }

echo "bench-train: $(nproc) cores, $THREADS threads, ${SIZE} px, batch $BATCH, 10 classes, $STEPS timed steps after 2 warm-up steps"
echo "  OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
for p in $PRESETS; do
    w=$(width_of "$p")
    c=$(OMP_NUM_THREADS=$THREADS "$BUILD/test/nn_bench" --width "$w" --size "$SIZE" --batch "$BATCH" --steps "$STEPS")
    t=$(OMP_NUM_THREADS=$THREADS "$PY" scripts/bench_train.py --width "$w" --size "$SIZE" --batch "$BATCH" --steps "$STEPS" --threads "$THREADS")
    jq -rn --argjson c "$c" --argjson t "$t" --arg p "$p" '
        def row(name; a; b; unit): "\(name)  C \(a) \(unit)   PyTorch \($t.version) \(b) \(unit)   ratio \((a / b * 100 | round) / 100)";
        "preset \($p):",
        "  " + row("train  "; $c.train_images_per_s; $t.train_images_per_s; "img/s") + "   (target: ratio >= 1.5)",
        "  " + row("predict"; $c.predict_images_per_s; $t.predict_images_per_s; "img/s") + "   (PyTorch without NMS)",
        "  peak memory  C \($c.peak_rss_mib) MiB   PyTorch \($t.peak_rss_mib) MiB"'
done
