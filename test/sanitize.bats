#!/usr/bin/env bats
# The library and simulate under AddressSanitizer and UBSan (make SANITIZE=1).

load helpers/common

setup_file() {
    load helpers/common
    SAN="build/san-cpu"
    export SAN
    # Build only into the sanitizer's own folder, so bin/ keeps the tested build.
    make -s -C "$ROOT" SANITIZE=1 CUDA=0 WERROR=1 -j2 "$SAN/bin/simulate" \
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
