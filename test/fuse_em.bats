#!/usr/bin/env bats
# fuse --method em: Dawid-Skene truth inference over clusters located across labels.

load helpers/common

setup_file() {
    load helpers/common
    # the mixed regime of the study: five annotators of proficiency 0.9 down to 0.4
    "$BIN/simulate" --quiet --n 2000 --seed 5 --fp-rate 0.2 --experts 5 --proficiency 0.9,0.8,0.6,0.5,0.4 \
        --matrices "$BATS_FILE_TMPDIR/true.json" --out "$BATS_FILE_TMPDIR/img" > "$BATS_FILE_TMPDIR/mixed.jsonl"
}

# Four images read by A and B: the case test_truth_em computes by hand. Its labels are x
# and y; in the fourth image B drew nothing.
hand() {
    local f='"width":100,"height":100,"annotators":["A","B"]'
    printf '%s\n' \
        "{\"id\":\"0\",$f,\"annotations\":[{\"annotator\":\"A\",\"label\":\"x\",\"box\":[10,10,30,30]},{\"annotator\":\"B\",\"label\":\"x\",\"box\":[10,10,30,30]}]}" \
        "{\"id\":\"1\",$f,\"annotations\":[{\"annotator\":\"A\",\"label\":\"x\",\"box\":[10,10,30,30]},{\"annotator\":\"B\",\"label\":\"y\",\"box\":[11,10,31,30]}]}" \
        "{\"id\":\"2\",$f,\"annotations\":[{\"annotator\":\"A\",\"label\":\"y\",\"box\":[10,10,30,30]},{\"annotator\":\"B\",\"label\":\"y\",\"box\":[10,10,30,30]}]}" \
        "{\"id\":\"3\",$f,\"annotations\":[{\"annotator\":\"A\",\"label\":\"y\",\"box\":[10,10,30,30]}]}"
}

# Objects scored as detections of the truth (score = conf): mAP@0.4.
map40() { jq -c '.detections = [.objects[] | {label: .label, box: .box, score: .conf}]' "$1" | "$BIN/score" | jq .map40; }

@test "em: the two-annotator case computed by hand (one iteration, no smoothing)" {
    hand > "$BATS_TEST_TMPDIR/h.jsonl"
    run bash -c "'$BIN/fuse' --quiet --method em --smoothing 0 --max-iter 1 < '$BATS_TEST_TMPDIR/h.jsonl'"
    [ "$status" -eq 0 ]
    # label, P(x | real), P(y | real), exists, conf, each times 7 (the posteriors are sevenths)
    [ "$(echo "$output" | jq -c '.objects[] | [.label, ([.probs.x, .probs.y, .exists, .conf] | map(. * 7 * 1e9 | round / 1e9)), .votes, .annotators]' | tr '\n' ' ')" = \
      '["x",[7,0,7,7],2,["A","B"]] ["x",[4,3,7,4],2,["A","B"]] ["y",[0,7,7,7],2,["A","B"]] ["y",[0,7,3,3],1,["A"]] ' ]
    # A and B err alike on x (10 against 11, 30 against 31), so their spreads are equal and
    # the fused box is the plain mean
    [ "$(echo "$output" | sed -n 2p | jq -c '.objects[0].box | map(. * 1e9 | round / 1e9)')" = '[10.5,10,30.5,30]' ]
}

@test "em: one object per cluster across labels, probs sum to 1, conf = exists x probs[label]" {
    printf '%s\n' '{"id":"a","width":100,"height":100,"annotators":["R1","R2","R3"],"annotations":[{"annotator":"R1","label":"7","box":[10,10,30,30]},{"annotator":"R2","label":"1","box":[11,10,31,30]},{"annotator":"R3","label":"7","box":[10,11,30,31]}]}' \
        > "$BATS_TEST_TMPDIR/a.jsonl"
    run bash -c "'$BIN/fuse' --quiet --method em < '$BATS_TEST_TMPDIR/a.jsonl'"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -c '[.objects[] | [.label, .votes, .annotators]]')" = '[["7",3,["R1","R2","R3"]]]' ]
    "$BIN/fuse" --quiet --method em < "$BATS_FILE_TMPDIR/mixed.jsonl" > "$BATS_TEST_TMPDIR/em.jsonl"
    run jq -s '[.[].objects[] | select(
            ((.probs | add) - 1 | fabs) > 1e-9
            or ((.exists * .probs[.label]) - .conf | fabs) > 1e-9
            or (.probs[.label] < (.probs | [.[]] | max))
            or .exists < 0 or .exists > 1 or .votes != (.annotators | length))] | length' "$BATS_TEST_TMPDIR/em.jsonl"
    [ "$output" -eq 0 ]
    # every box is in one object: the votes add up to the boxes
    [ "$(jq -s '[.[].objects[].votes] | add' "$BATS_TEST_TMPDIR/em.jsonl")" -eq "$(jq -s '[.[].annotations | length] | add' "$BATS_TEST_TMPDIR/em.jsonl")" ]
    # and the records pass through: the fused file minus "objects" is the input
    cmp <(jq -c 'del(.objects)' "$BATS_TEST_TMPDIR/em.jsonl") <(jq -c . "$BATS_FILE_TMPDIR/mixed.jsonl")
}

@test "em: the matrices of 2000 simulated images are within 0.03 of the true ones, in simulate's schema" {
    run bash -c "'$BIN/fuse' --method em --matrices '$BATS_TEST_TMPDIR/est.json' < '$BATS_FILE_TMPDIR/mixed.jsonl' 2>&1 > /dev/null"
    [ "$status" -eq 0 ]
    # the summary names the iterations and the log-likelihood
    [[ "$output" =~ EM\ over\ [0-9]+\ clusters.*:\ [0-9]+\ iterations,\ log-likelihood\ -[0-9.]+ ]]
    est="$BATS_TEST_TMPDIR/est.json" true="$BATS_FILE_TMPDIR/true.json"
    # the same classes (no_obj last), names and shapes
    [ "$(jq -c '[.classes, [.experts[].name], .rows]' "$est")" = "$(jq -c '[.classes, [.experts[].name], .rows]' "$true")" ]
    [ "$(jq -c '[.experts[].matrix | [length, (map(length) | unique)]] | unique' "$est")" = '[[11,[11]]]' ]
    [ "$(jq '[.experts[].matrix[] | add - 1 | fabs] | max < 1e-12' "$est")" = true ]
    # the mean absolute error over every entry of the real-class rows
    mae=$(jq -n --slurpfile e "$est" --slurpfile t "$true" \
        '[range(0; 5) as $k | range(0; 10) as $i | range(0; 11) as $j
          | ($e[0].experts[$k].matrix[$i][$j] - $t[0].experts[$k].matrix[$i][$j]) | fabs] | add / length')
    echo "mean absolute error $mae"
    [ "$(jq -n "$mae < 0.03")" = true ]
}

@test "em: the targets beat WBF's in the mixed regime" {
    # measured with this seed: 0.995 against 0.979 (docs/experiments.md has the study)
    "$BIN/fuse" --quiet --method em < "$BATS_FILE_TMPDIR/mixed.jsonl" > "$BATS_TEST_TMPDIR/em.jsonl"
    "$BIN/fuse" --quiet < "$BATS_FILE_TMPDIR/mixed.jsonl" > "$BATS_TEST_TMPDIR/wbf.jsonl"
    em=$(map40 "$BATS_TEST_TMPDIR/em.jsonl") wbf=$(map40 "$BATS_TEST_TMPDIR/wbf.jsonl")
    echo "mAP@0.4: em $em, wbf $wbf"
    [ "$(jq -n "$em > $wbf + 0.01")" = true ]
}

@test "em: the order of the annotators and of their boxes changes nothing" {
    in="$BATS_FILE_TMPDIR/mixed.jsonl"
    "$BIN/fuse" --quiet --method em < "$in" > "$BATS_TEST_TMPDIR/a.jsonl"
    jq -c '.annotators |= reverse | .annotations |= reverse' "$in" | "$BIN/fuse" --quiet --method em > "$BATS_TEST_TMPDIR/b.jsonl"
    cmp <(jq -c .objects "$BATS_TEST_TMPDIR/a.jsonl") <(jq -c .objects "$BATS_TEST_TMPDIR/b.jsonl")
}

@test "em: renaming the annotators renames them in the result, and changes no number beyond 1e-9" {
    in="$BATS_FILE_TMPDIR/mixed.jsonl"
    swap='def s: if . == "R1" then "R5" elif . == "R5" then "R1" else . end;'
    "$BIN/fuse" --quiet --method em < "$in" > "$BATS_TEST_TMPDIR/a.jsonl"
    jq -c "$swap"' .annotators |= map(s) | .annotations |= map(.annotator |= s)' "$in" \
        | "$BIN/fuse" --quiet --method em | jq -c "$swap"' .objects |= map(.annotators |= (map(s) | sort))' \
        > "$BATS_TEST_TMPDIR/b.jsonl"
    run jq -n --slurpfile a "$BATS_TEST_TMPDIR/a.jsonl" --slurpfile b "$BATS_TEST_TMPDIR/b.jsonl" '
        [range(0; $a | length) as $i | range(0; $a[$i].objects | length) as $k
         | $a[$i].objects[$k] as $x | $b[$i].objects[$k] as $y
         | select($x.label != $y.label or $x.annotators != $y.annotators
                  or ([($x.box | to_entries[] | .value - $y.box[.key]), ($x.probs | to_entries[] | .value - $y.probs[.key]),
                       $x.exists - $y.exists, $x.conf - $y.conf] | map(fabs) | max) > 1e-9)] | length'
    [ "$output" -eq 0 ]
}

@test "em: 1 and 2 threads, and the fast and jansson readers, give the same bytes" {
    in="$BATS_FILE_TMPDIR/mixed.jsonl"
    OMP_NUM_THREADS=1 "$BIN/fuse" --quiet --method em < "$in" > "$BATS_TEST_TMPDIR/1.jsonl"
    OMP_NUM_THREADS=2 "$BIN/fuse" --quiet --method em < "$in" > "$BATS_TEST_TMPDIR/2.jsonl"
    cmp "$BATS_TEST_TMPDIR/1.jsonl" "$BATS_TEST_TMPDIR/2.jsonl"
    FUSE_FORCE_JANSSON=1 "$BIN/fuse" --quiet --method em < "$in" > "$BATS_TEST_TMPDIR/j.jsonl"
    cmp "$BATS_TEST_TMPDIR/1.jsonl" "$BATS_TEST_TMPDIR/j.jsonl"
    # fusing the fused records again replaces "objects" in place
    "$BIN/fuse" --quiet --method em < "$BATS_TEST_TMPDIR/1.jsonl" > "$BATS_TEST_TMPDIR/again.jsonl"
    cmp "$BATS_TEST_TMPDIR/1.jsonl" "$BATS_TEST_TMPDIR/again.jsonl"
}

@test "em: --report gives each annotator's accuracy, miss rate and box spread, in the order of proficiency" {
    "$BIN/fuse" --quiet --method em --report "$BATS_TEST_TMPDIR/r.json" < "$BATS_FILE_TMPDIR/mixed.jsonl" > /dev/null
    r="$BATS_TEST_TMPDIR/r.json"
    [ "$(jq -c '.annotators | keys' "$r")" = '["R1","R2","R3","R4","R5"]' ]
    [ "$(jq -c '[.annotators[] | .records == 2000 and .accuracy > 0 and .accuracy < 1 and (.box_spread | length) == 4] | unique' "$r")" = '[true]' ]
    [ "$(jq '[.prior[]] | add - 1 | fabs < 1e-12' "$r")" = true ]
    # proficiency 0.9 reads better and draws tighter boxes than 0.4
    [ "$(jq '.annotators.R1.accuracy > .annotators.R5.accuracy' "$r")" = true ]
    [ "$(jq '(.annotators.R1.box_spread | add) < (.annotators.R5.box_spread | add)' "$r")" = true ]
    [ "$(jq '.annotators.R1.boxes' "$r")" -eq "$(jq -s '[.[].annotations[] | select(.annotator == "R1")] | length' "$BATS_FILE_TMPDIR/mixed.jsonl")" ]
}

@test "em: one record answers; one annotator per image is refused" {
    run bash -c "head -n1 '$BATS_FILE_TMPDIR/mixed.jsonl' | '$BIN/fuse' --quiet --method em"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq '.objects | length > 0')" = true ]
    run bash -c "jq -c '.annotators = [\"R1\"] | .annotations |= map(select(.annotator == \"R1\"))' '$BATS_FILE_TMPDIR/mixed.jsonl' \
        | '$BIN/fuse' --quiet --method em 2>&1 > '$BATS_TEST_TMPDIR/out.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == "fuse: --method em needs images read by two annotators or more"* ]]
    [ ! -s "$BATS_TEST_TMPDIR/out.jsonl" ]
}

@test "em: inverted and out-of-frame boxes are repaired and counted; empty records give no objects" {
    bad='{"id":"b","width":100,"height":100,"annotators":["R1","R2"],"annotations":[{"annotator":"R1","label":"7","box":[30,30,10,10]},{"annotator":"R2","label":"7","box":[-5,10,30,130]},{"annotator":"R2","label":"3","box":[100,10,120,30]}]}'
    empty='{"id":"e","width":10,"height":10,"annotators":["R1","R2"],"annotations":[]}'
    run bash -c "printf '%s\n' '$bad' '$empty' | '$BIN/fuse' --method em 2>&1 >/dev/null"
    [ "$status" -eq 0 ]
    [[ "$output" == *"repaired 1 inverted, 2 out of frame; dropped 1 zero-area"* ]]
    run bash -c "printf '%s\n' '$bad' '$empty' | '$BIN/fuse' --quiet --method em"
    [ "$(echo "$output" | head -n1 | jq -c '[.objects[].box | map(. >= 0 and . <= 100) | all] | unique')" = "[true]" ]
    [ "$(echo "$output" | tail -n1 | jq -c .objects)" = "[]" ]
}

# ---- bad input: nothing is written -----------------------------------------------

em_err() {   # input text, options...; stderr in $output, stdout kept in out.jsonl
    local input="$1"; shift
    printf '%s\n' "$input" > "$BATS_TEST_TMPDIR/in.jsonl"
    run bash -c "'$BIN/fuse' --quiet --method em $* < '$BATS_TEST_TMPDIR/in.jsonl' 2>&1 >'$BATS_TEST_TMPDIR/out.jsonl'"
}

@test "em bad input: malformed JSON names its line and nothing is written" {
    em_err "$(hand; echo '{"id":"b",')"
    [ "$status" -eq 1 ]
    [[ "$output" == "fuse: line 5: malformed JSON"* ]]
    [ ! -s "$BATS_TEST_TMPDIR/out.jsonl" ]
}

@test "em bad input: missing fields, NaN, non-numbers, unknown annotators, a NUL byte" {
    em_err "$(hand; echo '{"id":"a","width":10,"height":10,"annotations":[]}')"
    [ "$output" = 'fuse: line 5: missing "annotators"' ]
    [ ! -s "$BATS_TEST_TMPDIR/out.jsonl" ]
    em_err '{"id":"a","width":10,"height":10,"annotators":["R1"],"annotations":[{"annotator":"R1","label":"1","box":[NaN,1,2,2]}]}'
    [ "$status" -eq 1 ]
    [[ "$output" == "fuse: line 1: malformed JSON"* ]]
    em_err '{"id":"a","width":10,"height":10,"annotators":["R1"],"annotations":[{"annotator":"R1","label":"1","box":[1,1,"2",2]}]}'
    [ "$output" = 'fuse: line 1: annotations[0]: "box" must be 4 finite numbers' ]
    em_err '{"id":"a","width":10,"height":10,"annotators":["R1"],"annotations":[{"annotator":"R2","label":"1","box":[1,1,2,2]}]}'
    [ "$output" = 'fuse: line 1: annotations[0]: annotator "R2" is not in "annotators"' ]
    printf '{"id":"a",\0"x":1}\n' > "$BATS_TEST_TMPDIR/nul.jsonl"
    run bash -c "'$BIN/fuse' --quiet --method em < '$BATS_TEST_TMPDIR/nul.jsonl'"
    [ "$status" -eq 1 ]
    [ "$output" = 'fuse: line 1: contains a NUL byte' ]
}

@test "em bad input: empty input is an error" {
    run bash -c "'$BIN/fuse' --method em < /dev/null"
    [ "$status" -eq 1 ]
    [ "$output" = "fuse: no records on stdin" ]
}

@test "em bad input: --keep-going reports every bad record and fuses the rest" {
    printf '%s\n' '{' "$(hand | head -n2)" '{"id":"q"}' "$(hand | tail -n2)" > "$BATS_TEST_TMPDIR/in.jsonl"
    run bash -c "'$BIN/fuse' --method em --keep-going < '$BATS_TEST_TMPDIR/in.jsonl' 2>&1 >'$BATS_TEST_TMPDIR/out.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == *"fuse: line 1: malformed JSON"* ]]
    [[ "$output" == *"fuse: line 4: missing \"width\""* ]]
    [[ "$output" == *"bad records skipped"* ]]
    [ "$(jq -r .id "$BATS_TEST_TMPDIR/out.jsonl" | tr '\n' ' ')" = "0 1 2 3 " ]
}

@test "em: unwritable --matrices or --report stop the run before any record is written" {
    hand > "$BATS_TEST_TMPDIR/h.jsonl"
    for opt in --matrices --report; do
        run bash -c "'$BIN/fuse' --quiet --method em $opt '$BATS_TEST_TMPDIR/no/such/m.json' < '$BATS_TEST_TMPDIR/h.jsonl' 2>&1 > '$BATS_TEST_TMPDIR/out.jsonl'"
        [ "$status" -eq 1 ]
        [[ "$output" == *"cannot write $BATS_TEST_TMPDIR/no/such/m.json"* ]]
        [ ! -s "$BATS_TEST_TMPDIR/out.jsonl" ]
    done
    assert_no_temp_files "$BATS_TEST_TMPDIR"
}

@test "em: bad options are usage errors" {
    hand > "$BATS_TEST_TMPDIR/h.jsonl"
    for args in "--method em --smoothing -1" "--method em --smoothing x" "--method em --max-iter 0" "--method em --tol 2" \
                "--matrices m.json" "--max-iter 5" "--method em --weights A=1,B=2" "--method em --conf-type max" \
                "--method em --ensemble a.jsonl b.jsonl" "--method em extra.jsonl"; do
        run bash -c "'$BIN/fuse' $args < '$BATS_TEST_TMPDIR/h.jsonl'"
        echo "$args -> $status $output"
        [ "$status" -eq 2 ]
        [[ "$output" == fuse:* ]]
    done
    [ ! -e m.json ]
}
