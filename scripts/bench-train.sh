#!/usr/bin/env bash
# make bench-train: training and predict throughput of the C detector against PyTorch
# (Debian's python3-torch, CPU) on the same network, batch and image size, with the same
# number of threads, measured in the same run; and each one's peak memory.
#
#   PRESETS="cpu n" SIZE=128 BATCH=32 STEPS=10 ROUNDS=3 THREADS=$(nproc) bash scripts/bench-train.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-$(ls -dt build/rel-*/test/nn_bench | head -n1 | sed 's#/test/nn_bench##')}"
PRESETS="${PRESETS:-cpu}"
SIZE="${SIZE:-128}"
BATCH="${BATCH:-32}"
STEPS="${STEPS:-10}"
ROUNDS="${ROUNDS:-3}"
THREADS="${THREADS:-$(nproc)}"
PY=/usr/bin/python3

width_of() { case "$1" in cpu) echo 0.1875 ;; n) echo 0.25 ;; s) echo 0.5 ;; *) echo "unknown preset $1" >&2; exit 2 ;; esac; }

echo "bench-train: $(nproc) cores, $THREADS threads, ${SIZE} px, batch $BATCH, 10 classes, $STEPS timed steps after 2 warm-up steps"
echo "  OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
for p in $PRESETS; do
    w=$(width_of "$p")
    # C and PyTorch alternate, ROUNDS times: the machine's speed drifts, so each ratio is
    # taken within a round and the median of the rounds is reported
    rows="[]"
    for ((r = 1; r <= ROUNDS; r++)); do
        c=$(OMP_NUM_THREADS=$THREADS "$BUILD/test/nn_bench" --width "$w" --size "$SIZE" --batch "$BATCH" --steps "$STEPS")
        t=$(OMP_NUM_THREADS=$THREADS "$PY" scripts/bench_train.py --width "$w" --size "$SIZE" --batch "$BATCH" --steps "$STEPS" --threads "$THREADS")
        rows=$(jq -c --argjson c "$c" --argjson t "$t" '. + [{c: $c, t: $t}]' <<< "$rows")
    done
    jq -rn --argjson rows "$rows" --arg p "$p" '
        def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        def r2: . * 1000 | round / 1000;
        def fig(f): ($rows | map(.c[f]) | median) as $a | ($rows | map(.t[f]) | median) as $b
            | ($rows | map(.c[f] / .t[f]) | median) as $q
            | "C \($a | r2) img/s   PyTorch \($rows[0].t.version) \($b | r2) img/s   ratio \($q | r2) (rounds: \($rows | map(.c[f] / .t[f] | r2) | map(tostring) | join(", ")))";
        "preset \($p), medians of \($rows | length) alternating rounds:",
        "  train    " + fig("train_images_per_s") + "   (target: ratio >= 1.5)",
        "  predict  " + fig("predict_images_per_s") + "   (PyTorch without NMS)",
        "  peak memory  C \($rows | map(.c.peak_rss_mib) | max) MiB   PyTorch \($rows | map(.t.peak_rss_mib) | max) MiB"'
done

# Training beside a busy process: one `while :; do :; done` loop holds a core while the C
# detector and PyTorch each train, alternating, ROUNDS times; each is compared with its own
# solo figure from the same round. The C run is 10 times longer, so that its team tuner
# (src/nn/team.h) settles as it does in a real run. Target: the C detector keeps at least 40% of its solo
# images/s (before the team tuner it kept 30%, as PyTorch does).
if [ "${BUSY:-1}" = 1 ]; then
    w=$(width_of "${PRESETS%% *}")
    rows="[]"
    for ((r = 1; r <= ROUNDS; r++)); do
        cs=$(OMP_NUM_THREADS=$THREADS "$BUILD/test/nn_bench" --width "$w" --size "$SIZE" --batch "$BATCH" --steps "$STEPS")
        ts=$(OMP_NUM_THREADS=$THREADS "$PY" scripts/bench_train.py --width "$w" --size "$SIZE" --batch "$BATCH" --steps "$STEPS" --threads "$THREADS")
        sh -c 'while :; do :; done' &
        busy=$!
        cb=$(OMP_NUM_THREADS=$THREADS "$BUILD/test/nn_bench" --width "$w" --size "$SIZE" --batch "$BATCH" --steps "$((STEPS * 10))")
        tb=$(OMP_NUM_THREADS=$THREADS "$PY" scripts/bench_train.py --width "$w" --size "$SIZE" --batch "$BATCH" --steps "$STEPS" --threads "$THREADS")
        kill "$busy"
        wait "$busy" 2>/dev/null || true
        rows=$(jq -c --argjson cs "$cs" --argjson ts "$ts" --argjson cb "$cb" --argjson tb "$tb" '. + [{cs: $cs, ts: $ts, cb: $cb, tb: $tb}]' <<< "$rows")
    done
    jq -rn --argjson rows "$rows" '
        def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        def r2: . * 1000 | round / 1000;
        def f(k): $rows | map(.[k].train_images_per_s) | median | r2;
        def kept(b; s): $rows | map(.[b].train_images_per_s / .[s].train_images_per_s) | median | r2;
        "beside one busy process (medians of \($rows | length) rounds, each against its own solo run in the same round):",
        "  C        solo \(f("cs")) img/s   busy \(f("cb")) img/s   kept \(kept("cb"; "cs"))   (target >= 0.4)",
        "  PyTorch  solo \(f("ts")) img/s   busy \(f("tb")) img/s   kept \(kept("tb"; "ts"))",
        "  busy C against busy PyTorch: ratio \($rows | map(.cb.train_images_per_s / .tb.train_images_per_s) | median | r2)"'
fi

# Several processes (train under mpirun): THREADS processes of 1 thread against one process
# of THREADS threads, on the same global batch (BATCH), training on simulated MED-MNIST.
# Each figure is the mean images/s of epochs 2 and 3 (the first holds the team tuner's
# warm-up); the runs alternate, ROUNDS times. Target: the processes reach 0.9 of the
# process's images/s.
if [ "${RANKS:-1}" = 1 ]; then
    if ! command -v mpirun > /dev/null; then
        echo "several processes: mpirun is not installed (make deps): skipped"
    else
        [ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        bin/simulate --quiet --n 512 --seed 5 --out "$tmp/img" | bin/fuse --quiet > "$tmp/train.jsonl"
        bin/simulate --quiet --n 16 --first 512 --seed 5 --out "$tmp/img" | bin/fuse --quiet > "$tmp/val.jsonl"
        per=$((BATCH / THREADS))
        o=(--device cpu --quiet --val "$tmp/val.jsonl" --size "$SIZE" --epochs 3 --out "$tmp/m.safetensors")
        speed() { jq -s '.[1:] | map(.images_per_s) | add / length'; }
        rows="[]"
        for ((r = 1; r <= ROUNDS; r++)); do
            one=$(OMP_NUM_THREADS=$THREADS bin/train "${o[@]}" --batch "$BATCH" < "$tmp/train.jsonl" | speed)
            two=$(OMP_NUM_THREADS=1 mpirun -np "$THREADS" bin/train "${o[@]}" --batch "$per" < "$tmp/train.jsonl" | speed)
            sync=$(OMP_NUM_THREADS=1 mpirun -np "$THREADS" bin/train "${o[@]}" --batch "$per" --sync-bn < "$tmp/train.jsonl" | speed)
            rows=$(jq -c --argjson a "$one" --argjson b "$two" --argjson c "$sync" '. + [{one: $a, two: $b, sync: $c}]' <<< "$rows")
        done
        jq -rn --argjson rows "$rows" --arg n "$THREADS" --arg b "$BATCH" --arg per "$per" '
            def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
            def r2: . * 1000 | round / 1000;
            def f(k): $rows | map(.[k]) | median | r2;
            def q(k): $rows | map(.[k] / .one) | median | r2;
            "several processes, train on 512 simulated images, global batch \($b) (medians of \($rows | length) alternating rounds):",
            "  1 process x \($n) threads      \(f("one")) img/s",
            "  \($n) processes x 1 thread     \(f("two")) img/s   ratio \(q("two"))   (target >= 0.9; rounds: \($rows | map(.two / .one | r2) | map(tostring) | join(", ")))",
            "  the same with --sync-bn    \(f("sync")) img/s   ratio \(q("sync"))"'
    fi
fi
