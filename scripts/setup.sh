#!/usr/bin/env bash
# Installs every dependency edgetrain needs on Debian 12 and builds it in Release into build/.
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev      # tests and micro-benchmarks
  libopenblas-dev                                 # bench/bench_blas.cpp: our GEMM vs OpenBLAS
  zlib1g-dev libcurl4-openssl-dev libssl-dev      # .gz data, fetch-data, MD5
  libcli11-dev nlohmann-json3-dev                 # command line, JSON
  libprotobuf-dev protobuf-compiler               # Core ML .mlmodel files
  libpng-dev                                      # PNG images for predict
  libjpeg62-turbo-dev                             # JPEG images in image folders (issue #11)
  clang libclang-rt-14-dev llvm                   # fuzzing: libFuzzer, symbolised stacks
  dataset-fashion-mnist                           # Fashion-MNIST in /usr/share/datasets
  python3 python3-numpy python3-torch libopenblas0  # PyTorch reference and side-by-side benchmark
  doxygen                                         # API reference (scripts/docs.sh)
  # ---- edgetrain serve: the HTTP server, and the browser its end-to-end test drives ----
  libcpp-httplib-dev chromium
  # ---- federated learning (issue #13): gRPC for Flower's transport; Python peers, openssl in tests
  libgrpc++-dev protobuf-compiler-grpc python3-grpcio python3-protobuf openssl
)
# ---- edgetrain serve: Node.js and npm for the page's chart library and the browser test, unless a
# Node.js is installed already (Debian's nodejs 18 is enough: web/package.json needs >= 18) ----
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
# ---- arm64 (issue #14): scripts/test-arm64.sh cross-builds for aarch64 and tests under qemu -----
# The cross compiler, the emulator, and the target's libraries through multiarch (installed beside
# the host's in /usr/lib/aarch64-linux-gnu; the header-only ones need no second copy).
packages+=(
  crossbuild-essential-arm64 qemu-user
  libgtest-dev:arm64 libgmock-dev:arm64 libprotobuf-dev:arm64 zlib1g-dev:arm64 libpng-dev:arm64
  libcurl4-openssl-dev:arm64 libssl-dev:arm64 libcpp-httplib-dev:arm64
  libjpeg62-turbo-dev:arm64  # image folders (issue #11)
)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  if [ "$(id -u)" = 0 ]; then dpkg --add-architecture arm64; else sudo dpkg --add-architecture arm64; fi
fi
# ---- end of arm64 ------------------------------------------------------------------------------

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- edgetrain serve: uPlot (embedded into the binary at build time) and playwright-core (the
# browser test), exactly as web/package-lock.json pins them ----
(cd web && npm ci --no-audit --no-fund --loglevel=error)

[ "${1:-}" = "--no-build" ] && exit 0
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
echo "setup: built build/edgetrain"
