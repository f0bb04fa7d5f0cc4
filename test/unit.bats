#!/usr/bin/env bats
# The C unit tests of the shared library, one Bats case per test program.

load helpers/common

run_unit() {
    run "$BUILD/test/$1"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *", 0 failed"* ]]
}

@test "unit: box geometry against hand-computed values" { run_unit test_box; }
@test "unit: record parsing of good and bad lines" { run_unit test_record; }
@test "unit: JPEG and PNG round trip, corrupt files, resize, letterbox" { run_unit test_image; }
@test "unit: IDX files" { run_unit test_idx; }
@test "unit: random generator" { run_unit test_rng; }
@test "unit: option parsers" { run_unit test_cli; }
@test "unit: CSV rows, quoting, NUL bytes and UTF-8" { run_unit test_csv; }
@test "unit: the CPU team tuner on simulated machines" { run_unit test_team; }
@test "unit: simulator matrices, boxes and canvases" { run_unit test_simulate; }
@test "unit: device probe" { run_unit test_device; }
@test "unit: fast JSON scanner, number parsing and formatting" { run_unit test_jscan; }
@test "unit: weighted boxes fusion and numpy's sums and sort" { run_unit test_wbf; }
@test "unit: COCO evaluation against hand-computed results" { run_unit test_evaluate; }
@test "unit: detector layers' backward against finite differences" { run_unit test_layers; }
@test "unit: loss math (BCE, CIoU, box decoding) against finite differences" { run_unit test_loss_math; }
@test "unit: safetensors weights files" { run_unit test_safetensors; }
@test "unit: the assembled YOLOv5-layout network: sizes and backward" { run_unit test_net; }
@test "unit: YOLOv5 loss with EARL weights" { run_unit test_loss; }
@test "unit: decoding detections: best class, boxes, scores, class-wise NMS" { run_unit test_detect; }
@test "unit: iterative stratification: hand-computed parts, quotas, invariances" { run_unit test_stratify; }
@test "unit: locating objects across labels, one box per annotator" { run_unit test_locate; }
@test "unit: Dawid-Skene EM: a case by hand, planted matrices and spreads, renumbering, threads" { run_unit test_truth_em; }
@test "unit: the NCCL path loads NCCL and makes ids (the GPU processes' gradient sums)" { run_unit test_nccl; }
