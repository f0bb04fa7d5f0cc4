#!/usr/bin/env bats
# split: parts and folds by a hash of id, stratification, the per-annotator view.

load helpers/common

setup_file() {
    load helpers/common
    "$BIN/simulate" --quiet --n 600 --seed 2 --out "$BATS_FILE_TMPDIR/img" > "$BATS_FILE_TMPDIR/all.jsonl"
}

@test "split --help prints usage" {
    run "$BIN/split" --help
    [ "$status" -eq 0 ]
    [[ "$output" == Usage:* ]]
}

@test "parts are disjoint, complete, in input order, and near the ratios" {
    run "$BIN/split" --ratios 0.8,0.1,0.1 --seed 4 --prefix "$BATS_TEST_TMPDIR/out/" < "$BATS_FILE_TMPDIR/all.jsonl"
    [ "$status" -eq 0 ]
    o="$BATS_TEST_TMPDIR/out"
    [ "$(cat "$o"/train.jsonl "$o"/val.jsonl "$o"/test.jsonl | sort | uniq | wc -l)" -eq 600 ]
    cmp <(cat "$o"/*.jsonl | sort) <(sort "$BATS_FILE_TMPDIR/all.jsonl")
    # each part keeps the input order, lines byte for byte
    cmp "$o/val.jsonl" <(grep -F -x -f "$o/val.jsonl" "$BATS_FILE_TMPDIR/all.jsonl")
    n=$(wc -l < "$o/train.jsonl")
    [ "$n" -gt 440 ] && [ "$n" -lt 520 ]
    [[ "$output" == "split: 600 records -> train $n val "* ]]
}

@test "adding records never moves the ones already there" {
    head -n 400 "$BATS_FILE_TMPDIR/all.jsonl" > "$BATS_TEST_TMPDIR/some.jsonl"
    "$BIN/split" --quiet --ratios 0.7,0.3 --names a,b --seed 9 --prefix "$BATS_TEST_TMPDIR/s-" < "$BATS_TEST_TMPDIR/some.jsonl"
    "$BIN/split" --quiet --ratios 0.7,0.3 --names a,b --seed 9 --prefix "$BATS_TEST_TMPDIR/all-" < "$BATS_FILE_TMPDIR/all.jsonl"
    cmp "$BATS_TEST_TMPDIR/s-b.jsonl" <(head -n "$(wc -l < "$BATS_TEST_TMPDIR/s-b.jsonl")" "$BATS_TEST_TMPDIR/all-b.jsonl")
    cmp <(jq -r .id "$BATS_TEST_TMPDIR/s-a.jsonl") <(jq -r .id "$BATS_TEST_TMPDIR/all-a.jsonl" | grep -F -x -f <(jq -r .id "$BATS_TEST_TMPDIR/some.jsonl"))
    # another seed gives another split
    "$BIN/split" --quiet --ratios 0.7,0.3 --names a,b --seed 10 --prefix "$BATS_TEST_TMPDIR/o-" < "$BATS_FILE_TMPDIR/all.jsonl"
    ! cmp -s "$BATS_TEST_TMPDIR/o-b.jsonl" "$BATS_TEST_TMPDIR/all-b.jsonl"
}

@test "--stratify balances the labels across parts" {
    "$BIN/split" --quiet --stratify --ratios 0.5,0.5 --names a,b --prefix "$BATS_TEST_TMPDIR/" < "$BATS_FILE_TMPDIR/all.jsonl"
    # each label group is halved by rank: the halves differ by at most one record per group
    n=$(wc -l < "$BATS_TEST_TMPDIR/a.jsonl")
    [ "$n" -ge 290 ] && [ "$n" -le 310 ]
    # per label, the two halves hold nearly the same number of images with that label
    run bash -c "for p in a b; do jq -r '[.truth[].label] | unique[]' '$BATS_TEST_TMPDIR/'\$p.jsonl | sort | uniq -c | awk '{print \$2, \$1}' > '$BATS_TEST_TMPDIR/'\$p.count; done
                 join '$BATS_TEST_TMPDIR/a.count' '$BATS_TEST_TMPDIR/b.count' | awk '{d = \$2 - \$3; if (d < 0) d = -d; if (d > m) m = d} END {print m}'"
    echo "largest per-label difference: $output"
    [ "$output" -le 2 ]
}

@test "--folds writes K disjoint folds covering the input" {
    "$BIN/split" --quiet --folds 4 --prefix "$BATS_TEST_TMPDIR/f/" < "$BATS_FILE_TMPDIR/all.jsonl"
    [ "$(ls "$BATS_TEST_TMPDIR/f" | tr '\n' ' ')" = "fold0.jsonl fold1.jsonl fold2.jsonl fold3.jsonl " ]
    cmp <(cat "$BATS_TEST_TMPDIR"/f/*.jsonl | sort) <(sort "$BATS_FILE_TMPDIR/all.jsonl")
    for f in "$BATS_TEST_TMPDIR"/f/*.jsonl; do n=$(wc -l < "$f"); [ "$n" -gt 110 ] && [ "$n" -lt 190 ]; done
}

@test "--annotator keeps one annotator's view" {
    run bash -c "'$BIN/split' --quiet --annotator R2 < '$BATS_FILE_TMPDIR/all.jsonl'"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | wc -l)" -eq 600 ]
    [ "$(echo "$output" | jq -c '.annotators' | sort -u)" = '["R2"]' ]
    [ "$(echo "$output" | jq -c '[.annotations[].annotator] | unique | select(length > 0)' | sort -u)" = '["R2"]' ]
    [ "$(echo "$output" | jq -s '[.[].annotations | length] | add')" -eq "$(jq -s '[.[].annotations[] | select(.annotator == "R2")] | length' "$BATS_FILE_TMPDIR/all.jsonl")" ]
    # records R2 did not read are left out
    rec='{"id":"z","width":10,"height":10,"annotators":["R1"],"annotations":[]}'
    run bash -c "echo '$rec' | '$BIN/split' --annotator R2"
    [ "$status" -eq 0 ]
    [[ "$output" == *"0 records in R2's view, 1 not read by R2" ]]
}

@test "ratios that do not sum to 1 and other bad options are usage errors" {
    for args in "--ratios 0.8,0.1 --prefix x/" "--ratios 0.5,0.6 --prefix x/" "--ratios 0.5,0.5 --prefix x/" \
                "--ratios 1,0 --names a --prefix x/" "--ratios 0.5,0.5 --names a,a --prefix x/" "--ratios 1" \
                "--folds 1 --prefix x/" "--folds 3 --ratios 1 --prefix x/" "" "--ratios x --prefix x/"; do
        run bash -c "echo '{\"id\":\"a\"}' | '$BIN/split' $args"
        echo "$args -> $status $output"
        [ "$status" -eq 2 ]
    done
    run bash -c "echo '{\"id\":\"a\"}' | '$BIN/split' --ratios 0.8,0.1 --prefix x/"
    [[ "$output" == "split: --ratios must sum to 1, they sum to 0.9"* ]]
}

@test "bad records stop the split before any part is written" {
    printf '%s\n' '{"id":"a"}' '{"id":"b"}' '{"id":"a"}' > "$BATS_TEST_TMPDIR/dup.jsonl"
    run bash -c "'$BIN/split' --ratios 0.5,0.5 --names x,y --prefix '$BATS_TEST_TMPDIR/d/' < '$BATS_TEST_TMPDIR/dup.jsonl'"
    [ "$status" -eq 1 ]
    [ "$output" = 'split: line 3: duplicate id "a" (first on line 1)' ]
    [ ! -e "$BATS_TEST_TMPDIR/d" ]
    printf '%s\n' '{"id":"a"}' '{"id":' > "$BATS_TEST_TMPDIR/bad.jsonl"
    run bash -c "'$BIN/split' --ratios 0.5,0.5 --names x,y --prefix '$BATS_TEST_TMPDIR/d/' < '$BATS_TEST_TMPDIR/bad.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == 'split: line 2: malformed JSON'* ]]
    run bash -c "'$BIN/split' --ratios 0.5,0.5 --names x,y --prefix '$BATS_TEST_TMPDIR/d/' < /dev/null"
    [ "$status" -eq 1 ]
    [ "$output" = "split: no records on stdin" ]
    run bash -c "echo '{\"width\":3}' | '$BIN/split' --ratios 1 --names x --prefix '$BATS_TEST_TMPDIR/d/'"
    [ "$output" = 'split: line 1: missing "id"' ]
    [ ! -e "$BATS_TEST_TMPDIR/d" ]
}

@test "an unwritable prefix is a data error with nothing left behind" {
    touch "$BATS_TEST_TMPDIR/file"
    run bash -c "echo '{\"id\":\"a\"}' | '$BIN/split' --ratios 1 --names x --prefix '$BATS_TEST_TMPDIR/file/'"
    [ "$status" -eq 1 ]
    [ "$output" = "split: $BATS_TEST_TMPDIR/file/ is not a folder" ]
    assert_no_temp_files "$BATS_TEST_TMPDIR"
}

# Parts of a run, by content: old (seed 0) or new (seed 9).
split_parts() { "$BIN/split" --quiet --seed "$1" --ratios 0.5,0.25,0.25 --prefix "$2" < "$BATS_FILE_TMPDIR/all.jsonl"; }

@test "parts replace the old ones as a set: a kill or a failed rename never leaves parts of two runs" {
    command -v strace > /dev/null || skip "strace is not installed"
    d="$BATS_TEST_TMPDIR"
    split_parts 0 "$d/old/" && split_parts 9 "$d/new/"
    ! cmp -s "$d/old/train.jsonl" "$d/new/train.jsonl"
    # killed at its second rename, and (in a second run) failing there
    for fault in signal=KILL error=EIO; do
        rm -rf "$d/p" && split_parts 0 "$d/p/"
        run strace -f -o /dev/null -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:$fault:when=2 \
            "$BIN/split" --quiet --seed 9 --ratios 0.5,0.25,0.25 --prefix "$d/p/" < "$BATS_FILE_TMPDIR/all.jsonl"
        echo "$fault: $status $output"
        [ "$status" -ne 0 ]
        for part in train val test; do
            if [ -e "$d/p/$part.jsonl" ]; then cmp "$d/p/$part.jsonl" "$d/new/$part.jsonl"; fi
        done
        ls "$d/p"
    done
    # the failed rename removed what it had renamed, and its temporaries
    [ -z "$(ls -A "$d/p")" ]
    [[ "$output" == *"cannot rename into $d/p/val.jsonl: Input/output error"* ]]
    # after the kill, the next run clears the temporaries it left and writes a whole set
    rm -rf "$d/p" && split_parts 0 "$d/p/"
    strace -f -o /dev/null -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:signal=KILL:when=2 \
        "$BIN/split" --quiet --seed 9 --ratios 0.5,0.25,0.25 --prefix "$d/p/" < "$BATS_FILE_TMPDIR/all.jsonl" || true
    [ -n "$(find "$d/p" -name '*.tmp.*')" ] && [ -e "$d/p/train.jsonl" ] && [ ! -e "$d/p/val.jsonl" ]
    split_parts 9 "$d/p/"
    assert_no_temp_files "$d/p"
    for part in train val test; do cmp "$d/p/$part.jsonl" "$d/new/$part.jsonl"; done
}

@test "a part that is not a regular file stops split before any old part is touched" {
    d="$BATS_TEST_TMPDIR"
    split_parts 0 "$d/p/"
    cp -r "$d/p" "$d/before"
    rm "$d/p/test.jsonl" && mkdir "$d/p/test.jsonl"
    run split_parts 9 "$d/p/"
    [ "$status" -eq 1 ]
    [ "$output" = "split: cannot replace $d/p/test.jsonl: not a regular file" ]
    cmp "$d/p/train.jsonl" "$d/before/train.jsonl" && cmp "$d/p/val.jsonl" "$d/before/val.jsonl"
    assert_no_temp_files "$d/p"
}
