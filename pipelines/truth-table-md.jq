# table.md of make truth from table.json.
def f: (. * 1000 | round / 1000) as $v | if $v == 0 then "0" else ($v | tostring) end;
def pm: "\(.mean | f) ± \(.sd | f)";
def name_of: {mv: "MV (majority vote)", wbf: "WBF", wbf1: "WBF, one box per annotator", em: "EM (Dawid-Skene)",
              ceiling: "Bayes ceiling (true matrices and clusters)"}[.] // .;
"# \(.run): fused targets scored against the true digits",
"",
"\(.images) images per set, false positives at \(.fp_rate) per annotator and image; mean ± sd over seeds \(.seeds | map(tostring) | join(", ")). Each method's objects are scored as detections (score = conf); the label accuracy is that of the objects matched to a digit at IoU >= 0.5 whatever their label.",
(.regimes[] |
  "",
  "## \(.label)",
  "",
  "| method | mAP@0.4 | mAP@[.5:.95] | label accuracy |",
  "|---|---|---|---|",
  (.methods[] | "| \(.method | name_of) | \(.map40 | pm) | \(.map50_95 | pm) | \(.label_accuracy | pm) |"),
  "",
  "EM's matrices against the true ones: mean absolute error \(.em_matrices_mae | pm) over the real-class rows.",
  (if .em_minus_wbf_map40 then "EM − WBF at mAP@0.4: \(.em_minus_wbf_map40 | pm) (per seed: \(.em_minus_wbf_map40.seeds | map(f) | join(", ")))." else empty end))
