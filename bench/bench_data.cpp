// Reading data: read_csv over 60,000 MNIST-sized lines (the size of the MNIST training set), the
// speed tests/data/csv_test.cpp used to judge against 10 s. Speed belongs here, not in a test.
//
//   build/edgetrain_bench --benchmark_filter=ReadCsv
//
// The lines are seeded pixel values 0-255 in a temporary file; the work does not depend on them.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "edgetrain/data.h"

namespace {

// Writes `lines` CSV lines (a label, then 784 pixels) with a header; returns the path.
std::string write_csv(size_t lines) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("edgetrain-bench-" + std::to_string(::getpid()) + ".csv"))
                               .string();
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> pixel(0, 255);
  std::string text = "label";
  for (int i = 0; i < 784; ++i) {
    text += ",pixel";
    text += std::to_string(i);
  }
  text += '\n';
  for (size_t n = 0; n < lines; ++n) {
    text += std::to_string(n % 10);
    for (int i = 0; i < 784; ++i) {
      text += ',';
      text += std::to_string(pixel(rng));
    }
    text += '\n';
  }
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

void BM_ReadCsv(benchmark::State& state) {
  const size_t lines = size_t(state.range(0));
  const std::string path = write_csv(lines);
  for (auto _ : state) {
    edgetrain::Dataset data = edgetrain::read_csv(path);
    benchmark::DoNotOptimize(data.labels.data());
  }
  std::remove(path.c_str());
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(lines));
  state.SetLabel("lines/s in items_per_second");
}
BENCHMARK(BM_ReadCsv)->Arg(60000)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
