# table.md from table.json: mean ± standard deviation over the seeds.
def f: (. * 1000 | round / 1000) as $v | if $v == 0 then "0" else ($v | tostring) end;
def paper_f: if . == null then "—" else f end;
def name_of: {baseline: "Baseline (all annotations)", ensemble: "Ensemble of annotator models", wbf: "WBF",
            "mv-earl": "MV + EARL", "wbf-earl": "WBF + EARL", em: "EM", "em-earl": "EM + EARL (soft targets)",
            gold: "Gold labels"}[.] // "\(.) alone";
def signed: if . >= 0 then "+\(f)" else f end;
def against_name: if . == "baseline" then "the baseline" else name_of end;
"# \(.run): the test split (\(.test_images) images) scored against \(.reference), mean ± sd over seeds \(.seeds | map(tostring) | join(", "))\n",
"| method | mAP@0.4 | mAP@[.5:.95] | paper: mAP@0.4 | paper: mAP@[.5:.95] |",
"|---|---|---|---|---|",
(.methods[] | "| \(.method | name_of) | \(.map40.mean | f) ± \(.map40.sd | f) | \(.map50_95.mean | f) ± \(.map50_95.sd | f) | \(.paper.map40 | paper_f) | \(.paper.map50_95 | paper_f) |"),
"",
(if .paper_given then "The paper's columns are its reported numbers (from PAPER), for reference: other code, other hardware."
 else "The paper's columns are empty: its reported numbers are not stored in this project; give PAPER=FILE (JSON: method → {map40, map50_95}) to print them." end),
"",
(if .wbf_earl_vs_baseline then
   .wbf_earl_vs_baseline as $c
   | "WBF + EARL against the baseline: mAP@0.4 \(if $c.map40_gain >= 0 then "+" else "" end)\($c.map40_gain | f), mAP@[.5:.95] \(if $c.map50_95_gain >= 0 then "+" else "" end)\($c.map50_95_gain | f); better in \($c.seeds_better_map40) of \(.seeds | length) seeds (mAP@0.4)\(if $c.map40_gain > 0 then "." else ": WBF + EARL did NOT beat the baseline here." end)"
 else empty end)
,
((.seeds | length) as $ns | .comparisons // [] | .[]
 | "\(.method | name_of) against \(.against | against_name): mAP@0.4 \(.map40_gain | signed), mAP@[.5:.95] \(.map50_95_gain | signed); ahead in \(.seeds_better_map40) of \($ns) seeds (mAP@0.4).")
