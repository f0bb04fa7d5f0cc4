#!/usr/bin/env bats
# The README's examples, run exactly as written.

load helpers/common

# The sh block that follows the line starting with $1 in the README.
readme_block() {
    awk -v start="$1" 'index($0, start) == 1 { found = 1 } found && /^```sh$/ { on = 1; next } on && /^```$/ { exit } on { print }' "$ROOT/README.md"
}

@test "README: the pipeline with jq (unanimous fused objects per label) runs as written" {
    code=$(readme_block 'A pipeline with `jq`')
    [[ "$code" == *"bin/simulate --out img --n 1000 | bin/fuse --quiet"* ]]
    cd "$BATS_TEST_TMPDIR"
    ln -s "$ROOT/bin" bin
    ln -s "$ROOT/data" data
    run bash -c "set -o pipefail; { $code; } 2> /dev/null"   # stdout only: simulate reports on stderr
    [ "$status" -eq 0 ]
    echo "$output" | jq -e 'length == 10 and all(.[]; .objects > 0 and .unanimous >= 0 and .unanimous <= .objects)
        and ([.[].label] == ["0","1","2","3","4","5","6","7","8","9"])'
}

@test "README: the ceiling example runs as written, and its objects carry the posterior's fields" {
    code=$(readme_block '### `ceiling`')
    [[ "$code" == *"bin/ceiling --matrices true.json < sim.jsonl > ceiling.jsonl"* ]]
    cd "$BATS_TEST_TMPDIR"
    ln -s "$ROOT/bin" bin
    ln -s "$ROOT/data" data
    run bash -c "set -e; $code"
    [ "$status" -eq 0 ]
    [ "$(wc -l < ceiling.jsonl)" -eq 1000 ]
    jq -e -s '[.[].objects[]] | length > 1000 and all(.[]; has("probs") and .exists >= 0 and .exists <= 1 and .conf <= .exists + 1e-12)' ceiling.jsonl
}
