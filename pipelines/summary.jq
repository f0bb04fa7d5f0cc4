# summary.json from the test split's score files (the inputs, in METHODS order) and the
# fusion scores of WBF's and EM's targets ($fusion, $em_fusion; [] when there is none). Arguments: $dataset, $names (METHODS),
# l_<method> (labels), $epochs $img $model $seed $boot, $truth (the field scored against)
# and $reference (what it is, in words).
($names | split(" ")) as $n | [inputs] as $s
| {dataset: $dataset, truth: $truth, reference: $reference, test_images: $s[0].images,
   settings: {epochs: $epochs, img: $img, model: $model, seed: $seed, bootstrap: $boot}}
| if ($fusion | length) > 0 then .fusion_only = {map40: $fusion[0].map40, map50_95: $fusion[0].map50_95} else . end
| if ($em_fusion | length) > 0 then .em_fusion_only = {map40: $em_fusion[0].map40, map50_95: $em_fusion[0].map50_95} else . end
| .methods = [range(0; $n | length) as $i | $s[$i] as $r
             | {method: $n[$i], label: $ARGS.named["l_" + $n[$i]],
                map40: $r.map40, map40_ci: $r.ci95.map40, map50_95: $r.map50_95, map50_95_ci: $r.ci95.map50_95}]
