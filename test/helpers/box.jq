# Box geometry for the tests: boxes are [x1,y1,x2,y2].
def clip0: if . < 0 then 0 else . end;
def area: ((.[2] - .[0]) | clip0) * ((.[3] - .[1]) | clip0);
def inter($a; $b):
  (([$a[2], $b[2]] | min) - ([$a[0], $b[0]] | max) | clip0)
  * (([$a[3], $b[3]] | min) - ([$a[1], $b[1]] | max) | clip0);
def iou($a; $b): inter($a; $b) as $i | ($a | area) + ($b | area) - $i | if . > 0 then $i / . else 0 end;
