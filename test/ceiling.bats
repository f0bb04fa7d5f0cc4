#!/usr/bin/env bats
# ceiling: the Bayes posterior from the true matrices and the true clusters.

load helpers/common

# Two classes a and b, two experts. Row no_obj: the labels of each one's false positives.
M='{"classes":["a","b","no_obj"],"experts":[{"name":"R1","matrix":[[0.8,0.1,0.1],[0.2,0.7,0.1],[0.5,0.5,0]]},{"name":"R2","matrix":[[0.6,0.2,0.2],[0.1,0.8,0.1],[0.9,0.1,0]]}]}'
# Image 1: an "a" labelled a by R1 and b by R2, a "b" that R2 missed. Image 2: R1's false "a".
R1='{"id":"1","width":100,"height":100,"annotators":["R1","R2"],"annotations":[{"annotator":"R1","label":"a","box":[10,10,30,30],"truth_index":0},{"annotator":"R2","label":"b","box":[10,10,30,30],"truth_index":0},{"annotator":"R1","label":"b","box":[50,50,70,70],"truth_index":1}],"truth":[{"label":"a","box":[10,10,30,30]},{"label":"b","box":[50,50,70,70]}]}'
R2='{"id":"2","width":100,"height":100,"annotators":["R1","R2"],"annotations":[{"annotator":"R1","label":"a","box":[60,10,80,30]}],"truth":[]}'

setup() {
    echo "$M" > "$BATS_TEST_TMPDIR/m.json"
    printf '%s\n' "$R1" "$R2" > "$BATS_TEST_TMPDIR/in.jsonl"
}

@test "ceiling --help prints usage" {
    run "$BIN/ceiling" --help
    [ "$status" -eq 0 ]
    [[ "$output" == Usage:* ]]
}

@test "ceiling: the posteriors computed by hand" {
    run bash -c "'$BIN/ceiling' --quiet --matrices '$BATS_TEST_TMPDIR/m.json' < '$BATS_TEST_TMPDIR/in.jsonl'"
    [ "$status" -eq 0 ]
    # prior: one a, one b, one false positive (n / 3 each); an observed real cluster is
    # divided by 1 - P(every reader missed it).
    # the "a": a: 0.8 * 0.2 / (1 - 0.1 * 0.2), b: 0.2 * 0.8 / (1 - 0.1 * 0.1)
    pa=$(jq -n '(0.16 / 0.98) / (0.16 / 0.98 + 0.16 / 0.99)')
    # the "b": a: 0.1 * 0.2 / 0.98, b: 0.7 * 0.1 / 0.99
    pb=$(jq -n '(0.07 / 0.99) / (0.02 / 0.98 + 0.07 / 0.99)')
    # the false "a": R1 drew every false positive and labels half of them a: 1 * 0.5
    fp=$(jq -n '0.5 / (0.16 / 0.98 + 0.02 / 0.99 + 0.5)')
    line1=$(echo "$output" | head -n1) line2=$(echo "$output" | tail -n1)
    [ "$(echo "$line1" | jq -c '[.objects[] | [.label, .votes, .annotators]]')" = '[["b",1,["R1"]],["a",2,["R1","R2"]]]' ]
    [ "$(echo "$line1" | jq --argjson pa "$pa" --argjson pb "$pb" '[(.objects[1].conf - $pa), (.objects[0].conf - $pb), (.objects[1].exists - 1)] | map(fabs) | max < 1e-12')" = true ]
    [ "$(echo "$line2" | jq --argjson fp "$fp" '.objects[0] | [.label, ((.exists - (1 - $fp)) | fabs < 1e-12), ((.probs.a + .probs.b - 1) | fabs < 1e-12)]' | jq -c .)" = '["a",true,true]' ]
    # the records pass through with their objects added
    [ "$(echo "$line1" | jq -c 'del(.objects)')" = "$(echo "$R1" | jq -c .)" ]
}

@test "ceiling: bad input and usage" {
    run "$BIN/ceiling" < "$BATS_TEST_TMPDIR/in.jsonl"
    [ "$status" -eq 2 ]
    [[ "$output" == "ceiling: --matrices FILE is required"* ]]
    run bash -c "'$BIN/ceiling' --matrices '$BATS_TEST_TMPDIR/m.json' < /dev/null"
    [ "$status" -eq 1 ]
    [ "$output" = "ceiling: no records on stdin" ]
    bad=$(echo "$R2" | sed 's/"label":"a"/"label":"z"/')
    run bash -c "printf '%s\n' '$R1' '$bad' | '$BIN/ceiling' --matrices '$BATS_TEST_TMPDIR/m.json'"
    [ "$status" -eq 1 ]
    [ "$output" = 'ceiling: line 2: annotations[0]: label "z" is not a class of the matrices' ]
    bad=$(echo "$R1" | sed 's/"truth_index":1/"truth_index":5/')
    run bash -c "echo '$bad' | '$BIN/ceiling' --matrices '$BATS_TEST_TMPDIR/m.json' 2>&1 > '$BATS_TEST_TMPDIR/out'"
    [ "$status" -eq 1 ]
    [ "$output" = 'ceiling: line 1: annotations[2]: "truth_index" must index "truth"' ]
    [ ! -s "$BATS_TEST_TMPDIR/out" ]
    bad=$(echo "$R2" | sed 's/"R2"\]/"R7"]/')
    run bash -c "echo '$bad' | '$BIN/ceiling' --matrices '$BATS_TEST_TMPDIR/m.json'"
    [ "$output" = 'ceiling: line 1: annotator "R7" has no matrix' ]
    echo '{"classes":["a"],"experts":[]}' > "$BATS_TEST_TMPDIR/bad.json"
    run bash -c "'$BIN/ceiling' --matrices '$BATS_TEST_TMPDIR/bad.json' < '$BATS_TEST_TMPDIR/in.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == *'needs "classes" ending in "no_obj"'* ]]
}

@test "ceiling: on simulated records it is at least as good as fuse --method em" {
    "$BIN/simulate" --quiet --n 300 --seed 9 --fp-rate 0.2 --matrices "$BATS_TEST_TMPDIR/true.json" --out "$BATS_TEST_TMPDIR/img" > "$BATS_TEST_TMPDIR/sim.jsonl"
    map40() { jq -c '.detections = [.objects[] | {label: .label, box: .box, score: .conf}]' | "$BIN/score" | jq .map40; }
    c=$("$BIN/ceiling" --quiet --matrices "$BATS_TEST_TMPDIR/true.json" < "$BATS_TEST_TMPDIR/sim.jsonl" | map40)
    e=$("$BIN/fuse" --quiet --method em < "$BATS_TEST_TMPDIR/sim.jsonl" | map40)
    echo "ceiling $c em $e"
    [ "$(jq -n "$c >= $e")" = true ]
}
