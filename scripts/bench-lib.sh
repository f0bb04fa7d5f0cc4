# Shared by the bench scripts: timing and the figure-anchor-ratio row.

# median_of N INPUT CMD...: median wall time in seconds of N runs of CMD with INPUT on
# stdin (/dev/null for none) and stdout discarded.
median_of() {
    local n="$1" input="$2" t=()
    shift 2
    for ((i = 0; i < n; i++)); do
        local s e
        s=$(date +%s.%N)
        "$@" < "$input" > /dev/null
        e=$(date +%s.%N)
        t+=("$(awk -v a="$s" -v b="$e" 'BEGIN { print b - a }')")
    done
    printf '%s\n' "${t[@]}" | sort -g | sed -n "$(( (n + 1) / 2 ))p"
}
