#!/usr/bin/env bash
# dicom2png.sh IN.dicom OUT.png [WIDTH]: one DICOM image to an 8-bit PNG with DCMTK.
# The stored window (VOI) is applied when the file has one, else its VOI LUT, else a
# min-max window; MONOCHROME1 comes out inverted as it is meant to be seen (DCMTK renders
# the photometric interpretation); WIDTH, when given, scales the image to that width.
# The PNG appears only when complete (written to a temporary name, then renamed).
set -euo pipefail
in="$1" out="$2" width="${3:-}"
if dcmdump +P 0028,1050 "$in" 2>/dev/null | grep -q .; then
    voi=(+Wi 1)          # the first stored window centre/width
elif dcmdump +P 0028,3010 "$in" 2>/dev/null | grep -q .; then
    voi=(+Wl 1)          # the first stored VOI LUT
else
    voi=(+Wm)            # no VOI in the file: min-max window
fi
scale=()
[ -n "$width" ] && scale=(+Sxv "$width")
tmp="$out.tmp.$$.png"
trap 'rm -f "$tmp"' EXIT
dcmj2pnm --write-png "${voi[@]}" "${scale[@]}" "$in" "$tmp"
mv "$tmp" "$out"
