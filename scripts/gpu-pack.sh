#!/usr/bin/env bash
# Packs what `make gpu-check` needs on a GPU machine that lacks this project's build
# dependencies: the tools and test helpers of the CUDA build (stripped), the shared
# libraries they need beyond glibc, the C++ runtime and cuDNN (the GPU machine's PyTorch
# brings cuDNN), and the MNIST digits. Writes one archive:
#
#   bash scripts/gpu-pack.sh [BUILD] [ARCHIVE]     (defaults: build/rel-cuda, .devpack.tar.xz)
#
# On the GPU machine: mkdir -p /tmp/pack && tar xJf .devpack.tar.xz -C /tmp/pack &&
#                     GPU_PACK=/tmp/pack bash scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/rel-cuda}"
ARCHIVE="${2:-.devpack.tar.xz}"
[ -x "$BUILD/test/gpu_parity" ] || { echo "gpu-pack: $BUILD/test/gpu_parity is missing: run make first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/test" "$tmp/lib" "$tmp/mnist"
for t in train predict simulate fuse score devices; do strip -o "$tmp/bin/$t" "$BUILD/bin/$t"; done
for t in gpu_parity nn_bench; do strip -o "$tmp/test/$t" "$BUILD/test/$t"; done
ldd "$BUILD/bin/train" "$BUILD/test/nn_bench" | awk '$3 ~ /^\// { print $3 }' | sort -u |
    grep -Ev '/(libc|libm|libmvec|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libcudnn[a-z_]*)\.so' |
    while read -r l; do cp -L "$l" "$tmp/lib/"; done
gzip -c data/mnist/images-idx3-ubyte > "$tmp/mnist/images-idx3-ubyte.gz"
gzip -c data/mnist/labels-idx1-ubyte > "$tmp/mnist/labels-idx1-ubyte.gz"
tar cJf "$ARCHIVE" -C "$tmp" .
echo "gpu-pack: $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1)): $(ls "$tmp/bin" "$tmp/test" | grep -v : | tr '\n' ' ')+ $(ls "$tmp/lib" | wc -l) libraries"
