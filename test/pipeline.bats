#!/usr/bin/env bats
# The MED-MNIST pipeline fragment, at a small size.

load helpers/common

@test "pipelines/medmnist.mk builds disjoint train/val/test splits that share experts" {
    run make -s -C "$ROOT" -f pipelines/medmnist.mk RUN="$BATS_TEST_TMPDIR/run" TRAIN_N=60 VAL_N=20 TEST_N=20 data
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"train: 60 images"* ]]
    r="$BATS_TEST_TMPDIR/run"
    [ "$(cat "$r/train.jsonl" "$r/val.jsonl" "$r/test.jsonl" | jq -r .id | sort -u | wc -l)" -eq 100 ]
    # disjoint digits
    [ "$(jq '.truth[].mnist_index' "$r/train.jsonl" | sort -n | tail -n1)" -lt 7000 ]
    [ "$(jq '.truth[].mnist_index' "$r/val.jsonl" | sort -n | head -n1)" -ge 7000 ]
    [ "$(jq '.truth[].mnist_index' "$r/val.jsonl" | sort -n | tail -n1)" -lt 8500 ]
    [ "$(jq '.truth[].mnist_index' "$r/test.jsonl" | sort -n | head -n1)" -ge 8500 ]
    [ "$(head -n1 "$r/test.jsonl" | jq -r .id)" = "med-000080" ]
    [ -s "$r/matrices.json" ]
    # fused splits: the same records with "objects", and the agreement report
    cmp <(jq -c 'del(.objects)' "$r/train.fused.jsonl") <(jq -c . "$r/train.jsonl")
    [ "$(jq -s '[.[].objects | length] | add' "$r/test.fused.jsonl")" -gt 20 ]
    [ "$(jq -c '.annotators | keys' "$r/val.agreement.json")" = '["R1","R2","R3"]' ]
    [ "$(jq '.images' "$r/test.fusion-score.json")" -eq 20 ]
    jq -e '.map40 > 0.3 and .map40 <= 1' "$r/test.fusion-score.json" >/dev/null
    ! ls "$r"/*.tmp 2>/dev/null
}

@test "the method half: models, predictions, scores with CIs, summary and pictures; nothing rebuilt twice; EPOCHS retrains only" {
    r="$BATS_TEST_TMPDIR/run"
    opts=(RUN="$r" TRAIN_N=40 VAL_N=16 TEST_N=16 EPOCHS=2 IMG=64 BOOT=50 DEVICE=cpu)
    run make -s -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}"
    echo "$output"
    [ "$status" -eq 0 ]
    for f in summary.json summary.md training.png pr-curves.png sheet-fusion.png sheet-predictions.png \
        models/baseline.safetensors models/wbf-earl.safetensors models/em-earl.safetensors \
        models/baseline.log.jsonl models/wbf-earl.log.jsonl models/em-earl.log.jsonl \
        test.baseline.pred.jsonl test.wbf-earl.pred.jsonl test.em-earl.pred.jsonl \
        test.baseline.score.json test.wbf-earl.score.json test.em-earl.score.json \
        test.baseline.curves.jsonl test.wbf-earl.curves.jsonl test.em-earl.curves.jsonl \
        train.em.jsonl train.em-matrices.json test.em-fusion-score.json; do
        [ -s "$r/$f" ] || { echo "missing $f"; false; }
    done
    [ "$(head -c 4 "$r/training.png" | tail -c 3)" = PNG ]
    [ "$(head -c 4 "$r/pr-curves.png" | tail -c 3)" = PNG ]
    jq -e '.test_images == 16 and .dataset == "medmnist" and .settings.epochs == 2 and .settings.bootstrap == 50' "$r/summary.json"
    jq -e '[.methods[].method] == ["baseline", "wbf-earl", "em-earl"]' "$r/summary.json"
    jq -e 'all(.methods[]; (.map40 | . >= 0 and . <= 1) and (.map50_95 | . >= 0 and . <= 1) and .map50_95 <= .map40
        and (.map40_ci | length == 2 and .[0] >= 0 and .[0] <= .[1] and .[1] <= 1)
        and (.map50_95_ci | length == 2 and .[0] >= 0 and .[0] <= .[1] and .[1] <= 1))' "$r/summary.json"
    jq -e '.fusion_only.map40 > 0.3 and .fusion_only.map40 <= 1' "$r/summary.json"
    jq -e '.em_fusion_only.map40 > 0.3 and .em_fusion_only.map40 <= 1' "$r/summary.json"
    grep -q '^| WBF + EARL | ' "$r/summary.md"
    grep -q '^| EM + EARL (soft targets) | ' "$r/summary.md"
    grep -q "^EM's fused targets alone" "$r/summary.md"
    grep -q '^| Baseline (all annotations) | ' "$r/summary.md"
    grep -q '](training.png)' "$r/summary.md"
    grep -q '](sheet-fusion.png)' "$r/summary.md"
    [ "$(head -c 4 "$r/sheet-predictions.png" | tail -c 3)" = PNG ]
    [ "$(wc -l < "$r/test.wbf-earl.pred.jsonl")" -eq 16 ]
    ! ls "$r"/*.tmp "$r"/models/*.tmp "$r"/models/*.part.* 2>/dev/null
    # a second run has nothing to rebuild; a new EPOCHS retrains without simulating again
    run make -q -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" methods
    [ "$status" -eq 0 ]
    run make -n -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" EPOCHS=3
    [[ "$output" == *"bin/train"*"--epochs 3"* ]]
    [[ "$output" != *"bin/simulate"* && "$output" != *"bin/fuse"* ]]
    # a new validation truth retrains; a new SCORE_TRUTH or BOOT scores again, no training
    run make -n -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" VAL_TRUTH=objects methods
    [[ "$output" == *"bin/train"*"--val-truth objects"* ]]
    run make -n -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" SCORE_TRUTH=objects methods
    [[ "$output" == *"bin/score --truth objects"* && "$output" != *"bin/train"* && "$output" != *"bin/predict"* ]]
    run make -n -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" BOOT=60 methods
    [[ "$output" == *"bin/score --truth truth --bootstrap 60"* && "$output" != *"bin/train"* ]]
    # ensemble needs annotators to have models
    run make -n -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" ANNOTATORS= METHODS=ensemble methods
    [ "$status" -ne 0 ]
    [[ "$output" == *"unknown method 'ensemble' in METHODS (baseline wbf mv-earl wbf-earl em em-earl gold)"* ]]
    run make -q -C "$ROOT" -f pipelines/medmnist.mk "${opts[@]}" methods
    [ "$status" -eq 0 ]
}

@test "make pipeline and make experiments refuse an unknown dataset, and VinDr without VINDR=DIR" {
    run make -s -C "$ROOT" pipeline DATASET=nope
    [ "$status" -eq 2 ]
    [[ "$output" == *"make pipeline: DATASET=nope: unknown dataset (medmnist, vindr, vindr-rads)"* ]]
    run make -s -C "$ROOT" pipeline DATASET=vindr
    [ "$status" -eq 2 ]
    [[ "$output" == *"DATASET=vindr needs VINDR=DIR"* ]]
    run make -s -C "$ROOT" experiments DATASET=vindr-rads VINDR="$BATS_TEST_TMPDIR/none"
    [ "$status" -eq 2 ]
    [[ "$output" == *"VINDR=$BATS_TEST_TMPDIR/none: no such folder"* ]]
    echo '{"baseline": {"map40": "0.41"}}' > "$BATS_TEST_TMPDIR/paper.json"
    run make -s -C "$ROOT" -f pipelines/experiments.mk RUN="$BATS_TEST_TMPDIR/exp" PAPER="$BATS_TEST_TMPDIR/paper.json"
    [ "$status" -ne 0 ]
    [[ "$output" == *"PAPER=$BATS_TEST_TMPDIR/paper.json: not a JSON object of method -> {map40, map50_95} numbers"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/exp" ]
    mkdir "$BATS_TEST_TMPDIR/empty"
    run make -s -C "$ROOT" -f pipelines/vindr.mk VINDR="$BATS_TEST_TMPDIR/empty" RUN="$BATS_TEST_TMPDIR/r"
    [ "$status" -ne 0 ]
    [[ "$output" == *"no $BATS_TEST_TMPDIR/empty/train.csv (train.csv or annotations/annotations_train.csv)"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/r" ]
}

@test "make experiments: every method over two seeds, table.json and table.md with mean ± sd and the verdict" {
    r="$BATS_TEST_TMPDIR/exp"
    run make -s -C "$ROOT" -f pipelines/experiments.mk RUN="$r" SEEDS="1 2" TRAIN_N=24 VAL_N=8 TEST_N=8 EPOCHS=1 IMG=64 BOOT=10 \
        DEVICE=cpu EXP_METHODS="baseline R1 R2 R3 ensemble wbf mv-earl wbf-earl em em-earl gold"
    echo "$output"
    [ "$status" -eq 0 ]
    jq -e '.seeds == [1, 2] and .test_images == 8' "$r/table.json"
    jq -e '[.methods[].method] == ["baseline", "R1", "R2", "R3", "ensemble", "wbf", "mv-earl", "wbf-earl", "em", "em-earl", "gold"]' "$r/table.json"
    jq -e 'all(.methods[]; (.map40.seeds | length == 2) and .map40.sd >= 0 and (.map40.mean | . >= 0 and . <= 1)
        and ((.map40.seeds | add / 2) - .map40.mean | fabs < 1e-12))' "$r/table.json"
    jq -e '.wbf_earl_vs_baseline.seeds_better_map40 | . >= 0 and . <= 2' "$r/table.json"
    grep -q '^| MV + EARL | .* ± ' "$r/table.md"
    grep -q '^| Ensemble of annotator models | ' "$r/table.md"
    grep -q '^WBF + EARL against the baseline: ' "$r/table.md"
    grep -q '^| EM + EARL (soft targets) | .* ± ' "$r/table.md"
    grep -q '^EM + EARL (soft targets) against the baseline: .*; ahead in [0-2] of 2 seeds' "$r/table.md"
    grep -q '^EM + EARL (soft targets) against WBF + EARL: ' "$r/table.md"
    jq -e '[.comparisons[] | [.method, .against]] == [["em-earl", "baseline"], ["em-earl", "wbf-earl"]]' "$r/table.json"
    # EM's targets: soft for em-earl; em keeps the objects more likely real than not
    jq -e -s '[.[].objects[] | .probs | add] | all(. > 0.999 and . < 1.001)' "$r/train.em.jsonl"
    jq -e -s '[.[].objects[].exists] | all(. >= 0.5)' "$r/train.em-real.jsonl"
    [ -s "$r/train.em-matrices.json" ] && [ -s "$r/train.em-report.json" ]    # the ensemble's detections are its members' fused, and each seed trained its own models
    [ "$(wc -l < "$r/seed-1/test.ensemble.pred.jsonl")" -eq 8 ]
    ! cmp -s "$r/seed-1/models/wbf-earl.safetensors" "$r/seed-2/models/wbf-earl.safetensors"
    [ -s "$r/train.mv.jsonl" ]
}

# The VinDr-CXR fixture (test/fixtures/vindr): 11 images of train.csv in PNG, JPEG and DICOM,
# original frames in sizes.csv, two consensus images in test.csv. Eleven images are too few
# for the stratified 12,000/3,000 split, so the tests split by hash with wider ratios.
VINDR_F="$BATS_TEST_DIRNAME/fixtures/vindr"
VINDR_OPTS=(VINDR="$VINDR_F" WIDTH=32 STRATIFY= RATIOS=0.5,0.25,0.25 VAL_RATIOS=0.6,0.4 EPOCHS=2 IMG=64 MODEL=cpu BOOT=20 DEVICE=cpu)

@test "make pipeline DATASET=vindr: the fixture end to end, scored against the held-out fused boxes, and the summary says so" {
    r="$BATS_TEST_TMPDIR/vindr"
    run make -s -C "$ROOT" pipeline DATASET=vindr OUT="$r" "${VINDR_OPTS[@]}" -j2
    echo "$output"
    [ "$status" -eq 0 ]
    for f in summary.json summary.md training.png pr-curves.png sheet-fusion.png sheet-predictions.png sizes.csv records.jsonl \
        models/baseline.safetensors models/wbf-earl.safetensors test.baseline.score.json test.wbf-earl.score.json; do
        [ -s "$r/$f" ] || { echo "missing $f"; false; }
    done
    # the DICOM converted at WIDTH, the PNG and JPEG files linked as they are, frames kept
    [ "$("$IMGCHECK" "$r/images/img12.png")" = "32 32 1" ]
    [ "$(readlink "$r/images/img02.jpg")" = "$VINDR_F/images/img02.jpg" ]
    [ ! -e "$r/images/img11.png" ]   # test.csv's image is not used without VINDR_TEST
    [ "$(jq -c 'select(.id == "img12" or .id == "img04") | [.id, .width, .height]' "$r/records.jsonl" | tr '\n' ' ')" = '["img04",3000,3000] ["img12",64,64] ' ]
    # split by image: the parts are disjoint and hold every image of train.csv
    [ "$(cat "$r"/{train,val,test}.jsonl | jq -r .id | sort | uniq -d)" = "" ]
    [ "$(cat "$r"/{train,val,test}.jsonl | jq -r .id | sort | tr '\n' ' ')" = "img01 img02 img03 img04 img05 img06 img07 img08 img09 img10 img12 " ]
    cmp <(jq -c 'del(.objects)' "$r/test.fused.jsonl") <(jq -c . "$r/test.jsonl")
    jq -e '.dataset == "vindr" and .truth == "objects" and (.reference | test("held-out split.s fused boxes")) and (.reference | test("no VINDR_TEST"))
        and .test_images == ([inputs] | length) and (has("fusion_only") | not) and .settings.epochs == 2' "$r/summary.json" "$r/test.jsonl"
    jq -e '[.methods[].method] == ["baseline", "wbf-earl", "em-earl"] and all(.methods[]; (.map40 | . >= 0 and . <= 1)
        and (.map40_ci | .[0] >= 0 and .[0] <= .[1] and .[1] <= 1) and .map50_95 <= .map40)' "$r/summary.json"
    grep -q "^# vindr: the test split, .* images, scored against the held-out split's fused boxes" "$r/summary.md"
    grep -q '^| WBF + EARL | ' "$r/summary.md"
    # the same score as score --truth objects on the predictions
    [ "$("$BIN/score" --truth objects < "$r/test.wbf-earl.pred.jsonl" | jq .map40)" = "$(jq '.methods[1].map40' "$r/summary.json")" ]
    assert_no_temp_files "$r"
    ! ls "$r"/*.tmp "$r"/models/*.tmp 2>/dev/null
    # nothing to rebuild; a new EPOCHS retrains without converting, ingesting or fusing again
    run make -q -C "$ROOT" -f pipelines/vindr.mk RUN="$r" "${VINDR_OPTS[@]}" methods
    [ "$status" -eq 0 ]
    run make -n -C "$ROOT" -f pipelines/vindr.mk RUN="$r" "${VINDR_OPTS[@]}" EPOCHS=3
    [[ "$output" == *"bin/train"*"--epochs 3"* ]]
    [[ "$output" != *"dicom2png"* && "$output" != *"bin/ingest"* && "$output" != *"bin/fuse"* ]]
    # a new WIDTH converts the DICOM again (and what depends on it), not the linked files;
    # new ingest options ingest again; new split options split again
    run make -n -C "$ROOT" -f pipelines/vindr.mk RUN="$r" "${VINDR_OPTS[@]}" WIDTH=48 data
    [[ "$output" == *"dicom2png.sh $VINDR_F/images/img12.dicom $r/images/img12.png 48"* && "$output" == *"bin/ingest"* ]]
    [[ "$output" != *"ln -sfn"* ]]
    run make -n -C "$ROOT" -f pipelines/vindr.mk RUN="$r" "${VINDR_OPTS[@]}" RADS=1 data
    [[ "$output" == *"bin/ingest vindr"*"--annotators R8,R9,R10 --require-all"* && "$output" != *"dicom2png"* ]]
    run make -n -C "$ROOT" -f pipelines/vindr.mk RUN="$r" "${VINDR_OPTS[@]}" RATIOS=0.4,0.3,0.3 data
    [[ "$output" == *"bin/split  --ratios 0.4,0.3,0.3"* && "$output" != *"bin/ingest"* ]]
    # VAL_RATIOS is not used without VINDR_TEST: nothing to redo
    run make -q -C "$ROOT" -f pipelines/vindr.mk RUN="$r" "${VINDR_OPTS[@]}" VAL_RATIOS=0.7,0.3 methods
    [ "$status" -eq 0 ]
    # the same images from another folder are converted again
    cp -r "$VINDR_F" "$BATS_TEST_TMPDIR/other"
    touch -d '2001-01-01' "$BATS_TEST_TMPDIR/other"/*.csv "$BATS_TEST_TMPDIR/other"/images/*
    run make -n -C "$ROOT" -f pipelines/vindr.mk RUN="$r" "${VINDR_OPTS[@]}" VINDR="$BATS_TEST_TMPDIR/other" data
    [[ "$output" == *"dicom2png.sh $BATS_TEST_TMPDIR/other/images/img12.dicom"* && "$output" == *"bin/ingest vindr --csv $BATS_TEST_TMPDIR/other/train.csv"* ]]
    # and those dry runs changed nothing
    run make -q -C "$ROOT" -f pipelines/vindr.mk RUN="$r" "${VINDR_OPTS[@]}" methods
    [ "$status" -eq 0 ]
}

@test "make pipeline DATASET=vindr with VINDR_TEST: the consensus images are the test split, scored against the consensus" {
    r="$BATS_TEST_TMPDIR/vindr-test"
    run make -s -C "$ROOT" pipeline DATASET=vindr OUT="$r" VINDR_TEST="$VINDR_F/test.csv" "${VINDR_OPTS[@]}"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(jq -r .id "$r/test.jsonl" | sort | tr '\n' ' ')" = "img11 img12 " ]
    [ "$(cat "$r"/{train,val}.jsonl | jq -r .id | sort | tr '\n' ' ')" = "img01 img02 img03 img04 img05 img06 img07 img08 img09 img10 " ]
    # img11 is only in test.csv: it is converted too, and its truth is the consensus, in its frame
    [ "$(jq -c 'select(.id == "img11") | [.width, .height, [.truth[].label], .annotations]' "$r/test.fused.jsonl")" = '[2000,1600,["Aortic enlargement","Cardiomegaly"],[]]' ]
    jq -e '.truth == "truth" and (.reference | test("consensus \\(test.csv\\)")) and .test_images == 2' "$r/summary.json"
    grep -q "scored against the radiologists' consensus (test.csv)" "$r/summary.md"
    assert_no_temp_files "$r"
    # the Rads subset keeps the consensus images as its test split, whoever read them
    run make -s -C "$ROOT" -f pipelines/vindr.mk DATASET=vindr-rads RUN="$r-rads" VINDR_TEST="$VINDR_F/test.csv" "${VINDR_OPTS[@]}" data
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(jq -r .id "$r-rads/test.jsonl" | sort | tr '\n' ' ')" = "img11 img12 " ]
    [ "$(cat "$r-rads"/{train,val}.jsonl | jq -r .id | sort | tr '\n' ' ')" = "img01 img02 img05 img07 img09 img10 " ]
}

@test "the VinDr pipeline reads PhysioNet's layout: annotations/annotations_train.csv, train/ and test/ DICOM folders" {
    d="$BATS_TEST_TMPDIR/physionet"
    mkdir -p "$d/annotations" "$d/train" "$d/test"
    for i in 01 02 03; do cp "$VINDR_F/images/img12.dicom" "$d/train/img$i.dicom"; done
    cp "$VINDR_F/images/img12.dicom" "$d/test/img11.dicom"
    { head -n1 "$VINDR_F/train.csv"; grep '^img12' "$VINDR_F/train.csv" | sed 's/^img12/img01/'
      grep '^img12' "$VINDR_F/train.csv" | sed 's/^img12/img02/'; grep '^img12' "$VINDR_F/train.csv" | sed 's/^img12/img03/'; } \
        > "$d/annotations/annotations_train.csv"
    printf 'image_id,rad_id,class_name,x_min,y_min,x_max,y_max\nimg11,R11,Nodule/Mass,5,6,20,30\n' > "$d/annotations/annotations_test.csv"
    run make -s -C "$ROOT" -f pipelines/vindr.mk VINDR="$d" RUN="$d/run" VINDR_TEST="$d/annotations/annotations_test.csv" \
        WIDTH=32 STRATIFY= VAL_RATIOS=0.5,0.5 SEED=1 -j2 data
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(ls "$d/run/images" | tr '\n' ' ')" = "img01.png img02.png img03.png img11.png " ]
    [ "$(jq -c '[.id, .width, .height, .truth]' "$d/run/test.jsonl")" = '["img11",64,64,[{"label":"Nodule/Mass","box":[5,6,20,30]}]]' ]
    [ "$(cat "$d/run/train.jsonl" "$d/run/val.jsonl" | jq -r .id | sort | tr '\n' ' ')" = "img01 img02 img03 " ]
}

@test "DATASET=vindr-rads keeps the images read by exactly R8, R9 and R10, and make experiments trains one model per reader" {
    r="$BATS_TEST_TMPDIR/rads"
    run make -s -C "$ROOT" experiments DATASET=vindr-rads OUT="$r" SEEDS=1 "${VINDR_OPTS[@]}" RATIOS=0.4,0.3,0.3 EPOCHS=1
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(jq -r .id "$r/records.jsonl" | tr '\n' ' ')" = "img01 img02 img05 img07 img09 img10 img12 " ]
    [ "$(jq -c .annotators "$r/records.jsonl" | sort -u)" = '["R8","R9","R10"]' ]
    jq -e '[.methods[].method] == ["baseline", "R8", "R9", "R10", "ensemble", "wbf", "mv-earl", "wbf-earl", "em", "em-earl"]' "$r/table.json"
    jq -e '(.reference | test("fused boxes")) and .paper_given == false and all(.methods[]; .paper == null)' "$r/table.json"
    grep -q '^| R9 alone | ' "$r/table.md"
    grep -q "^The paper's columns are empty" "$r/table.md"
    ! grep -q 'Gold' "$r/table.md"
}

@test "the VinDr pipeline: a split left empty, a missing image and a bad CSV line stop it with a message and nothing half-written" {
    r="$BATS_TEST_TMPDIR/bad"
    run make -s -C "$ROOT" -f pipelines/vindr.mk RUN="$r" "${VINDR_OPTS[@]}" RATIOS=0.98,0.01,0.01 data
    [ "$status" -ne 0 ]
    [[ "$output" == *"vindr.mk: the val split is empty (11 images; RATIOS=0.98,0.01,0.01): give more images or other ratios"* ]]
    [ ! -e "$r/train.jsonl" ] && [ ! -e "$r/val.jsonl" ] && [ ! -e "$r/test.jsonl" ]
    d="$BATS_TEST_TMPDIR/d"
    mkdir -p "$d/images"
    cp "$VINDR_F/images/img01.png" "$VINDR_F/train.csv" "$VINDR_F/sizes.csv" "$d/"
    run make -s -C "$ROOT" -f pipelines/vindr.mk VINDR="$d" RUN="$d/run" data
    [ "$status" -ne 0 ]
    [[ "$output" == *"$d/train.csv: line 5: no image img02.{png,jpg,jpeg,dicom,dcm} in $d/run/images"* ]]
    [ ! -e "$d/run/records.jsonl" ]
    # a DICOM without its rows: no size row, no records
    d2="$BATS_TEST_TMPDIR/norows"
    mkdir -p "$d2"
    cp "$VINDR_F/images/img12.dicom" "$d2/img12.dicom"
    dcmodify -nb -e "(0028,0010)" "$d2/img12.dicom"
    grep '^image_id\|^img12' "$VINDR_F/train.csv" > "$d2/train.csv"
    run make -s -C "$ROOT" -f pipelines/vindr.mk VINDR="$d2" RUN="$d2/run" "$d2/run/sizes.csv"
    [ "$status" -ne 0 ]
    [[ "$output" == *"vindr.mk: $d2/img12.dicom: cannot read its columns and rows"* ]]
    [ ! -e "$d2/run/size/img12.csv" ] && [ ! -e "$d2/run/sizes.csv" ]
    # nor can DCMTK render it
    run make -s -C "$ROOT" -f pipelines/vindr.mk VINDR="$d2" RUN="$d2/run" data
    [ "$status" -ne 0 ]
    [[ "$output" == *"Missing attribute"* || "$output" == *"cannot read its columns and rows"* ]]
    [ ! -e "$d2/run/images/img12.png" ] && [ ! -e "$d2/run/records.jsonl" ]
    printf 'image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\nimg01,Aortic enlargement,0,R8,900,500,800,700\n' > "$d/train.csv"
    run make -s -C "$ROOT" -f pipelines/vindr.mk VINDR="$d" RUN="$d/run" data
    [ "$status" -ne 0 ]
    [[ "$output" == *"$d/train.csv: line 2: x_max 800 <= x_min 900 (an empty or inverted box)"* ]]
    [ ! -e "$d/run/records.jsonl" ]
    assert_no_temp_files "$BATS_TEST_TMPDIR"
}
