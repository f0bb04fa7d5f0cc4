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

# Fails the test with a message when the file holds any leftover temporary file.
assert_no_temp_files() {
    local left
    left="$(find "$1" -name '*.tmp.*' 2>/dev/null | head -n3)"
    if [ -n "$left" ]; then
        echo "temporary files left behind: $left"
        return 1
    fi
}
