#!/usr/bin/env bats
# What a record may make a tool read: only regular files, under --root unless allowed, and
# no frame above --max-pixels. validate, draw, train and predict share the rules.

load helpers/common
bats_require_minimum_version 1.5.0

setup_file() {
    load helpers/common
    d="$BATS_FILE_TMPDIR"
    mkdir -p "$d/root" "$d/elsewhere"
    (cd "$d/root" && "$BIN/simulate" --quiet --mnist "$MNIST" --n 8 --seed 5 --out img | "$BIN/fuse" --quiet > "$d/train.jsonl")
    "$BIN/train" --device cpu --quiet --root "$d/root" --val "$d/train.jsonl" --out "$d/m.safetensors" --epochs 1 --batch 4 \
        < "$d/train.jsonl" > /dev/null
    cp "$d/root/$(jq -r .image "$d/train.jsonl" | head -n1)" "$d/elsewhere/out.jpg"
    mkfifo "$d/root/img/fifo.png"
    cp "$ROOT/test/fixtures/claims/30000x30000.png" "$ROOT/test/fixtures/claims/30000x30000.jpg" "$d/root/img/"
}

# The first training record with its image replaced by $1.
record_with_image() {
    jq -c --arg p "$1" 'select(input_line_number == 1) | .image = $p' "$BATS_FILE_TMPDIR/train.jsonl"
}

# Runs one tool on one record, as the user would: $1 tool, $2 image path, then options.
run_tool() {
    local tool="$1" image="$2"
    shift 2
    local d="$BATS_FILE_TMPDIR"
    record_with_image "$image" > "$BATS_TEST_TMPDIR/r.jsonl"
    case "$tool" in
    validate) run --separate-stderr timeout 20 "$BIN/validate" --images --root "$d/root" "$@" < "$BATS_TEST_TMPDIR/r.jsonl" ;;
    draw) run --separate-stderr timeout 20 "$BIN/draw" --out "$BATS_TEST_TMPDIR/p.png" --root "$d/root" "$@" < "$BATS_TEST_TMPDIR/r.jsonl" ;;
    train) run --separate-stderr timeout 20 "$BIN/train" --device cpu --quiet --epochs 1 --batch 1 --root "$d/root" --val "$d/train.jsonl" \
        --out "$BATS_TEST_TMPDIR/m.safetensors" "$@" < "$BATS_TEST_TMPDIR/r.jsonl" ;;
    predict) run --separate-stderr timeout 20 "$BIN/predict" --device cpu --quiet --model "$d/m.safetensors" --root "$d/root" "$@" \
        < "$BATS_TEST_TMPDIR/r.jsonl" ;;
    esac
    echo "$tool: status $status: $stderr"
}

@test "a FIFO or a device is not an image: each tool refuses it at once, without blocking or reading it" {
    for tool in validate draw train predict; do
        run_tool "$tool" img/fifo.png
        [ "$status" -eq 1 ]
        [[ "$stderr" == *"$BATS_FILE_TMPDIR/root/img/fifo.png: not a regular file"* ]]
        [ -z "$output" ]
        run_tool "$tool" /dev/zero
        [ "$status" -eq 1 ]
        [[ "$stderr" == *"/dev/zero: not a regular file"* ]]
        [ -z "$output" ]
    done
    [ ! -e "$BATS_TEST_TMPDIR/p.png" ] && [ ! -e "$BATS_TEST_TMPDIR/m.safetensors" ]
}

@test "a relative path that leaves --root is refused; --allow-outside-root reads it; an absolute path is taken as given" {
    for tool in validate draw train predict; do
        run_tool "$tool" ../elsewhere/out.jpg
        [ "$status" -eq 1 ]
        [[ "$stderr" == *'../elsewhere/out.jpg: the path leaves the image root with ".." (--allow-outside-root allows it)'* ]]
        run_tool "$tool" img/../../elsewhere/out.jpg
        [ "$status" -eq 1 ]
        run_tool "$tool" ../elsewhere/out.jpg --allow-outside-root
        [ "$status" -eq 0 ]
        run_tool "$tool" "$BATS_FILE_TMPDIR/elsewhere/out.jpg"
        [ "$status" -eq 0 ]
    done
    # a ".." that stays inside the root is fine
    run_tool validate img/../img/fifo.png/../../elsewhere/x.png
    [ "$status" -eq 1 ] && [[ "$stderr" == *"cannot open"* ]]
}

@test "a header that claims 30000x30000 is refused before the frame is allocated; --max-pixels sets the limit" {
    for tool in validate draw train predict; do
        for f in png jpg; do
            run_tool "$tool" "img/30000x30000.$f"
            [ "$status" -eq 1 ]
            [[ "$stderr" == *"30000x30000.$f: the header claims a 30000x30000 frame (900000000 pixels), above the limit of 67108864 (--max-pixels)"* ]]
        done
    done
    # the 128x128 canvases pass at 16384 pixels and fail at 16383
    run_tool validate "$(jq -r 'select(input_line_number == 1) | .image' "$BATS_FILE_TMPDIR/train.jsonl")" --max-pixels 16384
    [ "$status" -eq 0 ]
    run_tool validate "$(jq -r 'select(input_line_number == 1) | .image' "$BATS_FILE_TMPDIR/train.jsonl")" --max-pixels 16383
    [ "$status" -eq 1 ] && [[ "$stderr" == *"above the limit of 16383 (--max-pixels)"* ]]
    run "$BIN/validate" --max-pixels 0 < /dev/null
    [ "$status" -eq 2 ] && [[ "$output" == *"--max-pixels must be a positive integer, not '0'"* ]]
}
