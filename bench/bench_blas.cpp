// edgetrain's GEMM against OpenBLAS (and oneDNN when built with it), single-threaded, at the shapes
// LeNet training runs. Issue #4 allows a Debian BLAS where measurement shows it beats our kernels;
// this is that measurement. Shapes are per training thread (batch 64 = 128 split over 2 threads)
// plus the whole batch of 128 for the dense layers; convolutions are channel-last im2col GEMMs,
// per sample and batched over 64 samples. Every library is pinned to one thread (the trainer
// parallelises over the batch itself) and C is overwritten (beta 0). Before timing, each case
// checks that both libraries compute the same product, so the arguments are known to agree.
// GFLOP/s (2·m·n·k per call) is the "FLOPS" counter. Built as edgetrain_bench_blas only when
// OpenBLAS is found; see CMakeLists.txt.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#ifdef EDGETRAIN_BENCH_DNNL
#include <dnnl.h>
#include <omp.h>
#endif

#include "ops/ops.h"
#include "base/rng.h"

namespace edgetrain::ops {
namespace {

enum Backend { kEdgetrain, kOpenBlas, kOneDnn };

std::vector<float> random_vector(size_t size, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(size);
  for (float& x : v) x = 2.0f * rng.uniform() - 1.0f;
  return v;
}

struct GemmCase {
  int m, n, k;
  bool transpose_a, transpose_b;
  int lda() const { return transpose_a ? m : k; }  // A stored (M,K), or (K,M) when transposed
  int ldb() const { return transpose_b ? k : n; }  // B stored (K,N), or (N,K) when transposed
};

// C(M,N) = op(A) · op(B), row-major, with the given backend.
void run_gemm(Backend backend, const GemmCase& g, float* c, const float* a, const float* b) {
  switch (backend) {
    case kEdgetrain:
      gemm(c, a, b, g.m, g.n, g.k, g.transpose_a ? Transpose::kYes : Transpose::kNo,
           g.transpose_b ? Transpose::kYes : Transpose::kNo, 0.0f, g.lda(), g.ldb(), g.n);
      break;
    case kOpenBlas:
      cblas_sgemm(CblasRowMajor, g.transpose_a ? CblasTrans : CblasNoTrans,
                  g.transpose_b ? CblasTrans : CblasNoTrans, g.m, g.n, g.k, 1.0f, a, g.lda(), b,
                  g.ldb(), 0.0f, c, g.n);
      break;
    case kOneDnn:
#ifdef EDGETRAIN_BENCH_DNNL
      dnnl_sgemm(g.transpose_a ? 'T' : 'N', g.transpose_b ? 'T' : 'N', g.m, g.n, g.k, 1.0f, a,
                 g.lda(), b, g.ldb(), 0.0f, c, g.n);
#endif
      break;
  }
}

// Args: m, n, k, transpose_a, transpose_b, backend.
void BM_Gemm(benchmark::State& state) {
  const GemmCase g{int(state.range(0)), int(state.range(1)), int(state.range(2)),
                   state.range(3) != 0, state.range(4) != 0};
  const Backend backend = Backend(state.range(5));
#ifndef EDGETRAIN_BENCH_DNNL
  if (backend == kOneDnn) {
    state.SkipWithError("built without oneDNN");
    return;
  }
#endif
  const auto a = random_vector(size_t(g.m) * g.k, 1), b = random_vector(size_t(g.k) * g.n, 2);
  std::vector<float> c(size_t(g.m) * g.n), expected(c.size());
  run_gemm(kOpenBlas, g, expected.data(), a.data(), b.data());
  run_gemm(backend, g, c.data(), a.data(), b.data());
  float max_error = 0.0f;
  for (size_t i = 0; i < c.size(); ++i)
    max_error = std::max(max_error, std::abs(c[i] - expected[i]));
  if (max_error > 1e-3f * std::sqrt(float(g.k))) {
    state.SkipWithError("result differs from OpenBLAS");
    return;
  }
  for (auto _ : state) {
    run_gemm(backend, g, c.data(), a.data(), b.data());
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["FLOPS"] =
      benchmark::Counter(2.0 * g.m * g.n * g.k * double(state.iterations()),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// {m, n, k, transpose_a, transpose_b}; the comment names the training step.
constexpr int64_t kShapes[][5] = {
    {64, 500, 1152, 0, 1},      // dense forward, batch 64 (one thread's half)
    {128, 500, 1152, 0, 1},     // dense forward, batch 128
    {500, 1152, 64, 1, 0},      // dense dweight, batch 64
    {500, 1152, 128, 1, 0},     // dense dweight, batch 128
    {64, 1152, 500, 0, 0},      // dense dinput, batch 64
    {128, 1152, 500, 0, 0},     // dense dinput, batch 128
    {144, 32, 128, 0, 1},       // conv2 forward per sample, weight (Cout, K)
    {144, 32, 128, 0, 0},       // conv2 forward per sample, weight (K, Cout)
    {32, 128, 144, 1, 0},       // conv2 dweight per sample
    {144, 128, 32, 0, 0},       // conv2 dcol per sample
    {676, 32, 9, 0, 0},         // conv1 forward per sample
    {64 * 144, 32, 128, 0, 1},  // conv2 forward batched over 64 samples
    {64 * 144, 32, 128, 0, 0},  // conv2 forward batched, weight (K, Cout)
    {64 * 676, 32, 9, 0, 0},    // conv1 forward batched over 64 samples
};

BENCHMARK(BM_Gemm)->Apply([](benchmark::internal::Benchmark* b) {
  b->ArgNames({"m", "n", "k", "ta", "tb", "lib"});  // lib: 0 edgetrain, 1 OpenBLAS, 2 oneDNN
  for (const auto& s : kShapes) {
    b->Args({s[0], s[1], s[2], s[3], s[4], kEdgetrain});
    b->Args({s[0], s[1], s[2], s[3], s[4], kOpenBlas});
#ifdef EDGETRAIN_BENCH_DNNL
    b->Args({s[0], s[1], s[2], s[3], s[4], kOneDnn});
#endif
  }
});

}  // namespace
}  // namespace edgetrain::ops

int main(int argc, char** argv) {
  // One thread everywhere, set before any timing (each library otherwise uses every core).
  openblas_set_num_threads(1);
  benchmark::AddCustomContext("openblas", openblas_get_config());
#ifdef EDGETRAIN_BENCH_DNNL
  omp_set_num_threads(1);
  const dnnl_version_t* version = dnnl_version();
  benchmark::AddCustomContext("onednn", std::to_string(version->major) + "." +
                                            std::to_string(version->minor) + "." +
                                            std::to_string(version->patch));
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
