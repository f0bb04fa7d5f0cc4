# One method's precision-recall curve at IoU 0.4 from score --curves (slurped): recall and
# the precision averaged over the classes with truth, one line per recall point.
[.[] | select(.iou == 0.4 and .ap != null)] as $c
| range(0; 101) as $i
| "\($c[0].recall[$i]) \([$c[].precision[$i]] | add / length)"
