#!/usr/bin/env bats
# train and predict on the CPU.

load helpers/common

setup_file() {
    load helpers/common
    d="$BATS_FILE_TMPDIR"
    "$BIN/simulate" --quiet --n 48 --seed 21 --out "$d/img" | "$BIN/fuse" --quiet > "$d/train.jsonl"
    "$BIN/simulate" --quiet --n 16 --first 48 --seed 21 --out "$d/img" | "$BIN/fuse" --quiet > "$d/val.jsonl"
}

@test "train --help and predict --help print usage" {
    run "$BIN/train" --help
    [ "$status" -eq 0 ] && [[ "$output" == Usage:* ]]
    run "$BIN/predict" --help
    [ "$status" -eq 0 ] && [[ "$output" == Usage:* ]]
}

@test "one epoch: a log line, a model file and a checkpoint" {
    run bash -c "'$BIN/train' --quiet --val '$BATS_FILE_TMPDIR/val.jsonl' --out '$BATS_TEST_TMPDIR/m.safetensors' --epochs 1 --batch 16 < '$BATS_FILE_TMPDIR/train.jsonl'"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e 'keys == ["box","cls","epoch","images_per_s","loss","lr","obj","val_map40","val_map50_95"] and .epoch == 1 and .loss > 0' >/dev/null
    [ -s "$BATS_TEST_TMPDIR/m.safetensors" ] && [ -s "$BATS_TEST_TMPDIR/m.safetensors.ckpt" ]
    # the model file names its classes (the sorted labels) and its layout
    hl=$(od -An -tu8 -N8 "$BATS_TEST_TMPDIR/m.safetensors" | tr -d ' ')
    head -c $((8 + hl)) "$BATS_TEST_TMPDIR/m.safetensors" | tail -c "$hl" | jq -e '.__metadata__ | .preset == "cpu" and .input_size == "128" and (.classes | fromjson) == ["0","1","2","3","4","5","6","7","8","9"]' >/dev/null
}

@test "the same seed gives the same weights; --resume continues exactly" {
    for r in a b; do
        "$BIN/train" --quiet --val "$BATS_FILE_TMPDIR/val.jsonl" --out "$BATS_TEST_TMPDIR/$r.safetensors" --epochs 2 --batch 16 \
            < "$BATS_FILE_TMPDIR/train.jsonl" > "$BATS_TEST_TMPDIR/$r.log"
    done
    cmp "$BATS_TEST_TMPDIR/a.safetensors.ckpt" "$BATS_TEST_TMPDIR/b.safetensors.ckpt"
    # one epoch, then resume for the second
    "$BIN/train" --quiet --val "$BATS_FILE_TMPDIR/val.jsonl" --out "$BATS_TEST_TMPDIR/c.safetensors" --epochs 2 --batch 16 \
        < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
    "$BIN/train" --quiet --val "$BATS_FILE_TMPDIR/val.jsonl" --out "$BATS_TEST_TMPDIR/d.safetensors" --epochs 1 --batch 16 \
        < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
    "$BIN/train" --quiet --resume --val "$BATS_FILE_TMPDIR/val.jsonl" --out "$BATS_TEST_TMPDIR/d.safetensors" --epochs 2 --batch 16 \
        < "$BATS_FILE_TMPDIR/train.jsonl" > "$BATS_TEST_TMPDIR/d.log"
    [ "$(jq -c .epoch "$BATS_TEST_TMPDIR/d.log")" = "2" ]
    cmp "$BATS_TEST_TMPDIR/c.safetensors.ckpt" "$BATS_TEST_TMPDIR/d.safetensors.ckpt"
}

@test "predict writes detections in the record's frame and passes the rest through" {
    "$BIN/train" --quiet --val "$BATS_FILE_TMPDIR/val.jsonl" --out "$BATS_TEST_TMPDIR/m.safetensors" --epochs 1 --batch 16 \
        < "$BATS_FILE_TMPDIR/train.jsonl" > /dev/null
    run bash -c "'$BIN/predict' --quiet --model '$BATS_TEST_TMPDIR/m.safetensors' --max-det 50 < '$BATS_FILE_TMPDIR/val.jsonl'"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | wc -l)" -eq 16 ]
    cmp <(echo "$output" | jq -c 'del(.detections)') <(jq -c . "$BATS_FILE_TMPDIR/val.jsonl")
    echo "$output" | jq -e -s '[.[] | .width as $w | .height as $h | .detections | length <= 50,
        (.[] | .box[0] >= 0 and .box[2] <= $w and .box[1] >= 0 and .box[3] <= $h and .score > 0.001 and (.label | test("^[0-9]$")))] | all' >/dev/null
    # and score reads them
    echo "$output" | "$BIN/score" | jq -e '.images == 16' >/dev/null
}

@test "a tiny run memorises 8 images (train mAP@0.4 above 0.9)" {
    # trained and scored on the gold boxes, so that a mislabelled fused target cannot cap it
    head -n 8 "$BATS_FILE_TMPDIR/train.jsonl" > "$BATS_TEST_TMPDIR/8.jsonl"
    "$BIN/train" --quiet --val "$BATS_TEST_TMPDIR/8.jsonl" --out "$BATS_TEST_TMPDIR/o.safetensors" --epochs 300 --batch 8 \
        --nominal-batch 8 --mosaic 0 --scale 0 --translate 0 --targets truth < "$BATS_TEST_TMPDIR/8.jsonl" > "$BATS_TEST_TMPDIR/o.log"
    best=$(jq -s 'map(.val_map40) | max' "$BATS_TEST_TMPDIR/o.log")
    echo "best mAP@0.4 on the 8 training images: $best"
    jq -e -n --argjson b "$best" '$b > 0.9' >/dev/null
    "$BIN/predict" --quiet --model "$BATS_TEST_TMPDIR/o.safetensors" < "$BATS_TEST_TMPDIR/8.jsonl" | "$BIN/score" | jq -e '.map40 > 0.9' >/dev/null
}

@test "bad options and bad input" {
    for args in "--val v.jsonl" "--out m.safetensors" "--val v --out m --targets bogus" "--val v --out m --weight all" \
                "--val v --out m --annotator R1" "--val v --out m --size 100" "--val v --out m --preset xl"; do
        run bash -c "'$BIN/train' $args < /dev/null"
        echo "$args -> $status $output"
        [ "$status" -eq 2 ]
    done
    run bash -c "'$BIN/train' --val '$BATS_FILE_TMPDIR/val.jsonl' --out '$BATS_TEST_TMPDIR/m' --targets truth < /dev/null"
    [ "$status" -eq 1 ]
    run bash -c "echo '{\"id\":\"a\",\"image\":\"nope.jpg\",\"width\":10,\"height\":10,\"objects\":[]}' | '$BIN/train' --val '$BATS_FILE_TMPDIR/val.jsonl' --out '$BATS_TEST_TMPDIR/m'"
    [ "$status" -eq 1 ]
    [[ "$output" == *"cannot open nope.jpg"* ]]
    run bash -c "'$BIN/predict' --model '$BATS_TEST_TMPDIR/none.safetensors' < '$BATS_FILE_TMPDIR/val.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == *"cannot open $BATS_TEST_TMPDIR/none.safetensors"* ]]
    echo "garbage" > "$BATS_TEST_TMPDIR/bad.safetensors"
    run bash -c "'$BIN/predict' --model '$BATS_TEST_TMPDIR/bad.safetensors' < '$BATS_FILE_TMPDIR/val.jsonl'"
    [ "$status" -eq 1 ]
    run "$BIN/predict"
    [ "$status" -eq 2 ]
}
