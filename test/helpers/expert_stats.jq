# Compares each simulated expert's behaviour with its transition matrix.
# Input: the records (slurped); $M: the --matrices file (slurped).
# Output: a list of failures, empty when every statistic is within 4 standard errors.
include "box";
($M[0].experts) as $experts
| [ .[] as $r
    | range(0; $r.truth | length) as $j
    | ($r.truth[$j].label | tonumber) as $t
    | $experts[] | .name as $k | .matrix as $A
    | ([ $r.annotations[] | select(.annotator == $k and .truth_index == $j) | .label | tonumber ]) as $given
    | { k: $k, t: $t, n: ($given | length),
        g: (if ($given | length) == 0 then 10 else $given[0] end),
        pc: $A[$t][$t], pm: $A[$t][10] } ]
| . as $events
| [ $experts[] | .name as $k
    | [ $events[] | select(.k == $k) ] as $e
    | ($e | length) as $n
    # each expert labels a digit at most once
    | (if ([ $e[] | select(.n > 1) ] | length) > 0 then "\($k): a digit labelled twice" else empty end),
      # label accuracy: observed correct labels against sum of the diagonal entries
      ( ([ $e[] | select(.g == .t) ] | length) as $obs
        | ([ $e[] | .pc ] | add) as $exp
        | ([ $e[] | .pc * (1 - .pc) ] | add | sqrt) as $se
        | if (($obs - $exp) | fabs) > 4 * $se + 1
          then "\($k): \($obs) correct labels of \($n), expected \($exp) +- \($se)" else empty end ),
      # no_obj: observed misses against the matrix's no_obj column
      ( ([ $e[] | select(.g == 10) ] | length) as $obs
        | ([ $e[] | .pm ] | add) as $exp
        | ([ $e[] | .pm * (1 - .pm) ] | add | sqrt) as $se
        | if (($obs - $exp) | fabs) > 4 * $se + 1
          then "\($k): \($obs) missed digits of \($n), expected \($exp) +- \($se)" else empty end ),
      # per class, where there are enough digits
      ( range(0; 10) as $c
        | [ $e[] | select(.t == $c) ] as $ec
        | ($ec | length) as $nc
        | select($nc >= 30)
        | ([ $ec[] | select(.g == $c) ] | length / $nc) as $acc
        | $ec[0].pc as $p
        | if (($acc - $p) | fabs) > 4 * (($p * (1 - $p) / $nc) | sqrt) + 0.02
          then "\($k): class \($c) accuracy \($acc) over \($nc) digits, matrix says \($p)" else empty end ) ]
