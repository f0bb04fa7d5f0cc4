#!/usr/bin/env bats
# The MED-MNIST pipeline fragment, at a small size.

load helpers/common

@test "pipelines/medmnist.mk builds disjoint train/val/test splits that share experts" {
    run make -s -C "$ROOT" -f pipelines/medmnist.mk RUN="$BATS_TEST_TMPDIR/run" TRAIN_N=60 VAL_N=20 TEST_N=20 data
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

@test "the method half: models, predictions, scores with CIs, summary and pictures; nothing rebuilt twice; EPOCHS retrains only" {
    r="$BATS_TEST_TMPDIR/run"
    opts=(RUN="$r" TRAIN_N=40 VAL_N=16 TEST_N=16 EPOCHS=2 IMG=64 BOOT=50 DEVICE=cpu)
    run make -s -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}"
    echo "$output"
    [ "$status" -eq 0 ]
    for f in summary.json summary.md training.png pr-curves.png sheet-fusion.png sheet-predictions.png \
        models/baseline.safetensors models/wbf-earl.safetensors \
        models/baseline.log.jsonl models/wbf-earl.log.jsonl test.baseline.pred.jsonl test.wbf-earl.pred.jsonl \
        test.baseline.score.json test.wbf-earl.score.json test.baseline.curves.jsonl test.wbf-earl.curves.jsonl; do
        [ -s "$r/$f" ] || { echo "missing $f"; false; }
    done
    [ "$(head -c 4 "$r/training.png" | tail -c 3)" = PNG ]
    [ "$(head -c 4 "$r/pr-curves.png" | tail -c 3)" = PNG ]
    jq -e '.test_images == 16 and .dataset == "medmnist" and .settings.epochs == 2 and .settings.bootstrap == 50' "$r/summary.json"
    jq -e '[.methods[].method] == ["baseline", "wbf-earl"]' "$r/summary.json"
    jq -e 'all(.methods[]; (.map40 | . >= 0 and . <= 1) and (.map50_95 | . >= 0 and . <= 1) and .map50_95 <= .map40
        and (.map40_ci | length == 2 and .[0] >= 0 and .[0] <= .[1] and .[1] <= 1)
        and (.map50_95_ci | length == 2 and .[0] >= 0 and .[0] <= .[1] and .[1] <= 1))' "$r/summary.json"
    jq -e '.fusion_only.map40 > 0.3 and .fusion_only.map40 <= 1' "$r/summary.json"
    grep -q '^| WBF + EARL | ' "$r/summary.md"
    grep -q '^| Baseline (all annotations) | ' "$r/summary.md"
    grep -q '](training.png)' "$r/summary.md"
    grep -q '](sheet-fusion.png)' "$r/summary.md"
    [ "$(head -c 4 "$r/sheet-predictions.png" | tail -c 3)" = PNG ]
    [ "$(wc -l < "$r/test.wbf-earl.pred.jsonl")" -eq 16 ]
    ! ls "$r"/*.tmp "$r"/models/*.tmp "$r"/models/*.part.* 2>/dev/null
    # a second run has nothing to rebuild; a new EPOCHS retrains without simulating again
    run make -q -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" methods
    [ "$status" -eq 0 ]
    run make -n -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" EPOCHS=3
    [[ "$output" == *"bin/train"*"--epochs 3"* ]]
    [[ "$output" != *"bin/simulate"* && "$output" != *"bin/fuse"* ]]
}

@test "make pipeline refuses a dataset it cannot run end to end yet" {
    run make -s -C "$ROOT" pipeline DATASET=nope
    [ "$status" -ne 0 ]
    [[ "$output" == *"DATASET=nope: only medmnist runs end to end so far"* ]]
}

@test "make experiments: every method over two seeds, table.json and table.md with mean ± sd and the verdict" {
    r="$BATS_TEST_TMPDIR/exp"
    run make -s -C "$ROOT" -f pipelines/experiments.mk RUN="$r" SEEDS="1 2" TRAIN_N=24 VAL_N=8 TEST_N=8 EPOCHS=1 IMG=64 BOOT=10 \
        DEVICE=cpu EXP_METHODS="baseline R1 R2 R3 ensemble wbf mv-earl wbf-earl gold"
    echo "$output"
    [ "$status" -eq 0 ]
    jq -e '.seeds == [1, 2] and .test_images == 8' "$r/table.json"
    jq -e '[.methods[].method] == ["baseline", "R1", "R2", "R3", "ensemble", "wbf", "mv-earl", "wbf-earl", "gold"]' "$r/table.json"
    jq -e 'all(.methods[]; (.map40.seeds | length == 2) and .map40.sd >= 0 and (.map40.mean | . >= 0 and . <= 1)
        and ((.map40.seeds | add / 2) - .map40.mean | fabs < 1e-12))' "$r/table.json"
    jq -e '.wbf_earl_vs_baseline.seeds_better_map40 | . >= 0 and . <= 2' "$r/table.json"
    grep -q '^| MV + EARL | .* ± ' "$r/table.md"
    grep -q '^| Ensemble of annotator models | ' "$r/table.md"
    grep -q '^WBF + EARL against the baseline: ' "$r/table.md"
    # the ensemble's detections are its members' fused, and each seed trained its own models
    [ "$(wc -l < "$r/seed-1/test.ensemble.pred.jsonl")" -eq 8 ]
    ! cmp -s "$r/seed-1/models/wbf-earl.safetensors" "$r/seed-2/models/wbf-earl.safetensors"
    [ -s "$r/train.mv.jsonl" ]
}
