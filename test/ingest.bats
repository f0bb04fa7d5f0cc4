#!/usr/bin/env bats
# ingest (VinDr CSV, COCO), export coco, and the VinDr DICOM pipeline.

load helpers/common
bats_require_minimum_version 1.5.0

F="$BATS_TEST_DIRNAME/fixtures/vindr"

ingest_fixture() {
    "$BIN/ingest" vindr --csv "$F/train.csv" --test-csv "$F/test.csv" --images "$F/images" --sizes "$F/sizes.csv" "$@"
}

rec() { jq -c --arg id "$1" "select(.id == \$id) | $2" "$BATS_TEST_TMPDIR/v.jsonl"; }

@test "ingest, ingest vindr, ingest coco and export print usage" {
    for cmd in "ingest --help" "ingest vindr --help" "ingest coco --help" "export coco --help"; do
        run $BIN/$cmd
        [ "$status" -eq 0 ]
        [[ "$output" == Usage:* ]]
    done
    run "$BIN/ingest"
    [ "$status" -eq 2 ]
    run "$BIN/ingest" pascal
    [ "$status" -eq 2 ]
}

@test "ingest vindr: the fixture, field by field" {
    ingest_fixture > "$BATS_TEST_TMPDIR/v.jsonl" 2>/dev/null
    [ "$(jq -r .id "$BATS_TEST_TMPDIR/v.jsonl" | tr '\n' ' ')" = "img01 img02 img03 img04 img05 img06 img07 img08 img09 img10 img12 img11 " ]
    [ "$(rec img01 '[.image, .width, .height, .annotators]')" = "[\"$F/images/img01.png\",2000,1600,[\"R8\",\"R9\",\"R10\"]]" ]
    [ "$(rec img01 '.annotations')" = '[{"annotator":"R8","label":"Aortic enlargement","box":[900,500,1100,700]},{"annotator":"R9","label":"Aortic enlargement","box":[910,505,1105,690]}]' ]
    # all found nothing: three readers, no box
    [ "$(rec img02 '[.annotators, .annotations]')" = '[["R8","R9","R10"],[]]' ]
    # not in --sizes: the frame is the file's
    [ "$(rec img03 '[.width, .height, (.annotations | length)]')" = '[120,100,3]' ]
    # a fourth reader who drew nothing still counts
    [ "$(rec img04 '.annotators')" = '["R8","R9","R10","R4"]' ]
    # boxes on the border, and a quoted class name
    [ "$(rec img05 '[.annotations[] | [.label, .box]]')" = '[["Lung Opacity",[0,0,2000,1600]],["Nodule/Mass",[1999,1599,2000,1600]]]' ]
    # the consensus CSV goes into truth; img11 only there
    [ "$(rec img11 '[.annotators, .annotations, .truth]')" = '[[],[],[{"label":"Aortic enlargement","box":[950,480,1120,690]},{"label":"Cardiomegaly","box":[700,900,1400,1200]}]]' ]
    # a DICOM file: its frame from --sizes
    [ "$(rec img12 '[.image, .width, .height, (.annotations | length), (.truth | length)]')" = "[\"$F/images/img12.dicom\",64,64,1,1]" ]
    # the records are valid
    "$BIN/validate" --quiet < "$BATS_TEST_TMPDIR/v.jsonl" > /dev/null
}

@test "ingest vindr: a consensus image with nothing found has an empty truth" {
    printf 'image_id,class_name,x_min,y_min,x_max,y_max\nimg03,No finding,,,,\nimg11,No finding,,,,\n' > "$BATS_TEST_TMPDIR/t.csv"
    "$BIN/ingest" vindr --csv "$F/train.csv" --test-csv "$BATS_TEST_TMPDIR/t.csv" --images "$F/images" --sizes "$F/sizes.csv" \
        2>/dev/null > "$BATS_TEST_TMPDIR/v.jsonl"
    [ "$(rec img03 '[(.annotations | length), .truth]')" = '[3,[]]' ]
    [ "$(rec img11 '[.annotators, .annotations, .truth]')" = '[[],[],[]]' ]
    [ "$(jq -c 'select(has("truth")) | .id' "$BATS_TEST_TMPDIR/v.jsonl" | tr '\n' ' ')" = '"img03" "img11" ' ]
}

@test "ingest vindr: the Rads subset keeps images read by exactly R8, R9, R10" {
    "$BIN/ingest" vindr --csv "$F/train.csv" --images "$F/images" --sizes "$F/sizes.csv" --annotators R8,R9,R10 --require-all \
        > "$BATS_TEST_TMPDIR/r.jsonl" 2>/dev/null
    [ "$(jq -r .id "$BATS_TEST_TMPDIR/r.jsonl" | tr '\n' ' ')" = "img01 img02 img05 img07 img09 img10 img12 " ]
    # the consensus images are kept whoever read them (img11 only in test.csv): they are the test split
    ingest_fixture --annotators R8,R9,R10 --require-all > "$BATS_TEST_TMPDIR/r.jsonl" 2>/dev/null
    [ "$(jq -r .id "$BATS_TEST_TMPDIR/r.jsonl" | tr '\n' ' ')" = "img01 img02 img05 img07 img09 img10 img12 img11 " ]
    [ "$(jq -c 'select(.id == "img11") | [.annotators, (.truth | length)]' "$BATS_TEST_TMPDIR/r.jsonl")" = '[[],2]' ]
    # without --require-all: images read by any of them, with their annotations only
    ingest_fixture --annotators R8,R9,R10 > "$BATS_TEST_TMPDIR/v.jsonl" 2>/dev/null
    [ "$(jq -r .id "$BATS_TEST_TMPDIR/v.jsonl" | tr '\n' ' ')" = "img01 img02 img04 img05 img07 img08 img09 img10 img12 img11 " ]
    [ "$(rec img04 '.annotators')" = '["R8","R9","R10"]' ]
    [ "$(rec img08 '[.annotators, .annotations]')" = '[["R8","R9","R10"],[]]' ]
}

@test "COCO round trip: ingest, export, ingest gives the same records" {
    ingest_fixture 2>/dev/null > "$BATS_TEST_TMPDIR/v.jsonl"
    "$BIN/export" coco --field annotations < "$BATS_TEST_TMPDIR/v.jsonl" > "$BATS_TEST_TMPDIR/c.json" 2>/dev/null
    jq -e '(.images | length) == 12 and (.annotations | length) == 22 and (.categories | map(.name) | . == sort)' "$BATS_TEST_TMPDIR/c.json" >/dev/null
    jq -e '.annotations[0] | .bbox == [900,500,200,200] and .attributes.annotator == "R8" and .area == 40000' "$BATS_TEST_TMPDIR/c.json" >/dev/null
    "$BIN/ingest" coco "$BATS_TEST_TMPDIR/c.json" > "$BATS_TEST_TMPDIR/back.jsonl" 2>/dev/null
    cmp <(jq -c '{id, image, width, height, annotators, annotations}' "$BATS_TEST_TMPDIR/v.jsonl") \
        <(jq -c '{id, image, width, height, annotators, annotations}' "$BATS_TEST_TMPDIR/back.jsonl")
    # truth the same way
    "$BIN/export" coco --field truth < <(jq -c 'select(.truth)' "$BATS_TEST_TMPDIR/v.jsonl") > "$BATS_TEST_TMPDIR/t.json" 2>/dev/null
    "$BIN/ingest" coco "$BATS_TEST_TMPDIR/t.json" 2>/dev/null | jq -c '[.id, .truth]' > "$BATS_TEST_TMPDIR/t1"
    jq -c 'select(.truth) | [.id, .truth]' "$BATS_TEST_TMPDIR/v.jsonl" | cmp - "$BATS_TEST_TMPDIR/t1"
}

@test "ingest coco: a plain COCO file becomes truth; export --results writes loadRes input" {
    cat > "$BATS_TEST_TMPDIR/p.json" <<'JSON'
{"images":[{"id":7,"file_name":"a/x1.jpg","width":50,"height":40}],"categories":[{"id":3,"name":"cat"}],
 "annotations":[{"id":1,"image_id":7,"category_id":3,"bbox":[1,2,10,20],"area":200,"iscrowd":0}]}
JSON
    run bash -c "'$BIN/ingest' coco '$BATS_TEST_TMPDIR/p.json' --image-dir data 2>/dev/null"
    [ "$output" = '{"id":"x1","image":"data/a/x1.jpg","width":50,"height":40,"annotators":[],"truth":[{"label":"cat","box":[1.0,2.0,11.0,22.0]}]}' ]
    run bash -c "echo '{\"id\":\"a\",\"image\":\"a.jpg\",\"width\":10,\"height\":10,\"detections\":[{\"label\":\"z\",\"box\":[1,1,3,4],\"score\":0.5}]}' | '$BIN/export' coco --field detections --results 2>/dev/null"
    [ "$output" = '[{"image_id":1,"category_id":1,"bbox":[1.0,1.0,2.0,3.0],"score":0.5}]' ]
}

# ---- bad input ----------------------------------------------------------------

bad_csv() {   # CSV body (after the header), expected message
    printf 'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\n%s\n' "$1" > "$BATS_TEST_TMPDIR/b.csv"
    run "$BIN/ingest" vindr --csv "$BATS_TEST_TMPDIR/b.csv" --images "$F/images" --sizes "$F/sizes.csv"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == "ingest vindr: $BATS_TEST_TMPDIR/b.csv: $2"* ]]
}

@test "a CSV with missing columns" {
    printf 'image_id,class_name,rad_id,x_min,y_min,x_max\nimg01,ILD,R8,1,2,3\n' > "$BATS_TEST_TMPDIR/b.csv"
    run "$BIN/ingest" vindr --csv "$BATS_TEST_TMPDIR/b.csv" --images "$F/images"
    [ "$status" -eq 1 ]
    [[ "$output" == "ingest vindr: $BATS_TEST_TMPDIR/b.csv: line 1: missing column \"y_max\""* ]]
}

@test "a box with x_max < x_min, a non-numeric coordinate, a class without a box" {
    bad_csv 'img01,ILD,5,R8,30,10,20,40' 'line 2: x_max 20 <= x_min 30 (an empty or inverted box)'
    bad_csv 'img01,ILD,5,R8,10,10,10,40' 'line 2: x_max 10 <= x_min 10 (an empty or inverted box)'
    bad_csv 'img01,ILD,5,R8,10,40,20,40' 'line 2: y_max 40 <= y_min 40 (an empty or inverted box)'
    bad_csv "$(printf 'img01,ILD,5,R8,10,10,20,40\nimg01,ILD,5,R9,1O,10,20,40')" 'line 3: x_min "1O" is not a number'
    bad_csv 'img01,ILD,5,R8,,,,' 'line 2: class "ILD" has no box'
    bad_csv 'img01,ILD,5,R8,10,10,20' 'line 2: 7 fields, expected at least 8'
    bad_csv 'img01,"ILD,5,R8,10,10,20,40' 'line 2: unterminated quoted field'
}

@test "ingest vindr: text that is not UTF-8, or holds a NUL byte, is an error with its line; nothing is written" {
    # an image_id, a class_name, a rad_id
    for row in '\xff\xfe,ILD,5,R8,1,1,5,5' 'img01,IL\xe9D,5,R8,1,1,5,5' 'img01,ILD,5,R\xc0\xaf,1,1,5,5'; do
        printf "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\nimg02,ILD,5,R8,1,1,5,5\n$row\n" > "$BATS_TEST_TMPDIR/u.csv"
        run --separate-stderr "$BIN/ingest" vindr --csv "$BATS_TEST_TMPDIR/u.csv" --images "$F/images" --sizes "$F/sizes.csv"
        echo "$stderr"
        [ "$status" -eq 1 ]
        [[ "$stderr" == "ingest vindr: $BATS_TEST_TMPDIR/u.csv: line 3: field "*" is not valid UTF-8"* ]]
        [ -z "$output" ]
    done
    printf 'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\nimg01,IL\0D,5,R8,1,1,5,5\n' > "$BATS_TEST_TMPDIR/n.csv"
    run --separate-stderr "$BIN/ingest" vindr --csv "$BATS_TEST_TMPDIR/n.csv" --images "$F/images" --sizes "$F/sizes.csv"
    [ "$status" -eq 1 ]
    [ "$stderr" = "ingest vindr: $BATS_TEST_TMPDIR/n.csv: line 2: field 2 holds a NUL byte" ]
    [ -z "$output" ]
}

@test "ingest vindr: a missing image, after images that are there, leaves stdout empty" {
    printf 'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\nimg01,ILD,5,R8,10,10,20,40\nimg02,No finding,14,R8,,,,\nimg99,ILD,5,R8,10,10,20,40\n' \
        > "$BATS_TEST_TMPDIR/b.csv"
    run --separate-stderr "$BIN/ingest" vindr --csv "$BATS_TEST_TMPDIR/b.csv" --images "$F/images" --sizes "$F/sizes.csv"
    [ "$status" -eq 1 ]
    [ "$stderr" = "ingest vindr: $BATS_TEST_TMPDIR/b.csv: line 4: no image img99.{png,jpg,jpeg,dicom,dcm} in $F/images" ]
    [ -z "$output" ]
}

@test "ingest vindr: a box within 0.5 px past the frame is clipped, and the records pass validate" {
    printf 'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\nimg01,ILD,5,R8,-0.4,10,2000.5,1600.3\n' > "$BATS_TEST_TMPDIR/b.csv"
    "$BIN/ingest" vindr --csv "$BATS_TEST_TMPDIR/b.csv" --images "$F/images" --sizes "$F/sizes.csv" 2>/dev/null > "$BATS_TEST_TMPDIR/c.jsonl"
    [ "$(jq -c '.annotations[0].box' "$BATS_TEST_TMPDIR/c.jsonl")" = '[0,10,2000,1600]' ]
    "$BIN/validate" --quiet < "$BATS_TEST_TMPDIR/c.jsonl"
}

@test "an image that cannot be found or decoded" {
    bad_csv 'img99,ILD,5,R8,10,10,20,40' "line 2: no image img99.{png,jpg,jpeg,dicom,dcm} in $F/images"
    mkdir -p "$BATS_TEST_TMPDIR/im"
    echo "not an image" > "$BATS_TEST_TMPDIR/im/img01.png"
    printf 'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\nimg01,ILD,5,R8,1,1,2,2\n' > "$BATS_TEST_TMPDIR/b.csv"
    run "$BIN/ingest" vindr --csv "$BATS_TEST_TMPDIR/b.csv" --images "$BATS_TEST_TMPDIR/im"
    [ "$status" -eq 1 ]
    [ "$output" = "ingest vindr: $BATS_TEST_TMPDIR/b.csv: line 2: $BATS_TEST_TMPDIR/im/img01.png: not a JPEG or PNG image" ]
}

@test "a size mismatch, and boxes outside the frame" {
    printf 'image_id,width,height\nimg01,1600,2000\n' > "$BATS_TEST_TMPDIR/s.csv"
    printf 'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\nimg01,ILD,5,R8,1,1,2,2\n' > "$BATS_TEST_TMPDIR/b.csv"
    run "$BIN/ingest" vindr --csv "$BATS_TEST_TMPDIR/b.csv" --images "$F/images" --sizes "$BATS_TEST_TMPDIR/s.csv"
    [ "$status" -eq 1 ]
    [[ "$output" == *"line 2: size mismatch: $F/images/img01.png is 100x80, but --sizes says 1600x2000"* ]]
    printf 'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\nimg03,ILD,5,R8,10,10,200,40\n' > "$BATS_TEST_TMPDIR/b.csv"
    run "$BIN/ingest" vindr --csv "$BATS_TEST_TMPDIR/b.csv" --images "$F/images"
    [ "$status" -eq 1 ]
    [[ "$output" == *"b.csv: line 2: image img03: box [10,10,200,40] exceeds its 120x100 frame"* ]]
    # the consensus CSV's line, for a box of --test-csv
    printf 'image_id,class_name,x_min,y_min,x_max,y_max\nimg03,ILD,1,1,2,2\nimg03,ILD,10,10,20,140\n' > "$BATS_TEST_TMPDIR/t.csv"
    run "$BIN/ingest" vindr --csv "$F/train.csv" --test-csv "$BATS_TEST_TMPDIR/t.csv" --images "$F/images" --sizes "$F/sizes.csv"
    [ "$status" -eq 1 ]
    [[ "$output" == *"t.csv: line 3: image img03: box [10,10,20,140] exceeds its 120x100 frame"* ]]
}

bad_coco() {   # images JSON, annotations JSON, expected message after the file name
    printf '{"images":[%s],"categories":[{"id":1,"name":"x"}],"annotations":[%s]}' "$1" "$2" > "$BATS_TEST_TMPDIR/c.json"
    run --separate-stderr "$BIN/ingest" coco "$BATS_TEST_TMPDIR/c.json"
    echo "$stderr"
    [ "$status" -eq 1 ]
    [ "$stderr" = "ingest coco: $BATS_TEST_TMPDIR/c.json: $3" ]
    [ -z "$output" ]
}

@test "ingest coco: what it would write and validate would refuse is an error with its place; nothing is written" {
    local ok='{"id":1,"file_name":"a.jpg","width":8,"height":8}' ann='{"id":1,"image_id":1,"category_id":1,"bbox":[1,1,2,2],"attributes":{"annotator":"R1"}}'
    # a first, good image, so that a bad second one shows that nothing went out
    bad_coco "$ok"',{"id":2,"file_name":"b.jpg","width":8,"height":8,"annotators":[{}]}' "$ann" \
        'images[1]: "annotators"[0] must be a non-empty string or an integer'
    bad_coco "$ok"',{"id":2,"file_name":"b.jpg","width":8,"height":8,"annotators":[""]}' "$ann" \
        'images[1]: "annotators"[0] must be a non-empty string or an integer'
    bad_coco "$ok"',{"id":2,"file_name":"b.jpg","width":8,"height":8,"annotators":["R2","R2"]}' "$ann" \
        'images[1]: the record would not pass validate: annotator "R2" is listed twice in "annotators"'
    bad_coco "$ok"',{"id":2,"file_name":"b.jpg","width":5000000,"height":8}' "$ann" \
        'images[1]: "width" and "height" must be at most 1000000'
    bad_coco "$ok"',{"id":2,"file_name":"b.jpg","record_id":"","width":8,"height":8}' "$ann" \
        'images[1]: empty record id (from "record_id")'
    bad_coco "$ok"',{"id":2,"file_name":"dir/","width":8,"height":8}' "$ann" \
        'images[1]: empty record id (from "file_name")'
    bad_coco "$ok" '{"id":1,"image_id":1,"category_id":1,"bbox":[1,1,0,2],"attributes":{"annotator":"R1"}}' \
        'annotations[0]: "bbox" [1,1,0,2] has no area (width and height must be > 0)'
    bad_coco "$ok" '{"id":1,"image_id":1,"category_id":1,"xyxy":[3,1,3,2],"attributes":{"annotator":"R1"}}' \
        'annotations[0]: "xyxy" [3,1,3,2] is inverted or empty (need x1<x2, y1<y2)'
    bad_coco "$ok" '{"id":1,"image_id":1,"category_id":1,"bbox":[4,4,6,2],"attributes":{"annotator":"R1"}}' \
        'annotations[0]: box [4,4,10,6] is outside the 8x8 frame of image 1'
    bad_coco "$ok" '{"id":1,"image_id":1,"category_id":1,"bbox":[1,1,2,2],"attributes":{"annotator":""}}' \
        'annotations[0]: names no annotator'
}

@test "ingest coco: integer annotators become strings; a box 0.5 px past the frame is clipped; the records pass validate" {
    printf '{"images":[{"id":1,"file_name":"a.jpg","width":8,"height":8,"annotators":[7,"R1"]}],"categories":[{"id":1,"name":"x"}],"annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[-0.25,1,8.5,2],"annotator_id":7}]}' \
        > "$BATS_TEST_TMPDIR/c.json"
    "$BIN/ingest" coco "$BATS_TEST_TMPDIR/c.json" 2>/dev/null > "$BATS_TEST_TMPDIR/c.jsonl"
    [ "$(jq -c '[.annotators, .annotations[0].annotator, .annotations[0].box]' "$BATS_TEST_TMPDIR/c.jsonl")" = '[["7","R1"],"7",[0,1,8,3]]' ]
    "$BIN/validate" --quiet < "$BATS_TEST_TMPDIR/c.jsonl"
}

@test "ingest coco: malformed files are data errors" {
    echo '{"images":[' > "$BATS_TEST_TMPDIR/m.json"
    run "$BIN/ingest" coco "$BATS_TEST_TMPDIR/m.json"
    [ "$status" -eq 1 ]
    [[ "$output" == "ingest coco: $BATS_TEST_TMPDIR/m.json: line "* ]]
    echo '{"images":[{"id":1,"file_name":"a.jpg","width":5,"height":5}],"categories":[],"annotations":[{"id":1,"image_id":2,"category_id":1,"bbox":[0,0,1,1]}]}' > "$BATS_TEST_TMPDIR/m.json"
    run "$BIN/ingest" coco "$BATS_TEST_TMPDIR/m.json"
    [ "$output" = "ingest coco: $BATS_TEST_TMPDIR/m.json: annotations[0]: unknown image_id" ]
    echo '[]' > "$BATS_TEST_TMPDIR/m.json"
    run "$BIN/ingest" coco "$BATS_TEST_TMPDIR/m.json"
    [[ "$output" == *"a results list has no images"* ]]
}

@test "a generated 15,000-image VinDr CSV (no images, --sizes) is ingested" {
    awk 'BEGIN { srand(5); print "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max"
                 for (i = 0; i < 15000; i++) for (r = 0; r < 3; r++) {
                     rad = "R" (1 + int(17 * rand()))
                     if (rand() < 0.6) printf "i%05d,No finding,14,%s,,,,\n", i, rad
                     else { x = 2000 * rand(); y = 2000 * rand(); printf "i%05d,Nodule/Mass,8,%s,%.1f,%.1f,%.1f,%.1f\n", i, rad, x, y, x + 100, y + 120 } } }' \
        > "$BATS_TEST_TMPDIR/big.csv"
    awk 'BEGIN { print "image_id,width,height"; for (i = 0; i < 15000; i++) printf "i%05d,2500,2500\n", i }' > "$BATS_TEST_TMPDIR/big-sizes.csv"
    run bash -c "'$BIN/ingest' vindr --csv '$BATS_TEST_TMPDIR/big.csv' --no-images --sizes '$BATS_TEST_TMPDIR/big-sizes.csv' 2>&1 > '$BATS_TEST_TMPDIR/big.jsonl'"
    [ "$status" -eq 0 ]
    [ "$(wc -l < "$BATS_TEST_TMPDIR/big.jsonl")" -eq 15000 ]
    "$BIN/validate" --quiet < "$BATS_TEST_TMPDIR/big.jsonl" > /dev/null
    # the VinDr pipeline's split of 15,000 images: 12,000 (11,250 + 750) / 3,000, by image
    run "$BIN/split" --stratify --ratios 0.75,0.05,0.2 --names train,val,test --seed 1 --prefix "$BATS_TEST_TMPDIR/s/" < "$BATS_TEST_TMPDIR/big.jsonl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"15000 records -> train 11250 val 750 test 3000"* ]]
    run "$BIN/split" --stratify --ratios 0.8,0.2 --names train,val --seed 1 --prefix "$BATS_TEST_TMPDIR/s/" < "$BATS_TEST_TMPDIR/big.jsonl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"15000 records -> train 12000 val 3000"* ]]
}

@test "the VinDr pipeline converts DICOM to PNG (window, MONOCHROME1, resize) in parallel" {
    d="$BATS_TEST_TMPDIR/d"
    mkdir -p "$d/train"
    cp "$F/images/img12.dicom" "$d/train/img12.dicom"
    cp "$F/images/img12.dicom" "$d/train/img13.dicom"
    cp "$F/images/img12.dicom" "$d/train/unused.dicom"
    dcmodify -nb -m "(0028,0004)=MONOCHROME1" "$d/train/img13.dicom"
    # an icon image in a sequence has rows and columns of its own: the top-level ones count
    dcmodify -nb -i "(0088,0200)[0].(0028,0010)=16" -i "(0088,0200)[0].(0028,0011)=16" "$d/train/img13.dicom"
    { head -n1 "$F/train.csv"; grep '^img12' "$F/train.csv"; grep '^img12' "$F/train.csv" | sed 's/^img12/img13/'; } > "$d/train.csv"
    run make -s -C "$ROOT" -f pipelines/vindr.mk VINDR="$d" RUN="$d/run" WIDTH=32 -j2 "$d/run/records.jsonl"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(cat "$d/run/sizes.csv")" = "$(printf 'image_id,width,height\nimg12,64,64\nimg13,64,64')" ]
    [ "$("$IMGCHECK" "$d/run/images/img12.png" "$d/run/images/img13.png" | sort -u)" = "32 32 1" ]
    # only the images the CSV names are converted
    [ "$(ls "$d/run/images")" = "$(printf 'img12.png\nimg13.png')" ]
    # MONOCHROME1 is shown inverted: the two renderings add up to white
    paste -d+ <("$IMGCHECK" --row 5 "$d/run/images/img12.png" | tr ' ' '\n') <("$IMGCHECK" --row 5 "$d/run/images/img13.png" | tr ' ' '\n') \
        | awk -F+ '{ print $1 + $2 }' | sort -u | tr '\n' ' ' | grep -E '^(25[4-6] )+$'
    [ "$(jq -c '[.id, .width, .height]' "$d/run/records.jsonl" | tr '\n' ' ')" = '["img12",64,64] ["img13",64,64] ' ]
    # a stored window (centre 60, width 40) is applied: values outside it saturate
    cp "$F/images/img12.dicom" "$d/w.dicom"
    dcmodify -nb -i "(0028,1050)=60" -i "(0028,1051)=40" "$d/w.dicom"
    "$ROOT/scripts/dicom2png.sh" "$d/w.dicom" "$d/w.png"
    row=$("$IMGCHECK" --row 5 "$d/w.png")
    [[ "$row" == "0 0 0 "* && "$row" == *" 255 255 255 "* ]]
    [[ "$("$IMGCHECK" --row 5 "$d/run/images/img12.png")" != "0 "* ]]
    [ "$(jq -r .image "$d/run/records.jsonl" | tr '\n' ' ')" = "$d/run/images/img12.png $d/run/images/img13.png " ]
    assert_no_temp_files "$d"
}

@test "export coco holds the records as text, not as a JSON tree: peak memory below the output's size" {
    # 4000 records of 50 detections: 12 MB in, 33 MB out (the whole tree took 418 MB)
    jq -nc 'range(4000) as $i | {id: "r\($i)", image: "i\($i).jpg", width: 640, height: 480,
        detections: [range(50) as $k | {label: "c\($k % 7)", box: [$k, $k + 0.5, $k + 10.25, $k + 20.125], score: (0.5 + $k / 200)}]}' \
        > "$BATS_TEST_TMPDIR/big.jsonl"
    run python3 -c '
import os, resource, subprocess, sys
with open(sys.argv[2]) as fin, open(sys.argv[3], "wb") as fout:
    subprocess.run([sys.argv[1], "coco", "--field", "detections"], stdin=fin, stdout=fout, stderr=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, os.path.getsize(sys.argv[3]))' \
        "$BIN/export" "$BATS_TEST_TMPDIR/big.jsonl" "$BATS_TEST_TMPDIR/big.json"
    echo "peak bytes, output bytes: $output"
    [ "$status" -eq 0 ]
    read -r peak size <<< "$output"
    [ "$size" -gt 30000000 ] && [ "$peak" -lt "$size" ]
    [ "$(jq '[(.images | length), (.annotations | length), (.categories | length), .annotations[-1].id]' -c "$BATS_TEST_TMPDIR/big.json")" = '[4000,200000,7,200000]' ]
}

@test "export coco --results: a box without a score is an error with its line, and nothing is written" {
    printf '{"id":"a","image":"a.jpg","width":10,"height":10,"truth":[{"label":"z","box":[1,1,3,4]}]}\n' > "$BATS_TEST_TMPDIR/t.jsonl"
    run --separate-stderr "$BIN/export" coco --field truth --results < "$BATS_TEST_TMPDIR/t.jsonl"
    [ "$status" -eq 1 ]
    [ "$stderr" = "export coco: line 1: truth[0]: --results needs scores (use --field detections or objects)" ]
    [ -z "$output" ]
}
