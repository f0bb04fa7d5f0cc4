#!/usr/bin/env bash
# make bench-learn: the learning target on MED-MNIST. The default splits (5000/1000/1000,
# 128 px) are simulated and fused (pipelines/medmnist.mk), a model is trained on the fused
# boxes with EARL using the fast CPU recipe, and the test split is scored against the
# true digits. Prints the test mAP@0.4 against 0.95 and the training time against 15 min.
#
#   RUN=runs/medmnist EPOCHS=19 bash scripts/bench-learn.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${RUN:-runs/medmnist}"
EPOCHS="${EPOCHS:-19}"
make --no-print-directory -s -f pipelines/medmnist.mk RUN="$RUN" data > /dev/null
out="$RUN/bench-learn"
mkdir -p "$out"
echo "bench-learn: $(nproc) cores, MED-MNIST in $RUN, fast CPU recipe, $EPOCHS epochs"
s=$(date +%s.%N)
bin/train --quiet --val "$RUN/val.fused.jsonl" --out "$out/model.safetensors" --optimizer adamw --lr0 0.002 \
    --cls-gain 4 --batch 16 --nominal-batch 16 --warmup-epochs 1 --mosaic 0.5 --epochs "$EPOCHS" \
    < "$RUN/train.fused.jsonl" > "$out/log.jsonl"
e=$(date +%s.%N)
bin/predict --quiet --model "$out/model.safetensors" < "$RUN/test.fused.jsonl" | bin/score > "$out/test-score.json"
t=$(awk -v a="$s" -v b="$e" 'BEGIN { print b - a }')
m=$(jq .map40 "$out/test-score.json")
awk -v m="$m" -v t="$t" -v q="$(jq .map50_95 "$out/test-score.json")" 'BEGIN {
    printf "test mAP@0.4 against truth   %.4f   anchor 0.95 (target)   ratio %.3f   (mAP@[.5:.95] %.4f)\n", m, m / 0.95, q
    printf "training time, validation in %6.0f s   anchor 900 s (target: 15 min)   ratio %.3f\n", t, t / 900 }'
