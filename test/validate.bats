#!/usr/bin/env bats
# validate: the record format's checks, one case per kind of bad input.

load helpers/common

GOOD='{"id":"a","image":"a.jpg","width":100,"height":50,"annotators":["R1","R2"],"annotations":[{"annotator":"R1","label":"7","box":[1,2,30,40]}],"truth":[{"label":"7","box":[1,2,30,40]}]}'

# Runs validate on the given lines (one argument per line), capturing stderr only.
validate_lines() {
    local opts=("${VALIDATE_OPTS[@]}")
    printf '%s\n' "$@" > "$BATS_TEST_TMPDIR/in.jsonl"
    run bash -c "'$BIN/validate' ${opts[*]} < '$BATS_TEST_TMPDIR/in.jsonl' 2>&1 >'$BATS_TEST_TMPDIR/out.jsonl'"
}

# Expects exit 1 and exactly one message naming the line.
expect_bad() {
    local message="$1"; shift
    validate_lines "$@"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == "validate: $message"* ]]
}

setup() { VALIDATE_OPTS=(--quiet); }

@test "validate --help prints usage" {
    run "$BIN/validate" --help
    [ "$status" -eq 0 ]
    [[ "$output" == Usage:* ]]
}

@test "valid records pass through byte for byte" {
    printf '%s\n' "$GOOD" '{"id":"b","extra":[1.50,"x"]}' '' '{"id":"c","width":10,"height":10,"detections":[{"label":"x","box":[0,0,10,10],"score":0.25}]}' > "$BATS_TEST_TMPDIR/in.jsonl"
    run bash -c "'$BIN/validate' < '$BATS_TEST_TMPDIR/in.jsonl' 2>'$BATS_TEST_TMPDIR/err'"
    [ "$status" -eq 0 ]
    [ "$output" = "$(grep -v '^$' "$BATS_TEST_TMPDIR/in.jsonl")" ]
    [ "$(cat "$BATS_TEST_TMPDIR/err")" = "validate: 3 valid records (1 annotations, 1 truth boxes, 1 detections), 0 bad" ]
}

@test "simulate's records are valid, images included" {
    "$BIN/simulate" --quiet --n 20 --fp-rate 1 --out "$BATS_TEST_TMPDIR/s" > "$BATS_TEST_TMPDIR/s.jsonl"
    run bash -c "'$BIN/validate' --quiet --images --require id,image,size,annotators,annotations,truth < '$BATS_TEST_TMPDIR/s.jsonl' | cmp - '$BATS_TEST_TMPDIR/s.jsonl'"
    [ "$status" -eq 0 ]
}

@test "malformed JSON" {
    expect_bad 'line 2: malformed JSON' "$GOOD" '{"id":"b",}'
}

@test "a line that is not an object" {
    expect_bad 'line 1: a record must be a JSON object' '["a"]'
}

@test "a missing field" {
    expect_bad 'line 1: missing "id"' '{"image":"x.jpg"}'
    expect_bad 'line 1: annotations[0]: missing "box"' \
        '{"id":"a","width":10,"height":10,"annotators":["R1"],"annotations":[{"annotator":"R1","label":"1"}]}'
    expect_bad 'line 1: missing "width"' '{"id":"a","truth":[]}'
}

@test "a required field that is absent" {
    VALIDATE_OPTS=(--quiet --require truth)
    expect_bad 'line 1: missing "truth"' '{"id":"a","width":10,"height":10}'
}

@test "NaN, infinities and non-numbers in a box" {
    expect_bad 'line 1: malformed JSON' '{"id":"a","width":10,"height":10,"truth":[{"label":"1","box":[NaN,1,2,3]}]}'
    expect_bad 'line 1: malformed JSON' '{"id":"a","width":10,"height":10,"truth":[{"label":"1","box":[1e999,1,2,3]}]}'
    expect_bad 'line 1: truth[0]: "box" must be 4 finite numbers' '{"id":"a","width":10,"height":10,"truth":[{"label":"1","box":["1",1,2,3]}]}'
    expect_bad 'line 1: truth[0]: "box" must be 4 finite numbers' '{"id":"a","width":10,"height":10,"truth":[{"label":"1","box":[1,2,3]}]}'
}

@test "an inverted box" {
    expect_bad 'line 1: annotations[0]: "box" [30,2,1,40] is inverted or empty' \
        '{"id":"a","width":100,"height":50,"annotators":["R1"],"annotations":[{"annotator":"R1","label":"7","box":[30,2,1,40]}]}'
}

@test "an out-of-frame box" {
    expect_bad 'line 1: truth[0]: "box" [1,2,30,51] is outside the 100x50 frame' \
        '{"id":"a","width":100,"height":50,"truth":[{"label":"7","box":[1,2,30,51]}]}'
}

@test "--lenient accepts inverted and out-of-frame boxes but not NaN" {
    VALIDATE_OPTS=(--quiet --lenient)
    validate_lines '{"id":"a","width":100,"height":50,"truth":[{"label":"7","box":[30,2,-1,90]}]}'
    [ "$status" -eq 0 ]
    expect_bad 'line 1: truth[0]: "box" must be 4 finite numbers' '{"id":"a","width":100,"height":50,"truth":[{"label":"7","box":[30,2,null,90]}]}'
}

@test "an unknown annotator, and a repeated one" {
    expect_bad 'line 1: annotations[0]: annotator "R9" is not in "annotators"' \
        '{"id":"a","width":100,"height":50,"annotators":["R1"],"annotations":[{"annotator":"R9","label":"7","box":[1,2,3,4]}]}'
    expect_bad 'line 1: annotator "R1" is listed twice' '{"id":"a","annotators":["R1","R1"]}'
}

@test "scores outside [0,1], and detections without a score" {
    expect_bad 'line 1: detections[0]: "score" must be a number in [0,1]' \
        '{"id":"a","width":10,"height":10,"detections":[{"label":"1","box":[1,2,3,4],"score":-0.1}]}'
    expect_bad 'line 1: detections[0]: missing "score"' \
        '{"id":"a","width":10,"height":10,"detections":[{"label":"1","box":[1,2,3,4]}]}'
}

@test "duplicate ids" {
    expect_bad 'line 3: duplicate id "a" (first on line 1)' "$GOOD" '{"id":"b"}' "$GOOD"
}

@test "a missing image" {
    VALIDATE_OPTS=(--quiet --images --root "$BATS_TEST_TMPDIR")
    expect_bad "line 1: image: cannot open $BATS_TEST_TMPDIR/a.jpg: No such file or directory" "$GOOD"
}

@test "a corrupt image, and a truncated one" {
    VALIDATE_OPTS=(--quiet --images --root "$BATS_TEST_TMPDIR")
    echo "not an image" > "$BATS_TEST_TMPDIR/a.jpg"
    expect_bad "line 1: image: $BATS_TEST_TMPDIR/a.jpg: not a JPEG or PNG image" "$GOOD"
    "$BIN/simulate" --quiet --n 1 --count 3:3 --out "$BATS_TEST_TMPDIR/s" > /dev/null
    head -c 600 "$BATS_TEST_TMPDIR/s/med-000000.jpg" > "$BATS_TEST_TMPDIR/a.jpg"
    expect_bad "line 1: image: $BATS_TEST_TMPDIR/a.jpg: corrupt JPEG" "$GOOD"
}

@test "empty input is an error" {
    run bash -c "'$BIN/validate' < /dev/null"
    [ "$status" -eq 1 ]
    [ "$output" = "validate: no records on stdin" ]
    run bash -c "printf '\n\n' | '$BIN/validate'"
    [ "$status" -eq 1 ]
}

@test "strict mode stops at the first bad record" {
    validate_lines "$GOOD" '{"id":7}' '{"id":"z"}'
    [ "$status" -eq 1 ]
    [ "$(wc -l < "$BATS_TEST_TMPDIR/out.jsonl")" -eq 1 ]
}

@test "--keep-going reports every bad record, keeps the good ones, exits 1" {
    VALIDATE_OPTS=(--keep-going)
    validate_lines '{"id":7}' "$GOOD" '{' '{"id":"z"}'
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"validate: line 1: \"id\" must be a non-empty string"* ]]
    [[ "$output" == *"validate: line 3: malformed JSON"* ]]
    [[ "$output" == *"validate: 2 valid records (1 annotations, 1 truth boxes, 0 detections), 2 bad"* ]]
    [ "$(jq -r .id "$BATS_TEST_TMPDIR/out.jsonl" | tr '\n' ' ')" = "a z " ]
}

@test "usage errors exit 2" {
    run "$BIN/validate" --require nonsense
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown field 'nonsense'"* ]]
    run "$BIN/validate" file.jsonl
    [ "$status" -eq 2 ]
}
