#!/usr/bin/env bats
# draw: records' images with their boxes, one record or a contact sheet.

load helpers/common

setup_file() {
    load helpers/common
    d="$BATS_FILE_TMPDIR"
    "$IMGCHECK" --make 64 64 "$d/g.png"
    # one record: truth [8,8,40,40] and annotator R1's box [16,16,48,48] on a 64 x 64 image
    printf '%s\n' '{"id":"a","image":"g.png","width":64,"height":64,"annotators":["R1","R2"],"annotations":[{"annotator":"R1","label":"7","box":[16,16,48,48]}],"truth":[{"label":"7","box":[8,8,40,40]}]}' > "$d/one.jsonl"
}

# the caption above a 64-pixel cell is 11 pixels tall: image row y is sheet row y + 11
@test "golden pixels: box corners in their colours, the inside untouched, a legend below" {
    d="$BATS_FILE_TMPDIR"
    run "$BIN/draw" --out "$d/one.png" --cell 64 --root "$d" < "$d/one.jsonl"
    [ "$status" -eq 0 ]
    [ "$("$IMGCHECK" "$d/one.png")" = "64 120 3" ]   # 11 caption + 64 cell + 3 legend lines of 15 (R1, R2, truth)
    [ "$("$IMGCHECK" --pixel 8 19 "$d/one.png")" = "0 255 0" ]      # truth's top-left corner
    [ "$("$IMGCHECK" --pixel 40 51 "$d/one.png")" = "0 255 0" ]     # and bottom-right
    [ "$("$IMGCHECK" --pixel 16 27 "$d/one.png")" = "230 25 75" ]   # R1's top-left corner
    [ "$("$IMGCHECK" --pixel 48 59 "$d/one.png")" = "230 25 75" ]   # and bottom-right
    [ "$("$IMGCHECK" --pixel 48 27 "$d/one.png")" = "230 25 75" ]   # top-right
    # inside the boxes: the image's own gray, x * 255 / 64 + y * 128 / 64
    [ "$("$IMGCHECK" --pixel 30 41 "$d/one.png")" = "179 179 179" ]
    # the legend's first swatch is R1's colour
    [ "$("$IMGCHECK" --pixel 6 79 "$d/one.png")" = "230 25 75" ]
}

@test "a contact sheet tiles N records with their ids, JPEG by the name" {
    d="$BATS_FILE_TMPDIR"
    for i in 1 2 3 4 5; do jq -c --arg i "$i" '.id = "r\($i)"' "$d/one.jsonl"; done > "$d/five.jsonl"
    run "$BIN/draw" --out "$d/sheet.jpg" --n 5 --cell 64 --root "$d" < "$d/five.jsonl"
    [ "$status" -eq 0 ]
    [ "$("$IMGCHECK" "$d/sheet.jpg")" = "192 165 3" ]   # 3 columns, 2 rows of 75, one legend line
    run "$BIN/draw" --out "$d/row.png" --n 5 --cols 5 --cell 64 --root "$d" --layers truth < "$d/five.jsonl"
    [ "$status" -eq 0 ]
    [ "$("$IMGCHECK" "$d/row.png")" = "320 90 3" ]
    # --layers truth: R1's corner shows the image's own gray, 16 * 255 / 64 + 16 * 128 / 64
    [ "$("$IMGCHECK" --pixel 16 27 "$d/row.png")" = "95 95 95" ]
}

@test "fused objects and detections: their colours, and --min-score leaves the low ones out" {
    d="$BATS_FILE_TMPDIR"
    jq -c '.objects = [{"label":"7","box":[4,4,20,20],"votes":2}]
           | .detections = [{"label":"7","box":[24,4,44,20],"score":0.9}, {"label":"7","box":[4,44,20,60],"score":0.1}]' \
        "$d/one.jsonl" > "$d/od.jsonl"
    run "$BIN/draw" --out "$d/od.png" --cell 64 --root "$d" --layers objects,detections --min-score 0.5 < "$d/od.jsonl"
    [ "$status" -eq 0 ]
    [ "$("$IMGCHECK" --pixel 20 31 "$d/od.png")" = "255 255 255" ]   # the object's bottom-right corner, white
    [ "$("$IMGCHECK" --pixel 44 31 "$d/od.png")" = "255 225 25" ]    # the kept detection's, yellow
    [ "$("$IMGCHECK" --pixel 20 71 "$d/od.png")" = "199 199 199" ]   # the one under 0.5 is not drawn: the gray at (20,60)
    run "$BIN/draw" --out "$d/od2.png" --cell 64 --root "$d" --layers objects,detections --min-score 0.05 < "$d/od.jsonl"
    [ "$status" -eq 0 ]
    [ "$("$IMGCHECK" --pixel 20 71 "$d/od2.png")" = "255 225 25" ]
}

@test "draw: bad input names its line, exits 1 and writes nothing" {
    d="$BATS_FILE_TMPDIR"
    check() {   # check EXPECTED-MESSAGE < input
        rm -f "$d/bad.png"
        run bash -c "'$BIN/draw' --out '$d/bad.png' --root '$d' --n 3"
        [ "$status" -eq 1 ] || { echo "status $status: $output"; return 1; }
        [[ "$output" == *"$1"* ]] || { echo "got: $output"; return 1; }
        [ ! -e "$d/bad.png" ]
    }
    good=$(cat "$d/one.jsonl")
    check "line 2" <<< "$good"$'\n''{"id": "b", oops}'
    check 'line 1: missing "image"' <<< '{"id":"a","width":64,"height":64}'
    check 'line 1: truth[0]: "box" must be 4 finite numbers' <<< "${good/\[8,8,40,40\]/[8,\"8\",40,40]}"
    check 'line 1: truth[0]: "box" must be 4 finite numbers' <<< "${good/\[8,8,40,40\]/[8,8,40]}"
    check 'line 1: truth[0]: "box" [40,8,8,40] is inverted or empty' <<< "${good/\[8,8,40,40\]/[40,8,8,40]}"
    check 'line 1: annotations[0]: "box" [16,16,48,70] is outside the 64x64 frame' <<< "${good/\[16,16,48,48\]/[16,16,48,70]}"
    check 'line 1: annotations[0]: missing "annotator"' <<< "${good/\"annotator\":\"R1\",/}"
    check 'line 1: truth[0]: missing "label"' <<< "${good/\"label\":\"7\",\"box\":\[8/\"box\":[8}"
    check 'line 1: cannot open' <<< "${good/g.png/missing.png}"
    printf 'not a jpeg' > "$d/corrupt.jpg"
    check 'line 1: '"$d"'/corrupt.jpg: not a JPEG or PNG image' <<< "${good/g.png/corrupt.jpg}"
    check 'no records on stdin' < /dev/null
}

@test "draw: usage errors exit 2" {
    run "$BIN/draw"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--out FILE is required"* ]]
    run "$BIN/draw" --out x.gif
    [ "$status" -eq 2 ]
    run "$BIN/draw" --out x.png --layers boxes
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown layer 'boxes'"* ]]
    run "$BIN/draw" --help
    [ "$status" -eq 0 ] && [[ "$output" == Usage:* ]]
}
