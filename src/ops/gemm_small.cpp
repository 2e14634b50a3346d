// GEMM for a few rows of C (m <= kSmallRows) with op(A) = A: no packing. Packing op(B) costs as
// much as the product itself when only one or two rows use it (single-image inference reads a
// (500, 1152) weight once), so each row of C is built straight from B:
//   B transposed (stored (N, K)): C[i][j] = dot(A row i, B row j)        — unit stride in k
//   B as is      (stored (K, N)): C row i = Σ_p A[i][p] · (B row p)      — unit stride in n
// Vector paths per ISA (target attributes, chosen at run time like the micro-kernels).
#include <immintrin.h>

#include <algorithm>

#include "ops/gemm_internal.h"

namespace edgetrain::ops::gemm_internal {
namespace {

// The sum of 16 lanes in the order of GCC's _mm512_reduce_add_ps (halves, quarters, then pairs),
// so results keep their bits; written out because GCC 12 extracts a half (there and in
// _mm512_castps512_ps256) into an "undefined" register and warns (-Wuninitialized) when inlined.
// The zero-masked extraction with an all-ones mask is the same instruction without that register.
__attribute__((target("avx512f"))) float reduce_add_avx512(__m512 sum16) {
  const __m512d lanes = _mm512_castps_pd(sum16);
  const __m256 sum8 = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, lanes, 1)) +
                      _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, lanes, 0));
  const __m128 sum4 = _mm256_extractf128_ps(sum8, 1) + _mm256_extractf128_ps(sum8, 0);
  return (sum4[0] + sum4[2]) + (sum4[1] + sum4[3]);
}

__attribute__((target("avx512f"))) float dot_avx512(const float* x, const float* y, int k) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int p = 0;
  for (; p + 32 <= k; p += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p), _mm512_loadu_ps(y + p), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p + 16), _mm512_loadu_ps(y + p + 16), s1);
  }
  if (p < k) {  // the tail, masked
    const __mmask16 m0 = __mmask16((1u << std::min(16, k - p)) - 1);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, x + p), _mm512_maskz_loadu_ps(m0, y + p), s0);
    if (k - p > 16) {
      const __mmask16 m1 = __mmask16((1u << (k - p - 16)) - 1);
      s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, x + p + 16),
                           _mm512_maskz_loadu_ps(m1, y + p + 16), s1);
    }
  }
  return reduce_add_avx512(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) void axpy_avx512(float* y, float alpha, const float* x, int n) {
  const __m512 a = _mm512_set1_ps(alpha);
  int j = 0;
  for (; j + 16 <= n; j += 16) {
    _mm512_storeu_ps(y + j, _mm512_fmadd_ps(a, _mm512_loadu_ps(x + j), _mm512_loadu_ps(y + j)));
  }
  if (j < n) {
    const __mmask16 mask = __mmask16((1u << (n - j)) - 1);
    _mm512_mask_storeu_ps(y + j, mask, _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(mask, x + j),
                                                       _mm512_maskz_loadu_ps(mask, y + j)));
  }
}

__attribute__((target("avx2,fma"))) float dot_avx2(const float* x, const float* y, int k) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int p = 0;
  for (; p + 16 <= k; p += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p), _mm256_loadu_ps(y + p), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p + 8), _mm256_loadu_ps(y + p + 8), s1);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(s0, s1));
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  for (; p < k; ++p) sum += x[p] * y[p];
  return sum;
}

__attribute__((target("avx2,fma"))) void axpy_avx2(float* y, float alpha, const float* x, int n) {
  const __m256 a = _mm256_set1_ps(alpha);
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    _mm256_storeu_ps(y + j, _mm256_fmadd_ps(a, _mm256_loadu_ps(x + j), _mm256_loadu_ps(y + j)));
  }
  for (; j < n; ++j) y[j] += alpha * x[j];
}

float dot_portable(const float* x, const float* y, int k) {
  float lanes[8] = {};
  int p = 0;
  for (; p + 8 <= k; p += 8) {
    for (int l = 0; l < 8; ++l) lanes[l] += x[p + l] * y[p + l];
  }
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  for (; p < k; ++p) sum += x[p] * y[p];
  return sum;
}

void axpy_portable(float* y, float alpha, const float* x, int n) {
  for (int j = 0; j < n; ++j) y[j] += alpha * x[j];
}

}  // namespace

void gemm_small_rows(Isa isa, float* c, const float* a, const float* b, int m, int n, int k,
                     Transpose transpose_b, bool accumulate, int lda, int ldb, int ldc) {
  auto* dot = isa == Isa::kAvx512 ? dot_avx512 : isa == Isa::kAvx2 ? dot_avx2 : dot_portable;
  auto* axpy = isa == Isa::kAvx512 ? axpy_avx512 : isa == Isa::kAvx2 ? axpy_avx2 : axpy_portable;
  for (int i = 0; i < m; ++i) {
    const float* a_row = a + size_t(i) * lda;  // (K)
    float* c_row = c + size_t(i) * ldc;        // (N)
    if (transpose_b == Transpose::kYes) {
      for (int j = 0; j < n; ++j) {
        const float value = dot(a_row, b + size_t(j) * ldb, k);
        c_row[j] = accumulate ? c_row[j] + value : value;
      }
    } else {
      if (!accumulate) std::fill(c_row, c_row + n, 0.0f);
      for (int p = 0; p < k; ++p) axpy(c_row, a_row[p], b + size_t(p) * ldb, n);
    }
  }
}

}  // namespace edgetrain::ops::gemm_internal
