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
  clang libclang-rt-14-dev llvm                   # fuzzing: libFuzzer, symbolised stacks
  dataset-fashion-mnist                           # Fashion-MNIST in /usr/share/datasets
  python3 python3-numpy python3-torch libopenblas0  # PyTorch reference and side-by-side benchmark
  # Federated learning (issue #13): gRPC for Flower's transport; Python peers and openssl in tests
  libgrpc++-dev protobuf-compiler-grpc python3-grpcio python3-protobuf openssl
)
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

[ "${1:-}" = "--no-build" ] && exit 0
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
echo "setup: built build/edgetrain"
