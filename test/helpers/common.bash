# Shared set-up for the Bats suites.
ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
BIN="$ROOT/bin"
# The build folder of the configuration `make test` built (passed as BUILD), else the first.
if [ -z "${BUILD:-}" ]; then
    BUILD="$(ls -dt "$ROOT"/build/rel-*/test/imgcheck 2>/dev/null | head -n1)"
    BUILD="${BUILD%/test/imgcheck}"
fi
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
MNIST="$ROOT/data/mnist/images-idx3-ubyte"
IMGCHECK="$BUILD/test/imgcheck"
HELPERS="$ROOT/test/helpers"

# The small fused training and validation splits the train suites share (48 and 16 images,
# seed 21) into DIR/train.jsonl and DIR/val.jsonl, their images under DIR/img.
small_train_val() {
    "$BIN/simulate" --quiet --n 48 --seed 21 --out "$1/img" | "$BIN/fuse" --quiet > "$1/train.jsonl"
    "$BIN/simulate" --quiet --n 16 --first 48 --seed 21 --out "$1/img" | "$BIN/fuse" --quiet > "$1/val.jsonl"
}

# Fails the test with a message when the file holds any leftover temporary file.
assert_no_temp_files() {
    local left
    left="$(find "$1" -name '*.tmp.*' 2>/dev/null | head -n3)"
    if [ -n "$left" ]; then
        echo "temporary files left behind: $left"
        return 1
    fi
}
