#!/usr/bin/env bats
# fuse: annotator mode, ensemble mode, majority vote, report, and bad input.

load helpers/common

setup_file() {
    load helpers/common
    "$BIN/simulate" --quiet --n 200 --seed 3 --fp-rate 0.3 --out "$BATS_FILE_TMPDIR/img" > "$BATS_FILE_TMPDIR/sim.jsonl"
}

# Three annotators: two agree on a "7", the third saw a "1" elsewhere; R4 read it and drew nothing.
REC='{"id":"a","image":"a.jpg","width":100,"height":100,"annotators":["R1","R2","R3","R4"],"annotations":[{"annotator":"R1","label":"7","box":[10,10,30,30]},{"annotator":"R2","label":"7","box":[12,10,32,30]},{"annotator":"R3","label":"1","box":[60,60,70,80]}],"note":{"keep":[1.50,"x"]}}'

@test "fuse --help prints usage" {
    run "$BIN/fuse" --help
    [ "$status" -eq 0 ]
    [[ "$output" == Usage:* ]]
}

@test "objects: agreement share, votes, annotators, weighted mean box" {
    run bash -c "echo '$REC' | '$BIN/fuse' --quiet"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -c '[.objects[] | [.label, .conf, .votes, .annotators, (.box | map(. * 1000 | round / 1000))]]')" = '[["7",0.5,2,["R1","R2"],[11,10,31,30]],["1",0.25,1,["R3"],[60,60,70,80]]]' ]
    # the fused box carries the reference's float32 arithmetic; a lone box stays exact
    [[ "$output" == *'"objects":[{"label":"7","box":[10.9999999403954,10.0000001490116,31.0000002384186,30.0000011920929],"conf":0.5,"votes":2,"annotators":["R1","R2"]},{"label":"1","box":[60.0,60.0,70.0,80.0],"conf":0.25,"votes":1,"annotators":["R3"]}]}' ]]
}

@test "every other byte of the record passes through untouched" {
    run bash -c "echo '$REC' | '$BIN/fuse' --quiet"
    [[ "$output" == "${REC%\}},\"objects\":["*"]}" ]]
    [[ "$output" == *'"note":{"keep":[1.50,"x"]},"objects":'* ]]
    # simulate's records: the fused file minus "objects" is the input
    "$BIN/fuse" --quiet < "$BATS_FILE_TMPDIR/sim.jsonl" > "$BATS_TEST_TMPDIR/f.jsonl"
    cmp <(jq -c 'del(.objects)' "$BATS_TEST_TMPDIR/f.jsonl") <(jq -c . "$BATS_FILE_TMPDIR/sim.jsonl")
}

@test "the fast reader and the jansson reader give the same bytes" {
    "$BIN/fuse" --quiet < "$BATS_FILE_TMPDIR/sim.jsonl" > "$BATS_TEST_TMPDIR/fast.jsonl"
    FUSE_FORCE_JANSSON=1 "$BIN/fuse" --quiet < "$BATS_FILE_TMPDIR/sim.jsonl" > "$BATS_TEST_TMPDIR/slow.jsonl"
    cmp "$BATS_TEST_TMPDIR/fast.jsonl" "$BATS_TEST_TMPDIR/slow.jsonl"
    # an integer -0 is 0 on both paths; a real -0.0 keeps its sign on both
    z='{"id":"z","width":100,"height":100,"annotators":["A"],"annotations":[{"annotator":"A","label":"x","box":[-0,-0.0,10,10],"score":-0}]}'
    for m in wbf mv em; do
        [ "$m" = em ] && z="${z/\"annotators\":[\"A\"]/\"annotators\":[\"A\",\"B\"]}"
        cmp <(echo "$z" | "$BIN/fuse" --quiet --method $m) <(echo "$z" | FUSE_FORCE_JANSSON=1 "$BIN/fuse" --quiet --method $m)
    done
    [ "$(echo "$z" | "$BIN/fuse" --quiet | jq -c '.objects[0] | [.box[0:2], .conf]')" = '[[0,-0],0]' ]
    [[ "$(echo "$z" | "$BIN/fuse" --quiet)" == *'"box":[0.0,-0.0,10.0,10.0],"conf":0.0,'* ]]
    # and a line the fast reader refuses (escapes, UTF-8) is fused all the same
    line='{"id":"é","width":10,"height":10,"annotators":["R\u0031","R2"],"annotations":[{"annotator":"R1","label":"café","box":[1,1,5,5]},{"annotator":"R2","label":"café","box":[1,1,5,5]}]}'
    run bash -c "echo '$line' | '$BIN/fuse' --quiet"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -c '.objects[0] | [.label, .conf, .votes, .annotators]')" = '["café",1,2,["R1","R2"]]' ]
    [[ "$output" == '{"id":"é",'* ]]
}

@test "simulated records: conf is a share of 3 annotators, votes at most 3, each box in one object" {
    "$BIN/fuse" --quiet < "$BATS_FILE_TMPDIR/sim.jsonl" > "$BATS_TEST_TMPDIR/f.jsonl"
    run jq -s '[.[].objects[] | select((.conf * 3 | round) != .votes or .votes > 3 or .votes < 1)] | length' "$BATS_TEST_TMPDIR/f.jsonl"
    [ "$output" -eq 0 ]
    # votes add up to the number of annotation boxes (no same-annotator duplicates in simulate)
    [ "$(jq -s '[.[].objects[].votes] | add' "$BATS_TEST_TMPDIR/f.jsonl")" -eq "$(jq -s '[.[].annotations | length] | add' "$BATS_TEST_TMPDIR/f.jsonl")" ]
}

@test "17 tied boxes of one label fall in the reference's order (numpy's argsort)" {
    # ensemble-boxes 1.0.9 on numpy 1.24 gives 3 clusters here; a stable order would give 4
    rec='{"id":"x","width":100,"height":100,"annotators":["R1","R2","R3"],"annotations":[{"annotator":"R1","label":"car","box":[0,10,14,40]},{"annotator":"R2","label":"car","box":[16,10,24,40]},{"annotator":"R3","label":"car","box":[1,10,9,40]},{"annotator":"R1","label":"car","box":[6,10,15,40]},{"annotator":"R2","label":"car","box":[19,10,27,40]},{"annotator":"R3","label":"car","box":[14,10,24,40]},{"annotator":"R1","label":"car","box":[14,10,26,40]},{"annotator":"R2","label":"car","box":[6,10,18,40]},{"annotator":"R3","label":"car","box":[7,10,20,40]},{"annotator":"R1","label":"car","box":[9,10,20,40]},{"annotator":"R2","label":"car","box":[0,10,13,40]},{"annotator":"R3","label":"car","box":[2,10,13,40]},{"annotator":"R1","label":"car","box":[20,10,30,40]},{"annotator":"R2","label":"car","box":[13,10,25,40]},{"annotator":"R3","label":"car","box":[2,10,15,40]},{"annotator":"R1","label":"car","box":[8,10,18,40]},{"annotator":"R2","label":"car","box":[7,10,19,40]}]}'
    run bash -c "echo '$rec' | '$BIN/fuse' --quiet"
    [ "$(echo "$output" | jq -c '[.objects[] | [.conf, (.box | map(. * 1e4 | round / 1e4))]]')" = '[[1,[7.4,10,19,40]],[1,[16,10,26,40]],[1,[1.8333,10,13.1667,40]]]' ]
}

@test "records with no annotators or no annotations give no objects" {
    printf '%s\n' '{"id":"n","width":10,"height":10,"annotators":[],"annotations":[]}' \
        '{"id":"m","width":10,"height":10,"annotators":["R1","R2"],"annotations":[]}' > "$BATS_TEST_TMPDIR/e.jsonl"
    run bash -c "'$BIN/fuse' --quiet < '$BATS_TEST_TMPDIR/e.jsonl'"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -c .objects | tr '\n' ' ')" = "[] [] " ]
}

@test "fusing twice replaces the objects in place" {
    "$BIN/fuse" --quiet < "$BATS_FILE_TMPDIR/sim.jsonl" > "$BATS_TEST_TMPDIR/once.jsonl"
    "$BIN/fuse" --quiet < "$BATS_TEST_TMPDIR/once.jsonl" > "$BATS_TEST_TMPDIR/twice.jsonl"
    cmp "$BATS_TEST_TMPDIR/once.jsonl" "$BATS_TEST_TMPDIR/twice.jsonl"
}

@test "--weights gives proficiency weights; every annotator needs one" {
    run bash -c "echo '$REC' | '$BIN/fuse' --quiet --weights R1=2,R2=1,R3=1,R4=1"
    [ "$status" -eq 0 ]
    # avg: mean(s*w) * min(M, n) / sum(w) = 1.5 * 2 / 5
    [ "$(echo "$output" | jq '.objects[0].conf')" = "0.6" ]
    run bash -c "echo '$REC' | '$BIN/fuse' --quiet --weights R1=2,R2=1,R3=1"
    [ "$status" -eq 1 ]
    [[ "$output" == 'fuse: line 1: annotator "R4" has no weight in --weights' ]]
}

@test "--conf-type max and box_and_model_avg" {
    run bash -c "echo '$REC' | '$BIN/fuse' --quiet --conf-type max --weights R1=2,R2=1,R3=1,R4=1"
    [ "$(echo "$output" | jq -c '[.objects[].conf]')" = "[1,0.5]" ]
    run bash -c "echo '$REC' | '$BIN/fuse' --quiet --conf-type box_and_model_avg"
    [ "$(echo "$output" | jq -c '[.objects[].conf]')" = "[0.5,0.25]" ]
}

@test "--one-per-annotator keeps one annotator's two boxes apart" {
    dup='{"id":"d","width":100,"height":100,"annotators":["R1","R2"],"annotations":[{"annotator":"R1","label":"7","box":[10,10,30,30]},{"annotator":"R1","label":"7","box":[11,11,31,31]}]}'
    run bash -c "echo '$dup' | '$BIN/fuse' --quiet"
    [ "$(echo "$output" | jq -c '[.objects[] | [.conf, .votes]]')" = "[[1,1]]" ]
    run bash -c "echo '$dup' | '$BIN/fuse' --quiet --one-per-annotator"
    [ "$(echo "$output" | jq -c '[.objects[] | [.conf, .votes]]')" = "[[0.5,1],[0.5,1]]" ]
}

@test "--method mv keeps clusters of more than half of the annotators" {
    run bash -c "echo '$REC' | '$BIN/fuse' --quiet --method mv"
    [ "$(echo "$output" | jq -c '.objects')" = '[]' ]
    three='{"id":"m","width":100,"height":100,"annotators":["R1","R2","R3"],"annotations":[{"annotator":"R1","label":"7","box":[10,10,30,30]},{"annotator":"R2","label":"7","box":[12,10,32,30]},{"annotator":"R3","label":"1","box":[60,60,70,80]}]}'
    run bash -c "echo '$three' | '$BIN/fuse' --quiet --method mv"
    [ "$(echo "$output" | jq -c '.objects | map([.label, .box, .votes])')" = '[["7",[11,10,31,30],2]]' ]
}

@test "--report writes per-annotator agreement statistics" {
    "$BIN/fuse" --quiet --report "$BATS_TEST_TMPDIR/r.json" < "$BATS_FILE_TMPDIR/sim.jsonl" > /dev/null
    run jq -c '.annotators | keys' "$BATS_TEST_TMPDIR/r.json"
    [ "$output" = '["R1","R2","R3"]' ]
    run jq -c '[.annotators[] | (.agreed_share >= 0 and .agreed_share <= 1 and .mean_iou > 0.8 and .label_agreement > 0.3 and .records == 200)] | unique' "$BATS_TEST_TMPDIR/r.json"
    [ "$output" = "[true]" ]
    [ "$(jq '.annotators.R1.boxes' "$BATS_TEST_TMPDIR/r.json")" -eq "$(jq -s '[.[].annotations[] | select(.annotator == "R1")] | length' "$BATS_FILE_TMPDIR/sim.jsonl")" ]
}

@test "inverted and out-of-frame boxes are repaired and counted" {
    bad='{"id":"b","width":100,"height":100,"annotators":["R1","R2"],"annotations":[{"annotator":"R1","label":"7","box":[30,30,10,10]},{"annotator":"R2","label":"7","box":[-5,10,30,130]},{"annotator":"R2","label":"3","box":[100,10,120,30]}]}'
    run bash -c "echo '$bad' | '$BIN/fuse' 2>&1 >/dev/null"
    [ "$status" -eq 0 ]
    [[ "$output" == *"repaired 1 inverted, 2 out of frame; dropped 1 zero-area"* ]]
    run bash -c "echo '$bad' | '$BIN/fuse' --quiet"
    [ "$(echo "$output" | jq -c '[.objects[].box | map(. >= 0 and . <= 100) | all] | unique')" = "[true]" ]
}

@test "ensemble mode fuses the files' detections by id" {
    a="$BATS_TEST_TMPDIR/a.jsonl"; b="$BATS_TEST_TMPDIR/b.jsonl"
    echo '{"id":"x","width":100,"height":100,"extra":1,"detections":[{"label":"7","box":[10,10,30,30],"score":0.9}]}' > "$a"
    echo '{"id":"y","width":100,"height":100,"detections":[]}' >> "$a"
    echo '{"id":"y","width":100,"height":100,"detections":[{"label":"2","box":[0,0,10,10],"score":0.5}]}' > "$b"
    echo '{"id":"x","width":100,"height":100,"detections":[{"label":"7","box":[12,10,32,30],"score":0.3}]}' >> "$b"
    run "$BIN/fuse" --quiet --ensemble "$a" "$b"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .id | tr '\n' ' ')" = "x y " ]
    [ "$(echo "$output" | head -n1 | jq -c '[.extra, (.detections | map([.label, (.score * 1e6 | round / 1e6), (.box | map(. * 1000 | round / 1000))]))]')" = '[1,[["7",0.6,[10.5,10,30.5,30]]]]' ]
    # the fused score keeps the reference's float32 rounding of the mean
    [ "$(echo "$output" | head -n1 | jq '.detections[0].score')" = "0.600000023841858" ]
    [ "$(echo "$output" | tail -n1 | jq -c '.detections | map([.label, .score])')" = '[["2",0.25]]' ]
    run "$BIN/fuse" --quiet --ensemble --weights 3,1 "$a" "$b"
    [ "$(echo "$output" | head -n1 | jq '.detections[0].score')" = "0.75" ]
}

@test "ensemble mode: mismatched ids are errors unless --allow-missing" {
    a="$BATS_TEST_TMPDIR/a.jsonl"; b="$BATS_TEST_TMPDIR/b.jsonl"
    echo '{"id":"x","width":100,"height":100,"detections":[]}' > "$a"
    echo '{"id":"z","width":100,"height":100,"detections":[]}' > "$b"
    run "$BIN/fuse" --quiet --ensemble "$a" "$b"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$b: no record with id \"x\" (line 1 of $a)"* ]]
    run "$BIN/fuse" --quiet --ensemble --allow-missing "$a" "$b"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -r .id)" = "x" ]
    echo '{"id":"x","width":200,"height":100,"detections":[]}' > "$b"
    run "$BIN/fuse" --quiet --ensemble "$a" "$b"
    [ "$status" -eq 1 ]
    [[ "$output" == *"frame 200x100 of id \"x\" differs from 100x100"* ]]
    run "$BIN/fuse" --quiet --ensemble --weights 1,2,3 "$a" "$b"
    [ "$status" -eq 2 ]
}

# ---- bad input ----------------------------------------------------------------

fuse_err() {   # input line(s), options...; runs fuse, capturing stderr only
    local input="$1"; shift
    printf '%s\n' "$input" > "$BATS_TEST_TMPDIR/in.jsonl"
    run bash -c "'$BIN/fuse' --quiet $* < '$BATS_TEST_TMPDIR/in.jsonl' 2>&1 >'$BATS_TEST_TMPDIR/out.jsonl'"
}

@test "malformed JSON, with its line number" {
    fuse_err "$(printf '%s\n%s' "$REC" '{"id":"b",')"
    [ "$status" -eq 1 ]
    [[ "$output" == "fuse: line 2: malformed JSON"* ]]
    [ "$(wc -l < "$BATS_TEST_TMPDIR/out.jsonl")" -eq 1 ]
}

@test "an annotation from a source not in annotators" {
    fuse_err '{"id":"a","width":10,"height":10,"annotators":["R1"],"annotations":[{"annotator":"R2","label":"1","box":[1,1,2,2]}]}'
    [ "$status" -eq 1 ]
    [ "$output" = 'fuse: line 1: annotations[0]: annotator "R2" is not in "annotators"' ]
}

@test "missing fields, NaN and non-numbers" {
    fuse_err '{"id":"a","width":10,"height":10,"annotations":[]}'
    [ "$output" = 'fuse: line 1: missing "annotators"' ]
    fuse_err '{"id":"a","width":10,"height":10,"annotators":["R1"],"annotations":[{"annotator":"R1","label":"1","box":[NaN,1,2,2]}]}'
    [ "$status" -eq 1 ]
    [[ "$output" == "fuse: line 1: malformed JSON"* ]]
    fuse_err '{"id":"a","width":10,"height":10,"annotators":["R1"],"annotations":[{"annotator":"R1","label":"1","box":[1,1,"2",2]}]}'
    [ "$output" = 'fuse: line 1: annotations[0]: "box" must be 4 finite numbers' ]
    fuse_err '{"id":"a","width":0,"height":10,"annotators":[],"annotations":[]}'
    [ "$output" = 'fuse: line 1: "width" must be a positive integer' ]
}

@test "empty input is an error" {
    run bash -c "'$BIN/fuse' < /dev/null"
    [ "$status" -eq 1 ]
    [ "$output" = "fuse: no records on stdin" ]
}

@test "--keep-going reports every bad record and keeps the good ones" {
    other="$(echo "$REC" | jq -c '.id = "other"')"
    printf '%s\n' '{' "$REC" '{"id":"q"}' "$other" "$REC" > "$BATS_TEST_TMPDIR/in.jsonl"
    run bash -c "'$BIN/fuse' --keep-going < '$BATS_TEST_TMPDIR/in.jsonl' 2>&1 >'$BATS_TEST_TMPDIR/out.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == *"fuse: line 1: malformed JSON"* ]]
    [[ "$output" == *"fuse: line 3: missing \"width\""* ]]
    [[ "$output" == *"fuse: line 5: duplicate id "*" (first on line 2)"* ]]
    [ "$(wc -l < "$BATS_TEST_TMPDIR/out.jsonl")" -eq 2 ]
    [ "$(jq -r .id "$BATS_TEST_TMPDIR/out.jsonl" | tr '\n' ' ')" = "$(echo "$REC" | jq -r .id) other " ]
}

@test "bad options are usage errors" {
    for args in "--iou-thr 0" "--iou-thr 1" "--iou-thr 1.5" "--iou-thr x" "--weights R1=0" "--weights R1=-1" \
                "--weights R1=x" "--weights 1,2" "--conf-type median" "--method vote" "--allow-missing" "extra.jsonl" \
                "--ensemble only-one.jsonl"; do
        run bash -c "echo '$REC' | '$BIN/fuse' $args"
        echo "$args -> $status $output"
        [ "$status" -eq 2 ]
        [[ "$output" == fuse:* ]]
    done
}

@test "an unwritable --report is an error and nothing is half-written" {
    run bash -c "echo '$REC' | '$BIN/fuse' --quiet --report '$BATS_TEST_TMPDIR/no/such/r.json' > /dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" == *"cannot write $BATS_TEST_TMPDIR/no/such/r.json"* ]]
    assert_no_temp_files "$BATS_TEST_TMPDIR"
}
