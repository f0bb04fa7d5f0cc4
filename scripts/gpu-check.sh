#!/usr/bin/env bash
# make gpu-check: one prepared script for a lent GPU machine. It builds, reports the device,
# runs the device probe test, and (as the CUDA training and inference paths land) checks the
# GPU against the CPU reference on the same weights and times both. Results go to stdout and,
# when $OUT is set, to $OUT/gpu-check.log.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/rel-cuda}"
log="${OUT:-/tmp}/gpu-check.log"
{
    echo "== gpu-check $(date -u +%FT%TZ)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    echo "== devices"
    bin/devices
    echo "== device probe test"
    "$BUILD/test/test_device"
    echo "== GPU vs CPU checks"
    echo "none yet: the CUDA detector path (train/predict) has not landed"
} 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
