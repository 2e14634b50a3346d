#!/usr/bin/env bash
# edgetrain as another project uses it: installs into a temporary prefix and builds examples/ from
# outside the tree with find_package(edgetrain) and with pkg-config, runs them and the Python
# binding; builds the .deb with CPack, unpacks it into a scratch root (dpkg -x) and builds examples
# against that; configures edgetrain as a subproject without the CLI's and the tests' dependencies;
# builds the shared library and checks what it exports (nm -D). Prints the time of each part.
# Expects the dependencies from scripts/setup.sh and the shared data beside the checkout.
# Usage: scripts/test-install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir="$PWD"
shared="$source_dir/../shared"
work="$(mktemp -d /tmp/edgetrain-install.XXXXXX)"
trap 'rm -rf "$work"' EXIT
started=$SECONDS
part_name=""
part_started=$SECONDS
part() {  # part NAME: ends the previous part, printing its time, and starts the next
  [ -z "$part_name" ] || echo "test-install: $part_name: $((SECONDS - part_started)) s"
  part_name="$1"
  part_started=$SECONDS
  echo "test-install: ---- $1"
}
fail() {
  echo "test-install: FAILED: $*" >&2
  exit 1
}

# Runs the four examples built in $1 (a CMake build folder, or the copied sources for make).
run_examples() {
  local dir="$1" library_path="$2"
  (cd "$work" && "$dir/custom_cnn/custom_cnn" "$work/cnn.mlmodel") || fail "custom_cnn ($dir)"
  (cd "$work" && "$dir/tabular_regressor/tabular_regressor") || fail "tabular_regressor ($dir)"
  (cd "$work" && "$dir/fine_tune/fine_tune" "$shared/coreml-models/mnist-mlp-multiarray.mlmodel" \
    "$shared/data/mnist" "$work/fine_tuned.mlmodel") || fail "fine_tune ($dir)"
  (cd "$work" && LD_LIBRARY_PATH="$library_path" "$dir/c_api/c_api" \
    "$source_dir/examples/c_api/circle_model.json" "$work/c_api.mlmodel") || fail "c_api ($dir)"
}

part "the library and the CLI (build/, configured as scripts/test.sh does)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target edgetrain edgetrain_c edgetrain_cli
grep -q 'libedgetrain\.a' <<<"$(ninja -C build -t query edgetrain)" ||
  fail "'ninja edgetrain' does not build the library"

part "cmake --install into a temporary prefix"
prefix="$work/prefix"
cmake --install build --prefix "$prefix" >/dev/null
"$prefix/bin/edgetrain" --version
for file in include/edgetrain/edgetrain.h include/edgetrain/edgetrain_c.h \
  include/edgetrain/version.h lib/libedgetrain.a lib/libedgetrain_c.so \
  lib/cmake/edgetrain/edgetrainConfig.cmake lib/pkgconfig/edgetrain.pc lib/pkgconfig/edgetrain_c.pc \
  lib/python3/dist-packages/edgetrain.py; do
  [ -e "$prefix/$file" ] || fail "the install has no $file"
done
exported="$(nm -D --defined-only "$prefix/lib/libedgetrain_c.so" | awk '{print $3}')"
grep -qx edgetrain_train <<<"$exported" || fail "libedgetrain_c.so does not export edgetrain_train"
if grep -vq '^edgetrain_' <<<"$exported"; then
  fail "libedgetrain_c.so exports more than the C API: $(grep -v '^edgetrain_' <<<"$exported" |
    head -5)"
fi
echo "libedgetrain_c.so exports $(wc -l <<<"$exported") symbols, all edgetrain_*"

part "examples with find_package(edgetrain)"
cmake -S examples -B "$work/cmake-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake-build"
run_examples "$work/cmake-build" "$prefix/lib"

part "examples with pkg-config and their Makefiles"
cp -r examples "$work/make-build"
for example in custom_cnn tabular_regressor fine_tune c_api; do
  PKG_CONFIG_PATH="$prefix/lib/pkgconfig" make -s -C "$work/make-build/$example"
done
run_examples "$work/make-build" "$prefix/lib"

part "the Python module from the prefix"
PYTHONPATH="$prefix/lib/python3/dist-packages" /usr/bin/python3 -c '
import edgetrain, numpy as np
model = edgetrain.Model.load("'"$work"'/c_api.mlmodel")
print("python: edgetrain", edgetrain.version(), "predicts", model.predict(np.zeros(2)).round(3))'

part "the .deb (CPack), unpacked into a scratch root"
(cd "$work" && cpack -G DEB --config "$source_dir/build/CPackConfig.cmake" -B "$work/deb" \
  >/dev/null)
deb="$(ls "$work"/deb/edgetrain_*.deb)"
dpkg-deb --field "$deb" Package Version Depends
apt-get install --simulate --no-install-recommends "$deb" >/dev/null ||
  fail "$(basename "$deb") does not install here: its dependencies cannot be met"
root="$work/root"
dpkg -x "$deb" "$root"
[ -x "$root/usr/bin/edgetrain" ] && [ -f "$root/usr/lib/libedgetrain.a" ] ||
  fail "the .deb lacks the CLI or the library"
cmake -S examples/custom_cnn -B "$work/deb-cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$root/usr" >/dev/null
cmake --build "$work/deb-cmake"
(cd "$work" && "$work/deb-cmake/custom_cnn" "$work/cnn-deb.mlmodel") ||
  fail "custom_cnn from the .deb"
cp -r examples/c_api "$work/deb-make"
PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_PATH="$root/usr/lib/pkgconfig" make -s -C "$work/deb-make"
(cd "$work/deb-make" && LD_LIBRARY_PATH="$root/usr/lib" ./c_api circle_model.json \
  "$work/c_api-deb.mlmodel") || fail "c_api from the .deb"

part "edgetrain as a subproject: the library alone, without the CLI's or the tests' packages"
mkdir -p "$work/subproject"
cat >"$work/subproject/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.22)
project(consumer LANGUAGES CXX)
add_subdirectory("$source_dir" edgetrain)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE edgetrain::edgetrain)
EOF
echo 'int main() {}' >"$work/subproject/main.cpp"
no_packages=()
for package in GTest CURL OpenSSL CLI11 benchmark; do
  no_packages+=("-DCMAKE_DISABLE_FIND_PACKAGE_$package=ON")
done
cmake -S "$work/subproject" -B "$work/subproject/build" -G Ninja "${no_packages[@]}" >/dev/null ||
  fail "configuring edgetrain as a subproject needs a package it should not"
targets="$(ninja -C "$work/subproject/build" -t targets all)"
if grep -Eq '^(edgetrain_tests|edgetrain_cli|edgetrain_bench|edgetrain_commands):' \
  <<<"$targets"; then
  fail "a subproject builds more than the library"
fi
echo "configured as a subproject: library only, no GTest, CURL, OpenSSL, CLI11 or benchmark"

part "the shared library (EDGETRAIN_SHARED=ON): what it exports"
cmake -S . -B build-shared -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDGETRAIN_SHARED=ON \
  -DEDGETRAIN_BUILD_TESTS=OFF -DEDGETRAIN_BUILD_CLI=OFF -DEDGETRAIN_BUILD_BENCH=OFF >/dev/null
cmake --build build-shared --target edgetrain edgetrain_c
symbols="$(nm -D --defined-only -C build-shared/libedgetrain.so | cut -d' ' -f3-)"
grep -q '^edgetrain::load_model(' <<<"$symbols" || fail "libedgetrain.so does not export load_model"
grep -q '^edgetrain_train$' <<<"$symbols" || fail "libedgetrain.so does not export the C API"
grep -q '^typeinfo for edgetrain::Error$' <<<"$symbols" || fail "no typeinfo for edgetrain::Error"
internals='edgetrain::(ops|coreml|cli|detail|data|capi)::|CoreML::|google::'
if grep -Eq "$internals" <<<"$symbols"; then
  fail "libedgetrain.so exports internals: $(grep -E "$internals" <<<"$symbols" | head -3)"
fi
echo "libedgetrain.so exports $(wc -l <<<"$symbols") symbols: the public API, no internals"
cmake --install build-shared --prefix "$work/shared-prefix" >/dev/null
cmake -S examples/tabular_regressor -B "$work/shared-cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/shared-prefix" >/dev/null
cmake --build "$work/shared-cmake"
grep -q 'libedgetrain\.so' <<<"$(ldd "$work/shared-cmake/tabular_regressor")" ||
  fail "the example does not link libedgetrain.so"
LD_LIBRARY_PATH="$work/shared-prefix/lib" "$work/shared-cmake/tabular_regressor" ||
  fail "tabular_regressor against libedgetrain.so"

part "done"
echo "test-install: passed in $((SECONDS - started)) s"
