#!/usr/bin/env bats
# score: output shape, semantics, options and bad input.

load helpers/common

# Image a: one "7" found, a "1" missed. Image b: nothing there, a false "7".
A='{"id":"a","width":100,"height":100,"truth":[{"label":"7","box":[10,10,30,30]},{"label":"1","box":[50,50,60,70]}],"detections":[{"label":"7","box":[10,10,30,30],"score":0.9}]}'
B='{"id":"b","width":100,"height":100,"truth":[],"detections":[{"label":"7","box":[60,60,90,90],"score":0.95},{"label":"3","box":[0,0,5,5],"score":0.2}]}'

@test "score --help prints usage" {
    run "$BIN/score" --help
    [ "$status" -eq 0 ]
    [[ "$output" == Usage:* ]]
}

@test "output shape: images, the four means, per-class APs, counts" {
    run bash -c "printf '%s\n' '$A' '$B' | '$BIN/score'"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -c 'keys')" = '["ap","classes","images","map40","map50","map50_95","map75"]' ]
    [ "$(echo "$output" | jq -c '.classes | keys')" = '["1","3","7"]' ]
    [ "$(echo "$output" | jq -c '.classes["7"] | keys')" = '["ap40","ap50","ap50_95","detections","truths"]' ]
    # "7": a false positive scored above the true one: precision 1/2 throughout
    [ "$(echo "$output" | jq -c '.classes["7"] | [.ap40, .ap50, .ap50_95, .truths, .detections]')" = '[0.5,0.5,0.5,1,2]' ]
    # "1": missed; "3": detections only, so null and left out of the means
    [ "$(echo "$output" | jq -c '.classes["1"] | [.ap50, .truths, .detections]')" = '[0,1,0]' ]
    [ "$(echo "$output" | jq -c '.classes["3"] | [.ap40, .ap50, .ap50_95, .truths]')" = '[null,null,null,0]' ]
    [ "$(echo "$output" | jq -c '[.images, .map50, .map50_95]')" = '[2,0.25,0.25]' ]
}

@test "a perfect score carries COCOeval's epsilon" {
    run bash -c "echo '$A' | jq -c '.detections += [{label: \"1\", box: [50,50,60,70], score: 0.5}]' | '$BIN/score'"
    [ "$(echo "$output" | jq -c '[.map40, .map50, .map75]')" = '[0.9999999999999999,0.9999999999999999,0.9999999999999999]' ]
}

@test "no class with truth gives null means" {
    run bash -c "echo '$B' | '$BIN/score'"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -c '[.map40, .map50, .map75, .map50_95]')" = '[null,null,null,null]' ]
}

@test "--truth scores against another field, such as fused objects" {
    "$BIN/simulate" --quiet --n 60 --out "$BATS_TEST_TMPDIR/img" | "$BIN/fuse" --quiet \
        | jq -c '.detections = [.objects[] | {label: .label, box: .box, score: .conf}]' > "$BATS_TEST_TMPDIR/f.jsonl"
    run bash -c "'$BIN/score' --truth objects < '$BATS_TEST_TMPDIR/f.jsonl'"
    [ "$status" -eq 0 ]
    # the fused objects scored against themselves: every class perfect
    [ "$(echo "$output" | jq -c '[.classes[] | .ap50 > 0.99] | unique')" = "[true]" ]
    run bash -c "'$BIN/score' < '$BATS_TEST_TMPDIR/f.jsonl'"
    [ "$(echo "$output" | jq '.map50 < 0.99')" = "true" ]
    run bash -c "'$BIN/score' --truth nope < '$BATS_TEST_TMPDIR/f.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == 'score: line 1: missing "nope"' ]]
}

@test "--iou adds map_custom; --ap voc switches the interpolation" {
    run bash -c "printf '%s\n' '$A' '$B' | '$BIN/score' --iou 0.3,0.6"
    [ "$(echo "$output" | jq -c '[.map_custom, .classes["7"].ap_custom]')" = '[0.25,0.5]' ]
    run bash -c "printf '%s\n' '$A' '$B' | '$BIN/score' --ap voc"
    [ "$(echo "$output" | jq -c '[.ap, .map50]')" = '["voc",0.25]' ]
}

@test "--bootstrap adds 95% intervals around the means, reproducibly" {
    "$BIN/simulate" --quiet --n 80 --out "$BATS_TEST_TMPDIR/img" | "$BIN/fuse" --quiet \
        | jq -c '.detections = [.objects[] | {label: .label, box: .box, score: .conf}]' > "$BATS_TEST_TMPDIR/f.jsonl"
    run bash -c "'$BIN/score' --bootstrap 200 --seed 3 < '$BATS_TEST_TMPDIR/f.jsonl'"
    [ "$status" -eq 0 ]
    echo "$output" | jq -e '.bootstrap == 200 and (.ci95 | keys) == ["map40","map50","map50_95","map75"]' >/dev/null
    echo "$output" | jq -e '[.ci95.map50[0] <= .map50, .map50 <= .ci95.map50[1], .ci95.map50[0] < .ci95.map50[1]] | all' >/dev/null
    a="$output"
    run bash -c "OMP_NUM_THREADS=1 '$BIN/score' --bootstrap 200 --seed 3 < '$BATS_TEST_TMPDIR/f.jsonl'"
    [ "$output" = "$a" ]
}

@test "--curves writes the 101-point precision per class and threshold" {
    run bash -c "printf '%s\n' '$A' '$B' | '$BIN/score' --curves '$BATS_TEST_TMPDIR/c.jsonl' > /dev/null"
    [ "$status" -eq 0 ]
    [ "$(jq -c '[.label, .iou]' "$BATS_TEST_TMPDIR/c.jsonl" | tr '\n' ' ')" = '["1",0.4] ["1",0.5] ["1",0.75] ["7",0.4] ["7",0.5] ["7",0.75] ' ]
    [ "$(jq -c 'select(.label == "7" and .iou == 0.5) | [(.recall | length), .recall[1], .recall[100], (.precision | unique), .ap]' "$BATS_TEST_TMPDIR/c.jsonl")" = '[101,0.01,1,[0.5],0.5]' ]
}

@test "record order does not change the result" {
    "$BIN/simulate" --quiet --n 50 --out "$BATS_TEST_TMPDIR/img" | "$BIN/fuse" --quiet \
        | jq -c '.detections = [.objects[] | {label: .label, box: .box, score: (.conf * 0.9 + (.box[0] / 10000))}]' > "$BATS_TEST_TMPDIR/f.jsonl"
    a=$("$BIN/score" < "$BATS_TEST_TMPDIR/f.jsonl")
    b=$(tac "$BATS_TEST_TMPDIR/f.jsonl" | "$BIN/score")
    [ "$a" = "$b" ]
}

@test "means over more than 8192 values sum in numpy's 8192-element buffers" {
    # 9 classes x 10 thresholds x 101 recall points: COCOeval's map50_95 (numpy 1.24) is
    # 0.6314686468646865; one pairwise sum over all 9090 values would give ...864
    run bash -c "'$BIN/score' < '$ROOT/test/fixtures/score-9-classes.jsonl'"
    [ "$(echo "$output" | jq -c '.map50_95')" = "0.6314686468646865" ]
}

# ---- bad input ----------------------------------------------------------------

score_err() {
    printf '%s\n' "$@" > "$BATS_TEST_TMPDIR/in.jsonl"
    run bash -c "'$BIN/score' < '$BATS_TEST_TMPDIR/in.jsonl'"
}

@test "a record without id, and duplicate ids" {
    score_err '{"width":10,"height":10,"truth":[],"detections":[]}'
    [ "$status" -eq 1 ]
    [ "$output" = 'score: line 1: missing "id"' ]
    score_err "$A" "$B" "$A"
    [ "$status" -eq 1 ]
    [ "$output" = 'score: line 3: duplicate id "a" (first on line 1)' ]
}

@test "detections without score, scores outside [0,1], NaN" {
    score_err '{"id":"a","width":10,"height":10,"truth":[],"detections":[{"label":"1","box":[1,1,2,2]}]}'
    [ "$output" = 'score: line 1: detections[0]: missing "score"' ]
    score_err '{"id":"a","width":10,"height":10,"truth":[],"detections":[{"label":"1","box":[1,1,2,2],"score":1.5}]}'
    [ "$output" = 'score: line 1: detections[0]: "score" must be a number in [0,1]' ]
    score_err '{"id":"a","width":10,"height":10,"truth":[],"detections":[{"label":"1","box":[1,1,2,2],"score":NaN}]}'
    [ "$status" -eq 1 ]
    [[ "$output" == 'score: line 1: malformed JSON'* ]]
}

@test "inverted and out-of-frame boxes, missing fields, malformed lines" {
    score_err '{"id":"a","width":10,"height":10,"truth":[{"label":"1","box":[5,1,2,2]}],"detections":[]}'
    [ "$output" = 'score: line 1: truth[0]: "box" [5,1,2,2] is inverted or empty (need x1<x2, y1<y2)' ]
    # a truth box outside the frame is an error; a detection past it is scored (see below)
    score_err '{"id":"a","width":10,"height":10,"truth":[{"label":"1","box":[1,1,12,2]}],"detections":[]}'
    [ "$output" = 'score: line 1: truth[0]: "box" [1,1,12,2] is outside the 10x10 frame' ]
    score_err '{"id":"a","width":10,"height":10,"truth":[],"detections":[{"label":"1","box":[3,1,2,12],"score":0.5}]}'
    [ "$output" = 'score: line 1: detections[0]: "box" [3,1,2,12] is inverted or empty (need x1<x2, y1<y2)' ]
    printf '%s\n' '{"id":"a","width":10,"height":10,"truth":[],"detections":[{"label":"1","box":[1,1,12,2],"score":0.5}]}' > "$BATS_TEST_TMPDIR/in.jsonl"
    run "$BIN/score" --strict-frame < "$BATS_TEST_TMPDIR/in.jsonl"
    [ "$status" -eq 1 ]
    [ "$output" = 'score: line 1: detections[0]: "box" [1,1,12,2] is outside the 10x10 frame' ]
    score_err '{"id":"a","width":10,"height":10,"truth":[]}'
    [ "$output" = 'score: line 1: missing "detections"' ]
    score_err "$A" '{"id":'
    [ "$status" -eq 1 ]
    [[ "$output" == 'score: line 2: malformed JSON'* ]]
}

@test "empty input is an error" {
    run bash -c "'$BIN/score' < /dev/null"
    [ "$status" -eq 1 ]
    [ "$output" = "score: no records on stdin" ]
}

@test "--keep-going scores the good records and exits 1" {
    printf '%s\n' "$A" '{"id":' "$B" > "$BATS_TEST_TMPDIR/in.jsonl"
    run bash -c "'$BIN/score' --keep-going < '$BATS_TEST_TMPDIR/in.jsonl' 2>'$BATS_TEST_TMPDIR/err'"
    [ "$status" -eq 1 ]
    [ "$(echo "$output" | jq .images)" -eq 2 ]
    [[ "$(cat "$BATS_TEST_TMPDIR/err")" == 'score: line 2: malformed JSON'* ]]
}

@test "bad options are usage errors" {
    for args in "--iou 0" "--iou 1.2" "--iou x" "--ap map" "--bootstrap 0" "--bootstrap x" "--seed -3" "--truth ''" "file.jsonl" "--nope"; do
        run bash -c "echo '$A' | '$BIN/score' $args"
        echo "$args -> $status $output"
        [ "$status" -eq 2 ]
    done
}

@test "an unwritable --curves file is an error, nothing half-written" {
    run bash -c "echo '$A' | '$BIN/score' --curves '$BATS_TEST_TMPDIR/no/c.jsonl' > /dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" == *"cannot write $BATS_TEST_TMPDIR/no/c.jsonl"* ]]
    assert_no_temp_files "$BATS_TEST_TMPDIR"
}

@test "--label-accuracy: detections matched whatever their labels, and the share whose label agrees" {
    # a: the "7" matches its truth, the "1" is missed; b: no truth; c: a "4" on a "2"
    C='{"id":"c","width":100,"height":100,"truth":[{"label":"2","box":[0,0,20,20]}],"detections":[{"label":"4","box":[1,1,20,20],"score":0.5}]}'
    run bash -c "printf '%s\n' '$A' '$B' '$C' | '$BIN/score' --label-accuracy"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -c .label_accuracy)" = '{"iou":0.5,"matched":2,"correct":1,"accuracy":0.5}' ]
    run bash -c "printf '%s\n' '$B' | '$BIN/score' --label-accuracy"
    [ "$(echo "$output" | jq -c .label_accuracy)" = '{"iou":0.5,"matched":0,"correct":0,"accuracy":null}' ]
    # without the option the output has no such key
    run bash -c "printf '%s\n' '$A' | '$BIN/score'"
    [ "$(echo "$output" | jq 'has("label_accuracy")')" = false ]
}

@test "detections past the frame are scored as they are, as COCOeval scores them (values from pycocotools 2.0, cocoapi 8c9bcc3)" {
    printf '%s\n' \
        '{"id":"a","width":100,"height":80,"truth":[{"label":"x","box":[0,0,20,20]},{"label":"y","box":[70,60,100,80]}],"detections":[{"label":"x","box":[-5,-3,18,21],"score":0.9},{"label":"y","box":[72,58,106,85],"score":0.8},{"label":"x","box":[90,70,120,95],"score":0.3}]}' \
        '{"id":"b","width":50,"height":50,"truth":[{"label":"x","box":[40,40,50,50]}],"detections":[{"label":"x","box":[41,42,55,56],"score":0.7},{"label":"y","box":[-10,-10,5,5],"score":0.6}]}' \
        > "$BATS_TEST_TMPDIR/p.jsonl"
    run "$BIN/score" < "$BATS_TEST_TMPDIR/p.jsonl"
    [ "$status" -eq 0 ]
    [ "$(echo "$output" | jq -c '[.map40, .map50, .map75, .map50_95]')" = '[0.7524752475247524,0.7524752475247524,0,0.1757425742574257]' ]
    # the jansson path agrees (an escaped id sends the record there)
    sed 's/"id":"a"/"id":"\\u0061"/' "$BATS_TEST_TMPDIR/p.jsonl" > "$BATS_TEST_TMPDIR/q.jsonl"
    [ "$("$BIN/score" < "$BATS_TEST_TMPDIR/q.jsonl")" = "$output" ]
    # clipping them would change the numbers: the scores are of the boxes as given
    jq -c '.width as $w | .height as $h | .detections |= map(.box = [([.box[0], 0] | max), ([.box[1], 0] | max), ([.box[2], $w] | min), ([.box[3], $h] | min)])' \
        "$BATS_TEST_TMPDIR/p.jsonl" > "$BATS_TEST_TMPDIR/c.jsonl"
    [ "$("$BIN/score" < "$BATS_TEST_TMPDIR/c.jsonl" | jq .map50_95)" != "0.1757425742574257" ]
}
