# table.json of make truth: inputs are, per regime (outer) and seed, each method's score
# file, then em's matrices error. Arguments: $run $regimes $seeds $methods $n $fp, and
# $l_<regime> (the regime in words).
def mean: add / length;
def sd: if length < 2 then 0 else (mean as $m | map(. - $m | . * .) | add / (length - 1) | sqrt) end;
def stat: {mean: mean, sd: sd, seeds: .};
($regimes | split(" ")) as $rg | ($seeds | split(" ")) as $sd | ($methods | split(" ")) as $mt
| ($mt | length + 1) as $per_set | [inputs] as $in
| {run: $run, images: $n, fp_rate: $fp, seeds: ($sd | map(tonumber)),
   regimes: [range(0; $rg | length) as $r
     | [range(0; $sd | length) as $s | $in[($r * ($sd | length) + $s) * $per_set:($r * ($sd | length) + $s + 1) * $per_set]] as $sets
     | {regime: $rg[$r], label: $ARGS.named["l_" + $rg[$r]],
        methods: [range(0; $mt | length) as $m
          | {method: $mt[$m],
             map40: ($sets | map(.[$m].map40) | stat),
             map50_95: ($sets | map(.[$m].map50_95) | stat),
             label_accuracy: ($sets | map(.[$m].label_accuracy.accuracy) | stat)}],
        em_matrices_mae: ($sets | map(.[$mt | length].mae) | stat)}
     | . as $g
     | ($g.methods | map(select(.method == "em")) | first) as $em
     | ($g.methods | map(select(.method == "wbf")) | first) as $wbf
     | if $em and $wbf then .em_minus_wbf_map40 = ([range(0; $sd | length) as $s | $em.map40.seeds[$s] - $wbf.map40.seeds[$s]] | stat) else . end]}
