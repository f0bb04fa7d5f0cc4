#!/usr/bin/env bash
# make bench-score: score's time on 5,000 images, 10 classes, ~25,000 truth boxes and
# 100,000 detections (map40, map50, map75 and map50_95 together, JSON parsing included),
# next to anchors measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
awk -v n=5000 -v seed=1 -f scripts/score-bench-records.awk > "$out/in.jsonl"
truth=$(jq -s '[.[].truth | length] | add' "$out/in.jsonl")
dets=$(jq -s '[.[].detections | length] | add' "$out/in.jsonl")

source "$(dirname "$0")/bench-lib.sh"
median5() { median_of 5 "$out/in.jsonl" "$@"; }
row() {   # name, seconds, anchor seconds, anchor description
    awk -v n="$1" -v f="$2" -v a="$3" -v d="$4" \
        'BEGIN { printf "%-36s %7.3f s   anchor %7.3f s (%s)   ratio %.3f\n", n, f, a, d, f / a }'
}

echo "bench-score: $(nproc) cores, 5000 images, $truth truth boxes, $dets detections"
t=$(median5 bin/score)
t_read=$(median5 bin/validate --quiet)
row "score (map40, map50, map75, map50_95)" "$t" 0.3 "target: 20x faster than pycocotools"
row "score" "$t" 7.1 "pycocotools 6.5 s + 0.6 s load, as stated in the issue"
row "score" "$t" "$t_read" "validate: jansson parsing alone"
