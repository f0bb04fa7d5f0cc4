#!/usr/bin/env bash
# make bench-fuse: fuse's throughput on 10,000 records of 3 annotators x 10 boxes, JSON in
# and out included, next to anchors measured in the same run: WBF, and EM (--method em).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
awk -v n=10000 -v seed=1 -f scripts/fuse-bench-records.awk > "$out/in.jsonl"
boxes=$(( 10000 * 30 ))

source "$(dirname "$0")/bench-lib.sh"
median5() { median_of 5 "$out/in.jsonl" "$@"; }

rate() { awk -v b="$boxes" -v t="$1" 'BEGIN { printf "%.0f", b / t }'; }
row() {   # name, boxes/s, anchor boxes/s, anchor description
    awk -v n="$1" -v f="$2" -v a="$3" -v d="$4" \
        'BEGIN { printf "%-40s %10.0f boxes/s   anchor %10.0f boxes/s (%s)   ratio %.2f\n", n, f, a, d, f / a }'
}

echo "bench-fuse: $(nproc) cores, 10000 records, $boxes input boxes, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
t_fast=$(median5 bin/fuse --quiet)
t_one=$(median5 env OMP_NUM_THREADS=1 bin/fuse --quiet)
t_jansson=$(median5 env FUSE_FORCE_JANSSON=1 bin/fuse --quiet)
t_read=$(median5 bin/validate --quiet)
t_em=$(median5 bin/fuse --quiet --method em)
t_em_one=$(median5 env OMP_NUM_THREADS=1 bin/fuse --quiet --method em)
row "fuse (all cores)" "$(rate "$t_fast")" 1500000 "target: 20x ensemble-boxes' 70,000/s"
row "fuse (all cores)" "$(rate "$t_fast")" 70000 "ensemble-boxes 1.0.9, as stated in the issue"
row "fuse (1 thread)" "$(rate "$t_one")" "$(rate "$t_jansson")" "same fusion read and written by jansson"
row "fuse (all cores)" "$(rate "$t_fast")" "$(rate "$t_read")" "validate: jansson parsing alone"
row "fuse --method em (all cores)" "$(rate "$t_em")" 500000 "target: EM, JSON in and out"
row "fuse --method em (all cores)" "$(rate "$t_em")" "$(rate "$t_fast")" "WBF on the same records"
row "fuse --method em (1 thread)" "$(rate "$t_em_one")" "$(rate "$t_one")" "WBF, 1 thread"
