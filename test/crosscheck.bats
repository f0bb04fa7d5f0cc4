#!/usr/bin/env bats
# The C detector against PyTorch (Debian's python3-torch): one training step's outputs,
# loss, batch-norm statistics and every gradient, from the same weights and batch.

load helpers/common

PY=/usr/bin/python3
DUMP="$BUILD/test/nn_dump"

crosscheck() {
    "$DUMP" "$@" "$BATS_TEST_TMPDIR/step.safetensors"
    run "$PY" "$ROOT/test/crosscheck.py" "$BATS_TEST_TMPDIR/step.safetensors"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"crosscheck: ok: every tensor within 0.0001"* ]]
    # every trainable parameter was compared
    [[ "$output" == *"(177 gradients)"* ]]
}

@test "crosscheck: the CPU preset at 128 px, batch 4, 10 classes, EARL weights" {
    crosscheck --width 0.1875 --size 128 --batch 4 --classes 10 --seed 3
}

@test "crosscheck: 3 channels, 1 class (no class term), weighted objectness" {
    crosscheck --width 0.1875 --size 128 --batch 4 --channels 3 --classes 1 --weight-obj --seed 5
}

@test "crosscheck: the n preset at 64 px, batch 2, 3 classes" {
    crosscheck --width 0.25 --size 64 --batch 2 --classes 3 --seed 2
}

@test "crosscheck: soft class targets (a probability vector per target) with EARL weights" {
    crosscheck --width 0.1875 --size 128 --batch 4 --classes 10 --seed 4 --soft
    [[ "$output" == *"class targets soft (probs)"* ]]
}

@test "crosscheck: batch 8, with every node's output and gradient compared too" {
    crosscheck --width 0.1875 --size 128 --batch 8 --classes 10 --seed 1 --nodes
    # 301 tensors without the nodes; with them, every node's output and (where it has one)
    # gradient: 85 outputs and 85 gradients
    [[ "$output" == *"crosscheck: 471 tensors compared"* ]]
}

@test "crosscheck: a wrong gradient in the C results is caught" {
    "$DUMP" --width 0.1875 --size 128 --batch 4 --classes 10 --seed 3 "$BATS_TEST_TMPDIR/step.safetensors"
    # scale one element of one gradient by 1.01
    "$PY" - "$BATS_TEST_TMPDIR/step.safetensors" <<'PYEOF'
import json, struct, sys
p = sys.argv[1]
raw = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
a = 8 + n + h["grad.node30.conv.weight"]["data_offsets"][0]
v = struct.unpack("<f", raw[a:a + 4])[0]
raw[a:a + 4] = struct.pack("<f", v * 1.01 + 1e-3)
open(p, "wb").write(raw)
PYEOF
    run "$PY" "$ROOT/test/crosscheck.py" "$BATS_TEST_TMPDIR/step.safetensors"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"FAIL"*"grad.node30.conv.weight"* ]]
}
