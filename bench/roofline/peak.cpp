// Peak FMA rates and triad bandwidth (peak.h). Each compute loop runs independent accumulator
// chains (enough to cover the FMA latency on every pipe: 4-cycle latency x 2 pipes needs 8; we run
// 12-24) of acc = acc·x + y with x just below 1 and y small, so values stay normal (no denormal
// slow path) and nothing overflows; the result is kept so the loop cannot be dropped.
#include "roofline/peak.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace edgetrain::bench {
namespace {

using Clock = std::chrono::steady_clock;

volatile float g_sink;  // results land here so no loop is optimised away

// Runs `body(iterations)` (which returns the FLOPs it did) with growing counts until one run takes
// about seconds/5 of thread CPU time, then five runs of that size; the best rate in GFLOP/s.
double best_rate(const std::function<double(long)>& body, double seconds) {
  long iterations = 1000;
  for (;;) {
    const double start = thread_seconds();
    body(iterations);
    const double took = thread_seconds() - start;
    if (took > seconds / 5 || iterations > (1L << 40)) break;
    iterations *= took < 1e-3 ? 8 : 2;
  }
  double best = 0.0;
  for (int run = 0; run < 5; ++run) {
    const double start = thread_seconds();
    const double flops = body(iterations);
    best = std::max(best, flops / (thread_seconds() - start) * 1e-9);
  }
  return best;
}

#if defined(__x86_64__)
constexpr int kAvx512Chains = 16;
__attribute__((target("avx512f"))) double fma_avx512(long iterations) {
  __m512 acc[kAvx512Chains];
  for (int i = 0; i < kAvx512Chains; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-6f);
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kAvx512Chains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kAvx512Chains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  g_sink = lanes[0] + lanes[15];
  return 2.0 * 16 * kAvx512Chains * double(iterations);
}

constexpr int kAvx2Chains = 12;  // + x and y: 14 of the 16 ymm registers
__attribute__((target("avx2,fma"))) double fma_avx2(long iterations) {
  __m256 acc[kAvx2Chains];
  for (int i = 0; i < kAvx2Chains; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-6f);
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kAvx2Chains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < kAvx2Chains; ++i) sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  g_sink = lanes[0] + lanes[7];
  return 2.0 * 8 * kAvx2Chains * double(iterations);
}

// vdpbf16ps: each fp32 lane adds the dot product of two bf16 pairs, 4 FLOPs a lane, 64 an
// instruction. The bf16 operands are fixed small values; the fp32 sums grow slowly (no overflow
// in the counts run here: at most ~1e10 additions of 2e-6).
constexpr int kBf16Chains = 16;
__attribute__((target("avx512f,avx512bf16"))) double dot_bf16(long iterations) {
  __m512 acc[kBf16Chains];
  for (int i = 0; i < kBf16Chains; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kBf16Chains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kBf16Chains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  g_sink = lanes[0] + lanes[15];
  return 4.0 * 16 * kBf16Chains * double(iterations);
}
#endif

#if defined(__aarch64__)
constexpr int kNeonChains = 24;
double fma_neon(long iterations) {
  float32x4_t acc[kNeonChains];
  for (int i = 0; i < kNeonChains; ++i) acc[i] = vdupq_n_f32(float(i));
  const float32x4_t x = vdupq_n_f32(0.999999f), y = vdupq_n_f32(1e-6f);
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < kNeonChains; ++i) acc[i] = vfmaq_f32(y, acc[i], x);
  }
  float32x4_t sum = acc[0];
  for (int i = 1; i < kNeonChains; ++i) sum = vaddq_f32(sum, acc[i]);
  g_sink = vaddvq_f32(sum);
  return 2.0 * 4 * kNeonChains * double(iterations);
}
#endif

// What any compiler makes of plain code: the baseline's vectors (SSE2 on x86-64).
constexpr int kPortableChains = 8;
double fma_portable(long iterations) {
  typedef float Float4 __attribute__((vector_size(16)));
  Float4 acc[kPortableChains];
  for (int i = 0; i < kPortableChains; ++i) acc[i] = Float4{} + float(i);
  const Float4 x = Float4{} + 0.999999f, y = Float4{} + 1e-6f;
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 8
    for (int i = 0; i < kPortableChains; ++i) acc[i] = acc[i] * x + y;
  }
  Float4 sum{};
  for (int i = 0; i < kPortableChains; ++i) sum += acc[i];
  g_sink = sum[0] + sum[3];
  return 2.0 * 4 * kPortableChains * double(iterations);
}

}  // namespace

std::vector<PeakRate> measure_compute_peaks(double seconds) {
  std::vector<PeakRate> peaks;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512bf16")) {
    peaks.push_back({"bf16 AVX512-BF16 vdpbf16ps (fp32 sums)", best_rate(dot_bf16, seconds),
                     4.0 * 16 * kBf16Chains});
  }
  if (__builtin_cpu_supports("avx512f"))
    peaks.push_back({"fp32 AVX-512 FMA", best_rate(fma_avx512, seconds), 2.0 * 16 * kAvx512Chains});
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    peaks.push_back({"fp32 AVX2 FMA", best_rate(fma_avx2, seconds), 2.0 * 8 * kAvx2Chains});
#elif defined(__aarch64__)
  peaks.push_back({"fp32 NEON FMA", best_rate(fma_neon, seconds), 2.0 * 4 * kNeonChains});
#endif
  peaks.push_back({"fp32 portable (baseline vectors)", best_rate(fma_portable, seconds),
                   2.0 * 4 * kPortableChains});
  return peaks;
}

Bandwidth measure_triad(const std::string& name, size_t bytes_per_array, int threads) {
  const size_t n = bytes_per_array / sizeof(float);
  std::unique_ptr<float[]> a(new float[n]), b(new float[n]), c(new float[n]);
  for (size_t i = 0; i < n; ++i) a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f;  // touch every page
  const float s = 0.5f;
  // Each thread its own contiguous slice, as the trainer splits a batch.
  auto triad = [&](size_t begin, size_t end) {
    float* __restrict x = a.get();
    const float* __restrict y = b.get();
    const float* __restrict z = c.get();
    for (size_t i = begin; i < end; ++i) x[i] = y[i] + s * z[i];
  };
  // Passes so one timing covers at least ~50 ms.
  const int passes = int(std::max<size_t>(1, (size_t(600) << 20) / (3 * bytes_per_array)));
  double best = 0.0;
  for (int run = 0; run < 5; ++run) {
    const auto start = Clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int p = 0; p < passes; ++p) triad(n * t / threads, n * (t + 1) / threads);
      });
    }
    for (auto& w : workers) w.join();
    const double took = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::max(best, 3.0 * double(bytes_per_array) * passes / took);
  }
  g_sink = a[n / 2];
  return {name, best};
}

}  // namespace edgetrain::bench
