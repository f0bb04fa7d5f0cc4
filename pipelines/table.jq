# table.json from the score files of every seed (outer) and method (inner), in that order.
# Arguments: $names (methods), $seeds, $run, $reference, $paper ([] or [{method: {map40, map50_95}}]).
def mean: add / length;
def sd: if length < 2 then 0 else (mean as $m | map(. - $m | . * .) | add / (length - 1) | sqrt) end;
($names | split(" ")) as $n | ($seeds | split(" ")) as $s | [inputs] as $r
| {run: $run, reference: $reference, seeds: ($s | map(tonumber)), test_images: $r[0].images, paper_given: ($paper | length > 0),
   methods: [range(0; $n | length) as $j
             | [range(0; $s | length) as $i | $r[$i * ($n | length) + $j]] as $per
             | {method: $n[$j],
                map40: ($per | map(.map40) | {mean: mean, sd: sd, seeds: .}),
                map50_95: ($per | map(.map50_95) | {mean: mean, sd: sd, seeds: .}),
                paper: ($paper[0][$n[$j]] // null)}]}
# A method against a reference: the gains of the means, and the seeds where it is ahead at mAP@0.4.
| def versus($a; $b): {method: $a.method, against: $b.method,
      map40_gain: ($a.map40.mean - $b.map40.mean), map50_95_gain: ($a.map50_95.mean - $b.map50_95.mean),
      seeds_better_map40: ([range(0; $s | length) as $i | select($a.map40.seeds[$i] > $b.map40.seeds[$i])] | length)};
  . as $t
| def find($m): $t.methods | map(select(.method == $m)) | first;
  find("baseline") as $b | find("wbf-earl") as $w | find("em-earl") as $e
| (if $b and $w then .wbf_earl_vs_baseline = versus($w; $b) else . end)
| .comparisons = [(if $e and $b then versus($e; $b) else empty end), (if $e and $w then versus($e; $w) else empty end)]
