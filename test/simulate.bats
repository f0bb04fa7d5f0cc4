#!/usr/bin/env bats
# simulate: MED-MNIST canvases, expert annotators and records.

load helpers/common

setup_file() {
    load helpers/common
    export SIM_DIR="$BATS_FILE_TMPDIR/sim"
    # One shared run of a few hundred images for the statistical checks.
    "$BIN/simulate" --quiet --n 400 --seed 7 --out "$SIM_DIR/img" \
        --matrices "$SIM_DIR/matrices.json" > "$BATS_FILE_TMPDIR/sim.jsonl"
}

jqh() { jq -L "$HELPERS" "$@"; }

@test "simulate --help prints usage and exits 0" {
    run "$BIN/simulate" --help
    [ "$status" -eq 0 ]
    [[ "$output" == Usage:* ]]
    [[ "$output" == *"--proficiency"* ]]
}

@test "simulate writes one record per image with every field of the format" {
    [ "$(wc -l < "$BATS_FILE_TMPDIR/sim.jsonl")" -eq 400 ]
    run jq -c 'select((has("id") and has("image") and has("width") and has("height")
                and has("annotators") and has("annotations") and has("truth")) | not) | .id' \
        "$BATS_FILE_TMPDIR/sim.jsonl"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ "$(jq -r .id "$BATS_FILE_TMPDIR/sim.jsonl" | sort -u | wc -l)" -eq 400 ]
    [ "$(jq -c .annotators "$BATS_FILE_TMPDIR/sim.jsonl" | sort -u)" = '["R1","R2","R3"]' ]
}

@test "every annotation box has IoU > p with the truth box it came from" {
    run jqh -s 'include "box";
        [ .[] | .truth as $t | .annotations[] | iou(.box; $t[.truth_index].box) ] | [length, min]' \
        "$BATS_FILE_TMPDIR/sim.jsonl"
    [ "$status" -eq 0 ]
    n=$(echo "$output" | jq '.[0]'); lo=$(echo "$output" | jq '.[1]')
    echo "annotations: $n, lowest IoU: $lo"
    [ "$n" -gt 1000 ]
    jq -n --argjson lo "$lo" '$lo > 0.8' | grep -qx true
    # the boxes really are perturbed
    run jqh -s 'include "box"; [ .[] | .truth as $t | .annotations[] | iou(.box; $t[.truth_index].box) ] | add / length' \
        "$BATS_FILE_TMPDIR/sim.jsonl"
    jq -n --argjson m "$output" '$m < 0.97' | grep -qx true
}

@test "annotation boxes lie inside the frame and are not inverted" {
    run jq -s '[ .[] | .width as $w | .height as $h | .annotations[], .truth[] | .box
                 | select(.[0] < 0 or .[1] < 0 or .[2] > $w or .[3] > $h or .[0] >= .[2] or .[1] >= .[3]) ] | length' \
        "$BATS_FILE_TMPDIR/sim.jsonl"
    [ "$output" -eq 0 ]
}

@test "each expert's label accuracy and no_obj rate match its matrix" {
    run jqh -s --slurpfile M "$SIM_DIR/matrices.json" -f "$HELPERS/expert_stats.jq" "$BATS_FILE_TMPDIR/sim.jsonl"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "[]" ]
}

@test "the expert check fails on records that ignore the matrix" {
    # Every expert labelling every digit correctly contradicts matrices with diagonals < 1.
    jq -c '.truth as $t | .annotations = [ .annotators[] as $k | range(0; $t | length) as $j
            | {annotator: $k, label: $t[$j].label, box: $t[$j].box, truth_index: $j} ]' \
        "$BATS_FILE_TMPDIR/sim.jsonl" > "$BATS_TEST_TMPDIR/perfect.jsonl"
    run jqh -s --slurpfile M "$SIM_DIR/matrices.json" -f "$HELPERS/expert_stats.jq" "$BATS_TEST_TMPDIR/perfect.jsonl"
    [ "$status" -eq 0 ]
    [ "$output" != "[]" ]
}

@test "the matrices file has one row-stochastic 11x11 matrix per expert" {
    run jq -c '[(.classes | length), (.experts | length),
                ([.experts[].matrix[] | add] | map(. - 1 | fabs) | max < 1e-9),
                ([.experts[].matrix | length] | unique)]' "$SIM_DIR/matrices.json"
    [ "$output" = '[11,3,true,[11]]' ]
}

@test "images decode to the stated size" {
    run bash -c "jq -r '.image' '$BATS_FILE_TMPDIR/sim.jsonl' | head -n 50 | xargs '$IMGCHECK' | sort -u"
    [ "$status" -eq 0 ]
    [ "$output" = "128 128 1" ]
}

@test "a repeat run with the same seed is byte-identical, records and images" {
    out="$BATS_TEST_TMPDIR/rep"
    "$BIN/simulate" --quiet --n 60 --seed 3 --fp-rate 0.5 --out "$out" > "$BATS_TEST_TMPDIR/a.jsonl"
    cp -r "$out" "$BATS_TEST_TMPDIR/first"
    OMP_NUM_THREADS=1 "$BIN/simulate" --quiet --n 60 --seed 3 --fp-rate 0.5 --out "$out" > "$BATS_TEST_TMPDIR/b.jsonl"
    cmp "$BATS_TEST_TMPDIR/a.jsonl" "$BATS_TEST_TMPDIR/b.jsonl"
    diff -r "$BATS_TEST_TMPDIR/first" "$out"
    "$BIN/simulate" --quiet --n 60 --seed 4 --out "$BATS_TEST_TMPDIR/other" > "$BATS_TEST_TMPDIR/c.jsonl"
    ! cmp -s <(jq -c .truth "$BATS_TEST_TMPDIR/a.jsonl") <(jq -c .truth "$BATS_TEST_TMPDIR/c.jsonl")
}

@test "--first continues the same experts on new canvases" {
    "$BIN/simulate" --quiet --n 20 --seed 5 --out "$BATS_TEST_TMPDIR/all" --matrices "$BATS_TEST_TMPDIR/m1.json" > "$BATS_TEST_TMPDIR/all.jsonl"
    "$BIN/simulate" --quiet --n 10 --first 10 --seed 5 --out "$BATS_TEST_TMPDIR/all" --matrices "$BATS_TEST_TMPDIR/m2.json" > "$BATS_TEST_TMPDIR/tail.jsonl"
    cmp "$BATS_TEST_TMPDIR/m1.json" "$BATS_TEST_TMPDIR/m2.json"
    cmp <(tail -n 10 "$BATS_TEST_TMPDIR/all.jsonl") "$BATS_TEST_TMPDIR/tail.jsonl"
    [ "$(head -n1 "$BATS_TEST_TMPDIR/tail.jsonl" | jq -r .id)" = "med-000010" ]
}

@test "--digits FROM:TO uses only those digits" {
    "$BIN/simulate" --quiet --n 100 --digits 100:200 --out "$BATS_TEST_TMPDIR/d" > "$BATS_TEST_TMPDIR/d.jsonl"
    run jq -s '[.[].truth[].mnist_index] | [min, max, length]' -c "$BATS_TEST_TMPDIR/d.jsonl"
    lo=$(echo "$output" | jq '.[0]'); hi=$(echo "$output" | jq '.[1]'); n=$(echo "$output" | jq '.[2]')
    [ "$lo" -ge 100 ] && [ "$hi" -lt 200 ] && [ "$n" -gt 100 ]
}

@test "truth labels are the MNIST labels of the pasted digits" {
    # labels-idx1 holds one byte per digit after an 8-byte header
    run jq -r '.truth[] | "\(.mnist_index) \(.label)"' "$BATS_FILE_TMPDIR/sim.jsonl"
    labels="$ROOT/data/mnist/labels-idx1-ubyte"
    bad=0
    while read -r idx label; do
        byte=$(od -An -tu1 -j $((8 + idx)) -N1 "$labels" | tr -d ' ')
        [ "$byte" = "$label" ] || bad=$((bad + 1))
    done < <(echo "$output" | head -n 200)
    [ "$bad" -eq 0 ]
}

@test "--fp-rate adds boxes that overlap no digit" {
    "$BIN/simulate" --quiet --n 100 --fp-rate 1 --out "$BATS_TEST_TMPDIR/fp" > "$BATS_TEST_TMPDIR/fp.jsonl"
    run jqh -s -c 'include "box";
        [ .[] | .truth as $t | .annotations[] | select(has("truth_index") | not)
          | [ $t[] | inter(.box; $t[0].box) ] as $dummy
          | .box as $b | [ $t[] | inter(.box; $b) ] | add // 0 ] | [length, max]' "$BATS_TEST_TMPDIR/fp.jsonl"
    n=$(echo "$output" | jq '.[0]'); overlap=$(echo "$output" | jq '.[1]')
    echo "$output"
    [ "$n" -gt 150 ] && [ "$n" -lt 450 ]
    [ "$overlap" = 0 ]
    # no false positives by default
    [ "$(jq '[.annotations[] | select(has("truth_index") | not)] | length' "$BATS_FILE_TMPDIR/sim.jsonl" | sort -u)" = 0 ]
}

@test "--preset paper mirrors the published test-label statistics" {
    "$BIN/simulate" --quiet --preset paper --n 500 --seed 11 --out "$BATS_TEST_TMPDIR/p" > "$BATS_TEST_TMPDIR/p.jsonl"
    run jqh -s -c 'include "box";
        { empty: ((map(select(.truth | length == 0)) | length) / length),
          counts: (map(.truth | length | select(. > 0)) | [min, max]),
          frame: (map([.width, .height]) | unique),
          longer: ([.[].truth[].box | [.[2] - .[0], .[3] - .[1]] | max] | [min, max]),
          sides: ([.[].truth[].box | (.[2] - .[0]), (.[3] - .[1])] | [min, max]),
          overlap: ([.[] | .truth as $t | range(0; $t | length) as $i | range(0; $i) as $j
                     | iou($t[$i].box; $t[$j].box)] | max) }' "$BATS_TEST_TMPDIR/p.jsonl"
    echo "$output"
    s="$output"
    jq -e -n --argjson s "$s" '$s.empty > 0.48 and $s.empty < 0.62' >/dev/null
    jq -e -n --argjson s "$s" '$s.counts[0] == 1 and $s.counts[1] == 9' >/dev/null
    jq -e -n --argjson s "$s" '$s.frame == [[320,320]]' >/dev/null
    jq -e -n --argjson s "$s" '$s.longer[0] >= 7 and $s.longer[0] <= 9 and $s.longer[1] <= 75 and $s.longer[1] >= 70' >/dev/null
    jq -e -n --argjson s "$s" '$s.sides[0] >= 1 and $s.sides[1] <= 75' >/dev/null
    jq -e -n --argjson s "$s" '$s.overlap <= 0.55 and $s.overlap > 0.2' >/dev/null
    run bash -c "jq -r .image '$BATS_TEST_TMPDIR/p.jsonl' | head -n 20 | xargs '$IMGCHECK' | sort -u"
    [ "$output" = "320 320 1" ]
}

@test "per-expert proficiency lists set each expert's p" {
    "$BIN/simulate" --quiet --n 5 --experts 4 --proficiency 0.6,0.7,0.8,0.95 --sigma 0 \
        --out "$BATS_TEST_TMPDIR/q" --matrices "$BATS_TEST_TMPDIR/q.json" > "$BATS_TEST_TMPDIR/q.jsonl"
    [ "$(jq -c '[.experts[] | .matrix[0][0]]' "$BATS_TEST_TMPDIR/q.json")" = "[0.6,0.7,0.8,0.95]" ]
    [ "$(head -n1 "$BATS_TEST_TMPDIR/q.jsonl" | jq -c .annotators)" = '["R1","R2","R3","R4"]' ]
}

# ---- bad input --------------------------------------------------------------

@test "bad options are usage errors (exit 2) with a clear message" {
    out="$BATS_TEST_TMPDIR/o"
    for args in "--n -5" "--n lots" "--count 5:2" "--size 1:5" "--max-iou 1.5" "--empty -0.1" \
                "--experts 0" "--proficiency 0.8,0.9" "--proficiency 1.2" "--preset nope" \
                "--quality 0" "--seed -1" "--digits 9:3" "--size 10:500" "--bogus" "extra-arg"; do
        run bash -c "'$BIN/simulate' --out '$out' $args 2>&1 >/dev/null"
        echo "args: $args -> $status: $output"
        [ "$status" -eq 2 ]
        [[ "$output" == simulate:* ]]
        [[ "$output" == *"Try 'simulate --help'"* ]]
    done
    run "$BIN/simulate" --n 5
    [ "$status" -eq 2 ]
    [[ "$output" == *"--out DIR is required"* ]]
}

@test "a missing MNIST file is a data error naming the file" {
    run "$BIN/simulate" --n 5 --out "$BATS_TEST_TMPDIR/o" --mnist "$BATS_TEST_TMPDIR/nope-images-idx3-ubyte"
    [ "$status" -eq 1 ]
    [[ "$output" == "simulate: cannot open $BATS_TEST_TMPDIR/nope-images-idx3-ubyte: No such file or directory" ]]
    [ ! -e "$BATS_TEST_TMPDIR/o" ]
}

@test "a corrupt or truncated MNIST file is a data error" {
    f="$BATS_TEST_TMPDIR/bad-images-idx3-ubyte"
    head -c 1000 /dev/urandom > "$f"
    cp "$ROOT/data/mnist/labels-idx1-ubyte" "$BATS_TEST_TMPDIR/bad-labels-idx1-ubyte"
    run "$BIN/simulate" --n 5 --out "$BATS_TEST_TMPDIR/o" --mnist "$f"
    [ "$status" -eq 1 ]
    [[ "$output" == *"not an IDX uint8 image file"* ]]
    head -c 5000 "$MNIST" > "$f"
    run "$BIN/simulate" --n 5 --out "$BATS_TEST_TMPDIR/o" --mnist "$f"
    [ "$status" -eq 1 ]
    [[ "$output" == *"truncated"* ]]
}

@test "--digits beyond the file is a usage error" {
    run "$BIN/simulate" --n 5 --out "$BATS_TEST_TMPDIR/o" --digits 0:20000
    [ "$status" -eq 2 ]
    [[ "$output" == *"reaches past the 10000 digits"* ]]
}

@test "an unwritable output folder is a data error, and no records are written" {
    touch "$BATS_TEST_TMPDIR/file"
    run bash -c "'$BIN/simulate' --n 5 --out '$BATS_TEST_TMPDIR/file/sub' 2>&1 >'$BATS_TEST_TMPDIR/r.jsonl'"
    [ "$status" -eq 1 ]
    [[ "$output" == *"cannot create folder $BATS_TEST_TMPDIR/file/sub"* ]]
    [ ! -s "$BATS_TEST_TMPDIR/r.jsonl" ]
    if [ "$(id -u)" -ne 0 ]; then
        mkdir "$BATS_TEST_TMPDIR/ro" && chmod 555 "$BATS_TEST_TMPDIR/ro"
        run "$BIN/simulate" --n 5 --out "$BATS_TEST_TMPDIR/ro"
        [ "$status" -eq 1 ]
    fi
}

@test "an unwritable matrices file is a data error that leaves nothing behind" {
    run "$BIN/simulate" --n 5 --out "$BATS_TEST_TMPDIR/o" --matrices "$BATS_TEST_TMPDIR/no/such/m.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *"cannot write $BATS_TEST_TMPDIR/no/such/m.json"* ]]
    assert_no_temp_files "$BATS_TEST_TMPDIR"
}

@test "simulate leaves no temporary files behind" {
    assert_no_temp_files "$SIM_DIR"
}
