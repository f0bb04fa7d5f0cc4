# The mean absolute error of estimated matrices against the true ones, over every entry of
# the real-class rows (no_obj's row, the labels of false positives, is left out). Classes
# and annotators are matched by name. Arguments: $est, $true (slurped matrices files).
$est[0] as $e | $true[0] as $t
| ($e.classes | to_entries | map({key: .value, value: .key}) | from_entries) as $ei
| [$t.experts[] as $x
   | ($e.experts | map(select(.name == $x.name)) | first) as $y
   | range(0; $t.classes | length) as $i | select($t.classes[$i] != "no_obj")
   | range(0; $t.classes | length) as $j
   | ($x.matrix[$i][$j] - (if $y and $ei[$t.classes[$i]] != null and $ei[$t.classes[$j]] != null
                           then $y.matrix[$ei[$t.classes[$i]]][$ei[$t.classes[$j]]] else 0 end)) | fabs]
| {mae: (add / length), entries: length}
