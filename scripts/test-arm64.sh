#!/usr/bin/env bash
# Cross-builds edgetrain for aarch64 (library, CLI and test suite, Release, into build-arm64/) and
# runs the whole suite under qemu-aarch64: the NEON kernels against their references, and
# everything else as on x86. Expects the dependencies from scripts/setup.sh (the cross compiler,
# qemu-user and the arm64 libraries). Extra arguments go to ctest, e.g. -R Gemm.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
cmake -S . -B build-arm64 -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DEDGETRAIN_BUILD_BENCH=OFF >/dev/null
cmake --build build-arm64
# A host binary here would mean the toolchain file was ignored and nothing ran under emulation.
readelf -h build-arm64/edgetrain | grep -q "Machine:.*AArch64" ||
  { echo "test-arm64: build-arm64/edgetrain is not an aarch64 binary" >&2; exit 1; }
echo "test-arm64: built in $((SECONDS - start)) s; running the suite under qemu-aarch64"
ctest --test-dir build-arm64 --output-on-failure -j "$(nproc)" "$@"
echo "test-arm64: done in $((SECONDS - start)) s"
