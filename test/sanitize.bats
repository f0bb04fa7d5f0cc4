#!/usr/bin/env bats
# The library and the tools under AddressSanitizer and UBSan (make SANITIZE=1).

load helpers/common

setup_file() {
    load helpers/common
    SAN="build/san-cpu"
    export SAN
    # Leak detection on, whatever the environment says: a leak report fails a case (its
    # summary line names AddressSanitizer).
    export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    # Build only into the sanitizer's own folder, so bin/ keeps the tested build.
    make -s -C "$ROOT" SANITIZE=1 CUDA=0 WERROR=1 -j2 "$SAN/bin/simulate" "$SAN/bin/fuse" "$SAN/bin/validate" "$SAN/bin/score" \
        "$SAN/bin/ingest" "$SAN/bin/export" "$SAN/bin/split" "$SAN/bin/train" "$SAN/bin/predict" "$SAN/bin/ceiling" \
        $(cd "$ROOT" && ls test/unit/test_*.c | sed "s|test/unit/\(.*\)\.c|$SAN/test/\1|") >/dev/null
}

@test "sanitized unit tests pass" {
    local n=0
    for t in "$ROOT/$SAN"/test/test_*; do
        [[ "$t" == *.d ]] && continue
        n=$((n + 1))
        run "$t"
        echo "$t: $output"
        [ "$status" -eq 0 ]
        [[ "$output" != *"runtime error"* ]]
    done
    [ "$n" -eq "$(ls "$ROOT"/test/unit/test_*.c | wc -l)" ]
}

@test "sanitized simulate runs clean, and fails clean on bad input" {
    run "$ROOT/$SAN/bin/simulate" --quiet --n 30 --fp-rate 1 --preset paper --out "$BATS_TEST_TMPDIR/s" \
        --mnist "$MNIST" --matrices "$BATS_TEST_TMPDIR/m.json"
    [ "$status" -eq 0 ]
    [[ "$output" != *"runtime error"* && "$output" != *"AddressSanitizer"* ]]
    run "$ROOT/$SAN/bin/simulate" --quiet --n 3 --out "$BATS_TEST_TMPDIR/s" --mnist /nonexistent-images-idx3-ubyte
    [ "$status" -eq 1 ]
    [[ "$output" != *"AddressSanitizer"* ]]
}

@test "sanitized fuse --method em and ceiling run clean, and fail clean on bad input" {
    "$ROOT/$SAN/bin/simulate" --quiet --n 60 --fp-rate 0.5 --experts 4 --proficiency 0.9,0.7,0.5,0.4 --out "$BATS_TEST_TMPDIR/s" \
        --mnist "$MNIST" --matrices "$BATS_TEST_TMPDIR/m.json" > "$BATS_TEST_TMPDIR/s.jsonl"
    for env in "" "FUSE_FORCE_JANSSON=1"; do
        run bash -c "$env '$ROOT/$SAN/bin/fuse' --method em --matrices '$BATS_TEST_TMPDIR/e.json' --report '$BATS_TEST_TMPDIR/r.json' \
            < '$BATS_TEST_TMPDIR/s.jsonl' 2>&1 > '$BATS_TEST_TMPDIR/em.jsonl'"
        [ "$status" -eq 0 ]
        [[ "$output" != *"AddressSanitizer"* && "$output" != *"runtime error"* && "$output" != *"LeakSanitizer"* ]]
    done
    run bash -c "'$ROOT/$SAN/bin/ceiling' --quiet --matrices '$BATS_TEST_TMPDIR/m.json' < '$BATS_TEST_TMPDIR/s.jsonl' 2>&1 > /dev/null"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    # bad records: strict (nothing written), --keep-going, and one reader per image
    printf '%s\n' '{"id":"\u00e9","width":10,"height":10,"annotators":["R1","R2"],"annotations":[{"annotator":"R1","label":"x\"y","box":[9,9,1,1]}]}' \
        '{"id":"b","width":10' '{"id":"c","width":10,"height":10,"annotators":["R1"],"annotations":[{"annotator":"R2","label":"1","box":[1,1,2,2]}]}' \
        > "$BATS_TEST_TMPDIR/bad.jsonl"
    for opts in "" "--keep-going"; do
        run bash -c "'$ROOT/$SAN/bin/fuse' --method em $opts < '$BATS_TEST_TMPDIR/bad.jsonl' 2>&1 >/dev/null"
        [ "$status" -eq 1 ]
        [[ "$output" != *"AddressSanitizer"* && "$output" != *"runtime error"* && "$output" != *"LeakSanitizer"* ]]
    done
    run bash -c "jq -c '.annotators = [\"R1\"] | .annotations |= map(select(.annotator == \"R1\"))' '$BATS_TEST_TMPDIR/s.jsonl' \
        | '$ROOT/$SAN/bin/fuse' --method em 2>&1 > /dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" != *"AddressSanitizer"* && "$output" != *"LeakSanitizer"* ]]
    run bash -c "sed 's/\"label\":\"7\"/\"label\":\"z\"/' '$BATS_TEST_TMPDIR/s.jsonl' | '$ROOT/$SAN/bin/ceiling' --matrices '$BATS_TEST_TMPDIR/m.json' 2>&1 > /dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" != *"AddressSanitizer"* && "$output" != *"LeakSanitizer"* ]]
}

@test "sanitized fuse runs clean on both readers, all modes and bad input" {
    "$ROOT/$SAN/bin/simulate" --quiet --n 40 --fp-rate 1 --out "$BATS_TEST_TMPDIR/s" --mnist "$MNIST" > "$BATS_TEST_TMPDIR/s.jsonl"
    for opts in "" "--method mv" "--one-per-annotator --conf-type box_and_model_avg" "--conf-type absent_model_aware_avg --report $BATS_TEST_TMPDIR/r.json"; do
        run bash -c "'$ROOT/$SAN/bin/fuse' --quiet $opts < '$BATS_TEST_TMPDIR/s.jsonl' > '$BATS_TEST_TMPDIR/a.jsonl'"
        [ "$status" -eq 0 ]
        run bash -c "FUSE_FORCE_JANSSON=1 '$ROOT/$SAN/bin/fuse' --quiet $opts < '$BATS_TEST_TMPDIR/s.jsonl' > '$BATS_TEST_TMPDIR/b.jsonl'"
        [ "$status" -eq 0 ]
        cmp "$BATS_TEST_TMPDIR/a.jsonl" "$BATS_TEST_TMPDIR/b.jsonl"
    done
    printf '%s\n' '{"id":"\u00e9","width":10,"height":10,"annotators":["R1"],"annotations":[{"annotator":"R1","label":"x\"y","box":[9,9,1,1]}]}' \
        '{"id":"b","width":10' '{"id":"c","width":10,"height":10,"annotators":["R1"],"annotations":[{"annotator":"R2","label":"1","box":[1,1,2,2]}]}' \
        > "$BATS_TEST_TMPDIR/bad.jsonl"
    run bash -c "'$ROOT/$SAN/bin/fuse' --keep-going < '$BATS_TEST_TMPDIR/bad.jsonl' 2>&1 >/dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" != *"AddressSanitizer"* && "$output" != *"runtime error"* ]]
    printf '%s\n' '{"id":"n","width":10,"height":10,"annotators":[],"annotations":[]}' > "$BATS_TEST_TMPDIR/none.jsonl"
    run bash -c "'$ROOT/$SAN/bin/fuse' --quiet --report '$BATS_TEST_TMPDIR/r0.json' < '$BATS_TEST_TMPDIR/none.jsonl' 2>&1 >/dev/null"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    a="$BATS_TEST_TMPDIR/a.jsonl"
    jq -c '{id: .id, width: .width, height: .height, detections: [.objects[] | {label: .label, box: .box, score: .conf}]}' "$a" > "$BATS_TEST_TMPDIR/e1.jsonl"
    run "$ROOT/$SAN/bin/fuse" --quiet --ensemble "$BATS_TEST_TMPDIR/e1.jsonl" "$BATS_TEST_TMPDIR/e1.jsonl"
    [ "$status" -eq 0 ]
}

@test "sanitized score runs clean, with bootstrap and curves, and on bad input" {
    awk -v n=200 -v seed=2 -f "$ROOT/scripts/score-bench-records.awk" > "$BATS_TEST_TMPDIR/s.jsonl"
    run bash -c "'$ROOT/$SAN/bin/score' --bootstrap 20 --iou 0.3 --curves '$BATS_TEST_TMPDIR/c.jsonl' < '$BATS_TEST_TMPDIR/s.jsonl'"
    [ "$status" -eq 0 ]
    [ "$output" = "$("$BIN/score" --bootstrap 20 --iou 0.3 < "$BATS_TEST_TMPDIR/s.jsonl")" ]
    run bash -c "'$ROOT/$SAN/bin/score' --ap voc < '$BATS_TEST_TMPDIR/s.jsonl'"
    [ "$status" -eq 0 ]
    printf '%s\n' '{"id":"\u00e9","width":9,"height":9,"truth":[],"detections":[{"label":"x","box":[1,1,2,2],"score":2}]}' '{' > "$BATS_TEST_TMPDIR/bad.jsonl"
    run bash -c "'$ROOT/$SAN/bin/score' --keep-going < '$BATS_TEST_TMPDIR/bad.jsonl' 2>&1"
    [ "$status" -eq 1 ]
    [[ "$output" != *"AddressSanitizer"* && "$output" != *"runtime error"* ]]
}

@test "sanitized score frees everything on each of its error exits (leak detection on)" {
    d="$BATS_TEST_TMPDIR"
    good='{"id":"a","width":9,"height":9,"truth":[{"label":"x","box":[1,1,5,5]}],"detections":[{"label":"x","box":[1,1,5,5],"score":0.5}]}'
    printf '%s\n' "$good" '{"id":"b","width":9,"height":9,"truth":[],"detections":[{"label":"x","box":[1,1,2,2],"score":2}]}' > "$d/bad.jsonl"
    printf '%s\n' "$good" "$good" > "$d/dup.jsonl"
    printf '%s\n' "$good" '{' > "$d/json.jsonl"
    printf '{"id":"a","width":9\0}\n' > "$d/nul.jsonl"
    printf '%s\n' "$good" > "$d/good.jsonl"
    for case in "bad.jsonl|" "dup.jsonl|" "json.jsonl|" "nul.jsonl|" "nul.jsonl|--keep-going" "json.jsonl|--keep-going --bootstrap 5" \
                "good.jsonl|--curves /nonexistent/c.jsonl"; do
        run bash -c "'$ROOT/$SAN/bin/score' ${case#*|} < '$d/${case%%|*}' 2>&1 > /dev/null"
        echo "$case: $status: $output"
        [ "$status" -eq 1 ]
        [[ "$output" != *"Sanitizer"* && "$output" != *"runtime error"* ]]
    done
    run bash -c "'$ROOT/$SAN/bin/score' < /dev/null 2>&1"
    [ "$status" -eq 1 ] && [ "$output" = "score: no records on stdin" ]
    run bash -c "'$ROOT/$SAN/bin/score' < '$d/good.jsonl' 2>&1 > /dev/full"
    [ "$status" -eq 1 ] && [ "$output" = "score: cannot write to stdout" ]
}

@test "sanitized ingest, export and split run clean on the fixture and on bad input" {
    F="$ROOT/test/fixtures/vindr"
    run bash -c "'$ROOT/$SAN/bin/ingest' vindr --csv '$F/train.csv' --test-csv '$F/test.csv' --images '$F/images' --sizes '$F/sizes.csv' --annotators R8,R9,R10 > '$BATS_TEST_TMPDIR/v.jsonl'"
    [ "$status" -eq 0 ]
    run bash -c "'$ROOT/$SAN/bin/export' coco --field annotations < '$BATS_TEST_TMPDIR/v.jsonl' > '$BATS_TEST_TMPDIR/c.json'"
    [ "$status" -eq 0 ]
    run bash -c "'$ROOT/$SAN/bin/ingest' coco '$BATS_TEST_TMPDIR/c.json' > /dev/null"
    [ "$status" -eq 0 ]
    run bash -c "'$ROOT/$SAN/bin/split' --stratify --ratios 0.5,0.5 --names a,b --prefix '$BATS_TEST_TMPDIR/p/' < '$BATS_TEST_TMPDIR/v.jsonl'"
    [ "$status" -eq 0 ]
    run bash -c "'$ROOT/$SAN/bin/split' --annotator R9 < '$BATS_TEST_TMPDIR/v.jsonl' > /dev/null"
    [ "$status" -eq 0 ]
    printf 'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\nimg01,"ILD,5,R8,1,1,2,2\n' > "$BATS_TEST_TMPDIR/b.csv"
    run "$ROOT/$SAN/bin/ingest" vindr --csv "$BATS_TEST_TMPDIR/b.csv" --images "$F/images"
    [ "$status" -eq 1 ]
    [[ "$output" != *"AddressSanitizer"* && "$output" != *"runtime error"* ]]
    # the inputs that crashed ingest: an image_id that is not UTF-8, a non-string annotator
    printf 'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\n\xff\xfe,A,0,R1,1,1,5,5\n' > "$BATS_TEST_TMPDIR/u.csv"
    run "$ROOT/$SAN/bin/ingest" vindr --csv "$BATS_TEST_TMPDIR/u.csv" --images "$F/images"
    [ "$status" -eq 1 ]
    [[ "$output" != *"Sanitizer"* && "$output" != *"runtime error"* ]]
    echo '{"images":[{"id":1,"file_name":"a.jpg","width":8,"height":8,"annotators":[1,[]]}],"categories":[{"id":1,"name":"x"}],"annotations":[]}' \
        > "$BATS_TEST_TMPDIR/c.json"
    run "$ROOT/$SAN/bin/ingest" coco "$BATS_TEST_TMPDIR/c.json"
    [ "$status" -eq 1 ]
    [[ "$output" != *"Sanitizer"* && "$output" != *"runtime error"* ]]
}

@test "sanitized train and predict run clean: mosaic, the loader thread, resume, bad input" {
    d="$BATS_TEST_TMPDIR"
    "$ROOT/$SAN/bin/simulate" --quiet --n 20 --seed 3 --out "$d/s" --mnist "$MNIST" | "$ROOT/$SAN/bin/fuse" --quiet > "$d/t.jsonl"
    head -n 6 "$d/t.jsonl" > "$d/v.jsonl"
    run bash -c "'$ROOT/$SAN/bin/train' --quiet --val '$d/v.jsonl' --out '$d/m.safetensors' --epochs 1 --batch 6 --optimizer adamw < '$d/t.jsonl'"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" != *"runtime error"* && "$output" != *"AddressSanitizer"* ]]
    run bash -c "'$ROOT/$SAN/bin/train' --quiet --resume --val '$d/v.jsonl' --out '$d/m.safetensors' --epochs 2 --batch 6 --optimizer adamw < '$d/t.jsonl'"
    [ "$status" -eq 0 ]
    [[ "$output" != *"runtime error"* && "$output" != *"AddressSanitizer"* ]]
    run bash -c "'$ROOT/$SAN/bin/predict' --model '$d/m.safetensors' < '$d/v.jsonl' > '$d/p.jsonl'"
    [ "$status" -eq 0 ]
    [[ "$output" != *"runtime error"* && "$output" != *"AddressSanitizer"* ]]
    [ "$(wc -l < "$d/p.jsonl")" -eq 6 ]
    # one image with many boxes, drawn four times into a mosaic
    head -n 1 "$d/t.jsonl" | jq -c '.truth = [range(12) as $i | {label: "3", box: [($i * 10), 2, ($i * 10 + 9), 40]}]' > "$d/one.jsonl"
    run bash -c "'$ROOT/$SAN/bin/train' --quiet --targets truth --val '$d/one.jsonl' --out '$d/o.safetensors' --epochs 1 --batch 2 < '$d/one.jsonl'"
    [ "$status" -eq 0 ]
    [[ "$output" != *"runtime error"* && "$output" != *"AddressSanitizer"* ]]
    run bash -c "head -c 300 '$d/t.jsonl' | '$ROOT/$SAN/bin/train' --quiet --val '$d/v.jsonl' --out '$d/x.safetensors'"
    [ "$status" -eq 1 ]
    [[ "$output" != *"runtime error"* && "$output" != *"AddressSanitizer"* ]]
}

@test "sanitized train with soft class targets runs clean (mosaic, a class only in probs), and fails clean on bad probs" {
    d="$BATS_TEST_TMPDIR"
    "$ROOT/$SAN/bin/simulate" --quiet --n 20 --seed 3 --out "$d/s" --mnist "$MNIST" | "$ROOT/$SAN/bin/fuse" --quiet > "$d/f.jsonl"
    head -n 6 "$d/f.jsonl" > "$d/v.jsonl"
    jq -c '.objects |= map(. + {probs: {(.label): 0.8, "x": 0.2}, exists: 0.9, conf: 0.72})' "$d/f.jsonl" > "$d/t.jsonl"
    run bash -c "'$ROOT/$SAN/bin/train' --quiet --weight probs --val '$d/v.jsonl' --out '$d/m.safetensors' --epochs 1 --batch 6 < '$d/t.jsonl'"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" != *"runtime error"* && "$output" != *"AddressSanitizer"* ]]
    for edit in '.objects[0].probs = {"x": 0.5}' '.objects[0] |= del(.exists)' '.objects[0].probs = [1]'; do
        run bash -c "jq -c '$edit' '$d/t.jsonl' | '$ROOT/$SAN/bin/train' --quiet --weight probs-exists --val '$d/v.jsonl' --out '$d/x.safetensors'"
        echo "$edit -> $output"
        [ "$status" -eq 1 ]
        [[ "$output" == *"train: stdin: line 1: objects[0]: "* ]]
        [[ "$output" != *"runtime error"* && "$output" != *"AddressSanitizer"* ]]
    done
}
