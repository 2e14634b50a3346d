// Adam's update with AVX-512, the parameters written by streaming stores (why: ops/adam.h). Each
// value, masked head and tail included, gets the operations of the reference loop's vector body:
// m = fma(m, b1, g·(1-b1)), v = fma(v, b2, (g·g)·(1-b2)), p = fma(-step, m / d, p), with
// d = sqrt(v) / sqrt(1-b2^t) + e. (Before this kernel the loop's scalar remainder, rounded apart,
// gave the last n mod 16 values of each run other bits: training's bits changed with it.)
// Built only for x86-64 (CMakeLists.txt).
#if !defined(__x86_64__)
#error "adam_x86.cpp is for x86-64 builds only"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "ops/adam.h"

namespace edgetrain::ops {
namespace {

struct AdamVectors {
  __m512 step_size, correction2_sqrt, b1, b2, e, one_minus_b1, one_minus_b2;
};

// 16 values (those in `lanes`) of p, m, v from g: returns the new parameters; m and v are written.
__attribute__((target("avx512f"))) inline __m512 update16(__m512 g, float* m, float* v, __m512 p,
                                                          __mmask16 lanes, const AdamVectors& c) {
  const __m512 m_new =
      _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes, m), c.b1, _mm512_mul_ps(g, c.one_minus_b1));
  const __m512 v_new = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes, v), c.b2,
                                       _mm512_mul_ps(_mm512_mul_ps(g, g), c.one_minus_b2));
  _mm512_mask_storeu_ps(m, lanes, m_new);
  _mm512_mask_storeu_ps(v, lanes, v_new);
  // (maskz with every lane: the same vsqrtps, without GCC 12's false "uninitialized" warning.)
  const __m512 denominator =
      _mm512_add_ps(_mm512_div_ps(_mm512_maskz_sqrt_ps(0xFFFF, v_new), c.correction2_sqrt), c.e);
  return _mm512_fnmadd_ps(c.step_size, _mm512_div_ps(m_new, denominator), p);
}

// g = first (+ second) for the lanes, which are then zeroed.
__attribute__((target("avx512f"))) inline __m512 take_gradient(float* first, float* second,
                                                               __mmask16 lanes) {
  __m512 g = _mm512_maskz_loadu_ps(lanes, first);
  _mm512_mask_storeu_ps(first, lanes, _mm512_setzero_ps());
  if (second != nullptr) {
    g = _mm512_add_ps(g, _mm512_maskz_loadu_ps(lanes, second));
    _mm512_mask_storeu_ps(second, lanes, _mm512_setzero_ps());
  }
  return g;
}

// count < 16 values, through masked ordinary stores.
__attribute__((target("avx512f"))) void update_masked(float* parameters, float* first,
                                                      float* second, float* m, float* v,
                                                      size_t count, const AdamVectors& c) {
  const __mmask16 lanes = __mmask16((1u << count) - 1u);
  const __m512 g = take_gradient(first, second, lanes);
  const __m512 p = _mm512_maskz_loadu_ps(lanes, parameters);
  _mm512_mask_storeu_ps(parameters, lanes, update16(g, m, v, p, lanes, c));
}

__attribute__((target("avx512f"))) void adam_avx512(float* parameters, float* first, float* second,
                                                    float* m, float* v, size_t n,
                                                    const AdamConstants& constants) {
  const AdamVectors c{
      _mm512_set1_ps(constants.step_size),   _mm512_set1_ps(constants.correction2_sqrt),
      _mm512_set1_ps(constants.b1),          _mm512_set1_ps(constants.b2),
      _mm512_set1_ps(constants.e),           _mm512_set1_ps(constants.one_minus_b1),
      _mm512_set1_ps(constants.one_minus_b2)};
  // Values before the parameters' first 64-byte boundary, and after the last whole vector, go
  // through masked ordinary stores; the aligned middle streams.
  const size_t misaligned = (reinterpret_cast<uintptr_t>(parameters) / sizeof(float)) % 16;
  size_t i = 0;
  if (misaligned != 0) {
    i = std::min(n, 16 - misaligned);
    update_masked(parameters, first, second, m, v, i, c);
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 g = take_gradient(first + i, second ? second + i : nullptr, 0xFFFF);
    const __m512 p = _mm512_load_ps(parameters + i);
    _mm512_stream_ps(parameters + i, update16(g, m + i, v + i, p, 0xFFFF, c));
  }
  if (i < n) {
    update_masked(parameters + i, first + i, second ? second + i : nullptr, m + i, v + i, n - i, c);
  }
  // Streaming stores are weakly ordered: make them visible before the caller's hand-off to the
  // threads that read the parameters next.
  _mm_sfence();
}

}  // namespace

bool adam_update_streaming(float* parameters, float* first, float* second, float* m, float* v,
                           size_t n, const AdamConstants& c) {
  static const bool supported = __builtin_cpu_supports("avx512f");
  if (!supported) return false;
  adam_avx512(parameters, first, second, m, v, n, c);
  return true;
}

}  // namespace edgetrain::ops
