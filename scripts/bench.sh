#!/usr/bin/env bash
# make bench: speed figures, each printed next to the anchor it is compared with and the
# ratio measured in this run. Figures are medians of 3 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

source "$(dirname "$0")/bench-lib.sh"
median3() { median_of 3 /dev/null "$@"; }

row() {   # name, figure (s), anchor (s), anchor description
    awk -v n="$1" -v f="$2" -v a="$3" -v d="$4" \
        'BEGIN { printf "%-44s %8.2f s   anchor %8.2f s (%s)   ratio %.3f\n", n, f, a, d, f / a }'
}

echo "bench: $(nproc) cores, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
# The filesystem's own cost of creating 5000 files, which bounds any image writer here.
tfs=$(median3 bash -c "d=\$(mktemp -d -p '$out'); for i in \$(seq 5000); do : > \$d/f\$i; done")
t1=$(median3 bin/simulate --quiet --n 5000 --seed 1 --out "$out/a")
row "simulate 5000 images, default preset" "$t1" 60 "issue target: well under a minute"
t2=$(median3 bash -c "bin/simulate --quiet --preset paper --n 5000 --seed 1 --out '$out/p' >/dev/null &&
    bin/simulate --quiet --preset paper --n 1000 --first 5000 --seed 1 --out '$out/p' >/dev/null &&
    bin/simulate --quiet --preset paper --n 1000 --first 6000 --seed 1 --out '$out/p'")
row "simulate 5000/1000/1000, paper preset" "$t2" 60 "issue target: well under a minute"
t3=$(median3 env OMP_NUM_THREADS=1 bin/simulate --quiet --n 5000 --seed 1 --out "$out/b")
row "simulate 5000 images, 1 thread" "$t3" "$t1" "same, all threads; ratio = speed-up"
row "simulate 5000 images, default preset" "$t1" "$tfs" "creating 5000 empty files in bash"
# ingest vindr on a generated 15,000-image CSV (45,000 rows), no images, --sizes.
awk 'BEGIN { srand(5); print "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max"
             for (i = 0; i < 15000; i++) for (r = 0; r < 3; r++) {
                 rad = "R" (1 + int(17 * rand()))
                 if (rand() < 0.6) printf "i%05d,No finding,14,%s,,,,\n", i, rad
                 else { x = 2000 * rand(); y = 2000 * rand(); printf "i%05d,Nodule/Mass,8,%s,%.1f,%.1f,%.1f,%.1f\n", i, rad, x, y, x + 100, y + 120 } } }' > "$out/big.csv"
awk 'BEGIN { print "image_id,width,height"; for (i = 0; i < 15000; i++) printf "i%05d,2500,2500\n", i }' > "$out/sizes.csv"
t4=$(median3 bash -c "bin/ingest vindr --csv '$out/big.csv' --no-images --sizes '$out/sizes.csv' 2>/dev/null")
row "ingest vindr, 15,000 images (CSV only)" "$t4" 3 "issue target: a few seconds"
