# summary.md from summary.json.
def f: . * 1000 | round / 1000 | tostring;
def ci: "\(.[0] | f)–\(.[1] | f)";
"# \(.dataset): the test split, \(.test_images) images, scored against \(.reference)\n",
"| method | mAP@0.4 | 95% CI | mAP@[.5:.95] | 95% CI |",
"|---|---|---|---|---|",
(.methods[] | "| \(.label) | \(.map40 | f) | \(.map40_ci | ci) | \(.map50_95 | f) | \(.map50_95_ci | ci) |"),
"",
(if .fusion_only then "The fused boxes alone, taken as detections: mAP@0.4 \(.fusion_only.map40 | f), mAP@[.5:.95] \(.fusion_only.map50_95 | f)." else empty end),
(if .em_fusion_only then "EM's fused targets alone (fuse --method em, score conf): mAP@0.4 \(.em_fusion_only.map40 | f), mAP@[.5:.95] \(.em_fusion_only.map50_95 | f)." else empty end),
"Settings: \(.settings.epochs) epochs, \(.settings.img) px, preset \(.settings.model), seed \(.settings.seed); CIs from \(.settings.bootstrap) bootstrap resamplings of the test images.\n",
"![the test split: every annotator's boxes and the fused ones (white, with their votes)](sheet-fusion.png)\n",
"![the test split: detections (yellow, with scores) against the reference (\(.truth))](sheet-predictions.png)\n",
"![training curves](training.png)\n",
"![precision-recall curves at IoU 0.4](pr-curves.png)"
