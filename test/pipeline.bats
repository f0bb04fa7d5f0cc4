#!/usr/bin/env bats
# The MED-MNIST pipeline fragment, at a small size.

load helpers/common

@test "pipelines/medmnist.mk builds disjoint train/val/test splits that share experts" {
    run make -s -C "$ROOT" -f pipelines/medmnist.mk RUN="$BATS_TEST_TMPDIR/run" N_TRAIN=60 N_VAL=20 N_TEST=20
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"train: 60 images"* ]]
    r="$BATS_TEST_TMPDIR/run"
    [ "$(cat "$r/train.jsonl" "$r/val.jsonl" "$r/test.jsonl" | jq -r .id | sort -u | wc -l)" -eq 100 ]
    # disjoint digits
    [ "$(jq '.truth[].mnist_index' "$r/train.jsonl" | sort -n | tail -n1)" -lt 7000 ]
    [ "$(jq '.truth[].mnist_index' "$r/val.jsonl" | sort -n | head -n1)" -ge 7000 ]
    [ "$(jq '.truth[].mnist_index' "$r/val.jsonl" | sort -n | tail -n1)" -lt 8500 ]
    [ "$(jq '.truth[].mnist_index' "$r/test.jsonl" | sort -n | head -n1)" -ge 8500 ]
    [ "$(head -n1 "$r/test.jsonl" | jq -r .id)" = "med-000080" ]
    [ -s "$r/matrices.json" ]
    # fused splits: the same records with "objects", and the agreement report
    cmp <(jq -c 'del(.objects)' "$r/train.fused.jsonl") <(jq -c . "$r/train.jsonl")
    [ "$(jq -s '[.[].objects | length] | add' "$r/test.fused.jsonl")" -gt 20 ]
    [ "$(jq -c '.annotators | keys' "$r/val.agreement.json")" = '["R1","R2","R3"]' ]
    [ "$(jq '.images' "$r/test.fusion-score.json")" -eq 20 ]
    jq -e '.map40 > 0.3 and .map40 <= 1' "$r/test.fusion-score.json" >/dev/null
    ! ls "$r"/*.tmp 2>/dev/null
}
