#!/usr/bin/env bats
# The GPU path: device choice, and parity with the CPU reference where a GPU is present.

load helpers/common

setup_file() {
    load helpers/common
    d="$BATS_FILE_TMPDIR"
    "$BIN/simulate" --quiet --n 16 --seed 5 --out "$d/img" | "$BIN/fuse" --quiet > "$d/train.jsonl"
    "$BIN/simulate" --quiet --n 8 --first 16 --seed 5 --out "$d/img" | "$BIN/fuse" --quiet > "$d/val.jsonl"
}

has_gpu() { "$BIN/devices" --require > /dev/null 2>&1; }

@test "GPU parity: gpu_parity passes on a GPU, and reports itself skipped without one" {
    run "$BUILD/test/gpu_parity" --width 0.25 --size 64 --batch 4 --gpu-math fp32 --steps 2
    if [ "$status" -eq 77 ]; then
        [[ "$output" == "gpu_parity: skipped: --device cuda: no GPU found"* ]]
        ! has_gpu
        skip "no GPU: $output"
    fi
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"parity: pass"* ]]
}

@test "GPU parity with soft class targets (train --weight probs): passes on a GPU, skipped without one" {
    run "$BUILD/test/gpu_parity" --soft --width 0.25 --size 64 --batch 4 --gpu-math fp32 --steps 2
    if [ "$status" -eq 77 ]; then
        ! has_gpu
        skip "no GPU: $output"
    fi
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"soft class targets"*"parity: pass"* ]]
}

@test "train --device cuda without a GPU is a clear error, and --device cpu trains" {
    d="$BATS_FILE_TMPDIR"
    if has_gpu; then skip "a GPU is present"; fi
    run "$BIN/train" --device cuda --epochs 1 --batch 8 --size 64 --val "$d/val.jsonl" --out "$d/m.safetensors" < "$d/train.jsonl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"train: --device cuda: no GPU found"* ]]
    [ ! -e "$d/m.safetensors" ]
    run "$BIN/train" --device cpu --epochs 1 --batch 8 --size 64 --val "$d/val.jsonl" --out "$d/m.safetensors" < "$d/train.jsonl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"running on the CPU (--device cpu)"* ]]
    [ -s "$d/m.safetensors" ]
}

@test "train --device auto says which device it uses" {
    d="$BATS_FILE_TMPDIR"
    run "$BIN/train" --epochs 1 --batch 8 --size 64 --val "$d/val.jsonl" --out "$d/a.safetensors" < "$d/train.jsonl"
    [ "$status" -eq 0 ]
    if has_gpu; then
        [[ "$output" == *"train: running on the GPU: "* ]]
    else
        [[ "$output" == *"train: no GPU found"*"; running on the CPU"* ]]
    fi
}

@test "predict --device cuda without a GPU fails with exit 1 and writes nothing" {
    d="$BATS_FILE_TMPDIR"
    if has_gpu; then skip "a GPU is present"; fi
    [ -s "$d/m.safetensors" ] || "$BIN/train" --quiet --device cpu --epochs 1 --batch 8 --size 64 --val "$d/val.jsonl" --out "$d/m.safetensors" < "$d/train.jsonl"
    run bash -c "'$BIN/predict' --device cuda --model '$d/m.safetensors' < '$d/val.jsonl' > '$d/p.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == *"predict: --device cuda: no GPU found"* ]]
    [ ! -s "$d/p.jsonl" ]
}

@test "train and predict reject an unknown --device or --gpu-math with exit 2" {
    run "$BIN/train" --device tpu --val x --out y
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown --device 'tpu' (auto, cuda, cpu)"* ]]
    run "$BIN/predict" --gpu-math fp16 --model x
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown --gpu-math 'fp16' (tf32, fp32)"* ]]
}

@test "gpu_parity --self: the harness finds every error 0 when the CPU meets itself" {
    run "$BUILD/test/gpu_parity" --self --width 0.25 --size 64 --batch 4 --steps 2
    [ "$status" -eq 0 ]
    [[ "$output" == *"parity: pass (fp32, sgd, worst counted 0.000e+00"* ]]
    # the resynced N-step update is counted; the free trajectory is printed with the CPU's
    # own spread beside it
    [[ "$output" == *"update "*"0.000e+00    yes"* ]]
    [[ "$output" =~ "trajectory     all parameters"\ +"0.000e+00    no (printed; the CPU against itself, inputs moved by 1e-6: "[0-9.e+-]+")" ]]
    run "$BUILD/test/gpu_parity" --self --width 0.25 --size 64 --batch 4 --steps 2 --optimizer adamw
    [ "$status" -eq 0 ]
    [[ "$output" == *"optimiser"*"0.000e+00"* ]]
    run "$BUILD/test/gpu_parity" --self --soft --width 0.25 --size 64 --batch 4 --steps 2
    [ "$status" -eq 0 ]
    [[ "$output" == *"soft class targets"*"parity: pass (fp32, sgd, worst counted 0.000e+00"* ]]
}
