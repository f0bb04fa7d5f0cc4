#!/usr/bin/env bash
# vindr-images.sh "CSV ..." DIR ...: the image file of every image_id named in the CSVs,
# one path per line, sorted by id. The folders are searched without recursion; where an
# id has several files, the first folder wins, then the extension in ingest's order
# (.png .jpg .jpeg .dicom .dcm). Ids without a file are left out: ingest names them with
# their CSV line. Used by pipelines/vindr.mk to convert only the images it needs.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: vindr-images.sh \"CSV ...\" DIR ..." >&2; exit 2; }
csvs=$1
shift
for csv in $csvs; do
    [ -r "$csv" ] || { echo "vindr-images.sh: cannot read $csv" >&2; exit 1; }
done
dir_rank=0
for d in "$@"; do
    dir_rank=$((dir_rank + 1))
    [ -d "$d" ] || continue
    find "$d" -maxdepth 1 \( -type f -o -type l \) \
        \( -name '*.png' -o -name '*.jpg' -o -name '*.jpeg' -o -name '*.dicom' -o -name '*.dcm' \) \
        -printf "$dir_rank\t%p\n"
done | awk -F'\t' -v csvs="$csvs" '
BEGIN {
    n = split(csvs, files, " ")
    for (i = 1; i <= n; i++) {
        col = 0
        header = 1
        while ((getline line < files[i]) > 0) {
            sub(/\r$/, "", line)
            nf = split(line, a, ",")
            if (header) {
                sub(/^\xef\xbb\xbf/, "", a[1])
                for (k = 1; k <= nf; k++) { gsub(/"/, "", a[k]); if (a[k] == "image_id") col = k }
                header = 0
                continue
            }
            if (col) { id = a[col]; gsub(/"/, "", id); if (id != "") want[id] = 1 }
        }
        close(files[i])
    }
    ext_rank["png"] = 1; ext_rank["jpg"] = 2; ext_rank["jpeg"] = 3; ext_rank["dicom"] = 4; ext_rank["dcm"] = 5
}
{
    path = $2
    name = path; sub(/.*\//, "", name)
    stem = name; sub(/\.[^.]*$/, "", stem)
    ext = substr(name, length(stem) + 2)
    if (!(stem in want)) next
    rank = $1 * 10 + ext_rank[ext]
    if (!(stem in best) || rank < best_rank[stem]) { best[stem] = path; best_rank[stem] = rank }
}
END { for (s in best) print s "\t" best[s] }' | LC_ALL=C sort | cut -f2-
