#!/usr/bin/env bats
# Rules that every tool applies the same way: ids are unique in a stream, and a message
# names the record's input line, blank lines counted.

load helpers/common
bats_require_minimum_version 1.5.0

setup_file() {
    load helpers/common
    d="$BATS_FILE_TMPDIR"
    "$BIN/simulate" --quiet --mnist "$MNIST" --n 6 --seed 8 --out "$d/img" | "$BIN/fuse" --quiet > "$d/good.jsonl"
    "$BIN/train" --device cpu --quiet --val "$d/good.jsonl" --out "$d/m.safetensors" --epochs 1 --batch 3 < "$d/good.jsonl" > /dev/null
    "$BIN/predict" --device cpu --quiet --model "$d/m.safetensors" < "$d/good.jsonl" > "$d/pred.jsonl"
    # line 1 and line 4 share an id; line 2 is blank
    for f in good pred; do
        { sed -n 1p "$d/$f.jsonl"; echo; sed -n 2,3p "$d/$f.jsonl"; sed -n 1p "$d/$f.jsonl"; } > "$d/dup-$f.jsonl"
    done
}

# Runs one tool on a file of records as the user would: $1 tool, $2 the records.
run_on() {
    local d="$BATS_FILE_TMPDIR"
    case "$1" in
    fuse-wbf) run --separate-stderr "$BIN/fuse" --quiet < "$2" ;;
    fuse-mv) run --separate-stderr "$BIN/fuse" --quiet --method mv < "$2" ;;
    fuse-em) run --separate-stderr "$BIN/fuse" --quiet --method em < "$2" ;;
    draw) run --separate-stderr "$BIN/draw" --n 10 --out "$BATS_TEST_TMPDIR/p.png" < "$2" ;;
    train) run --separate-stderr "$BIN/train" --device cpu --quiet --val "$d/good.jsonl" --out "$BATS_TEST_TMPDIR/t.safetensors" \
        --epochs 1 --batch 3 < "$2" ;;
    train-val) run --separate-stderr "$BIN/train" --device cpu --quiet --val "$2" --out "$BATS_TEST_TMPDIR/t.safetensors" \
        --epochs 1 --batch 3 < "$d/good.jsonl" ;;
    predict) run --separate-stderr "$BIN/predict" --device cpu --quiet --model "$d/m.safetensors" < "$2" ;;
    split) run --separate-stderr "$BIN/split" --quiet --ratios 0.5,0.5 --names a,b --prefix "$BATS_TEST_TMPDIR/s-" < "$2" ;;
    score) run --separate-stderr "$BIN/score" < "$2" ;;
    validate) run --separate-stderr "$BIN/validate" --quiet < "$2" ;;
    export) run --separate-stderr "$BIN/export" coco --field objects < "$2" ;;
    esac
    echo "$1: status $status: $stderr"
}

@test "a repeated id is refused by every tool, naming both lines" {
    local d="$BATS_FILE_TMPDIR"
    for tool in fuse-wbf fuse-mv fuse-em draw train train-val predict split validate export; do
        run_on "$tool" "$d/dup-good.jsonl"
        [ "$status" -eq 1 ]
        [[ "$stderr" == *'line 5: duplicate id "'*'" (first on line 1)'* ]]
    done
    run_on score "$d/dup-pred.jsonl"
    [ "$status" -eq 1 ] && [[ "$stderr" == *'line 5: duplicate id "'*'" (first on line 1)'* ]]
    # the tools that write everything at the end wrote nothing
    [ ! -e "$BATS_TEST_TMPDIR/p.png" ] && [ ! -e "$BATS_TEST_TMPDIR/t.safetensors" ] && [ ! -e "$BATS_TEST_TMPDIR/s-a.jsonl" ]
}

@test "train names the input line of a bad record after a blank line, as predict does" {
    local d="$BATS_FILE_TMPDIR"
    # line 3 (after a blank line 2) has an inverted box, then a missing image
    { sed -n 1p "$d/good.jsonl"; echo; sed -n 2p "$d/good.jsonl" | jq -c '.objects[0].box = [9, 9, 1, 1] | .truth[0].box = [9, 9, 1, 1]'; } > "$BATS_TEST_TMPDIR/box.jsonl"
    { sed -n 1p "$d/good.jsonl"; echo; sed -n 2p "$d/good.jsonl" | jq -c '.image = "nowhere.jpg"'; } > "$BATS_TEST_TMPDIR/img.jsonl"
    for f in box img; do
        for tool in train train-val predict; do
            [ "$tool" = predict ] && [ "$f" = box ] && continue   # predict does not read objects
            run_on "$tool" "$BATS_TEST_TMPDIR/$f.jsonl"
            [ "$status" -eq 1 ]
            [[ "$stderr" == *"line 3: "* ]]
        done
    done
}
