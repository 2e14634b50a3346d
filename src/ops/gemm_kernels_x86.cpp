// The x86-64 GEMM micro-kernels (see gemm_kernels.cpp for the scheme): AVX-512 8x32 and AVX2 + FMA
// 6x16, plus the vector dot and AXPY of the unpacked few-rows path (gemm_small.cpp). Compiled with
// target attributes, so the library needs no -m flags; architecture_micro_kernel() hands out the
// ones the CPU runs, checked at run time. Built only for x86-64 (CMakeLists.txt).
#if !defined(__x86_64__)
#error "gemm_kernels_x86.cpp is for x86-64 builds only"
#endif
#include <immintrin.h>

#include <algorithm>
#include <utility>

#include "ops/avx512_tile_x86.h"
#include "ops/gemm_internal.h"
#include "ops/simd.h"

namespace edgetrain::ops::gemm_internal {
namespace {

// ---- AVX-512: 8 rows x 32 columns (two zmm per row, 16 accumulators) ----------------------------
// 16 independent accumulators cover the FMA latency (4 cycles x up to 2 pipes on Zen 4 / Skylake-X)
// while leaving registers for the B row and the broadcast; the bottom edge uses fewer rows.
constexpr int kAvx512Rows = 8;
constexpr int kAvx512Vectors = 2;

// kVectors <= kAvx512Vectors: how many of the panel's 16-float vectors this tile computes.
template <int kRows, int kVectors>
struct Avx512Kernel {
  // Row r's A value at k step p is a[r * a_row + p * a_step]: packed (1, mr) or in place (lda, 1).
  // Inlined into both entry points with their strides, so the packed one keeps constant offsets.
  __attribute__((target("avx512f"), always_inline)) static inline void tile(
      int k, const float* a, size_t a_row, size_t a_step, const float* b, size_t b_stride, float* c,
      int ldc, int cols, bool accumulate) {
    __m512 acc[kRows][kVectors];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm512_setzero_ps();

    for (int p = 0; p < k; ++p) {
      __m512 b_row[kVectors];
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) b_row[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) {
        const __m512 a_value = _mm512_set1_ps(a[r * a_row]);
#pragma GCC unroll 4
        for (int v = 0; v < kVectors; ++v)
          acc[r][v] = _mm512_fmadd_ps(a_value, b_row[v], acc[r][v]);
      }
      a += a_step;
      b += b_stride;
    }

    store_tile<kRows, kVectors>(acc, c, ldc, cols, accumulate);
  }

  __attribute__((target("avx512f"))) static void run(int k, const float* a, const float* b,
                                                     size_t b_stride, float* c, int ldc, int cols,
                                                     bool accumulate) {
    tile(k, a, 1, kAvx512Rows, b, b_stride, c, ldc, cols, accumulate);
  }
  __attribute__((target("avx512f"))) static void run_a_in_place(int k, const float* a, size_t lda,
                                                                const float* b, size_t b_stride,
                                                                float* c, int ldc, int cols,
                                                                bool accumulate) {
    tile(k, a, lda, 1, b, b_stride, c, ldc, cols, accumulate);
  }
};

// ---- AVX2 + FMA: 6 rows x 16 columns (two ymm per row, 12 accumulators) -------------------------
// 12 accumulators + 2 B vectors + 1 broadcast fit the 16 ymm registers.
constexpr int kAvx2Rows = 6;
constexpr int kAvx2Columns = 16;

// kVectors (1 or 2): how many of the panel's two 8-float vectors this tile computes.
template <int kRows, int kVectors>
struct Avx2Kernel {
  // Row r's A value at k step p is a[r * a_row + p * a_step], as in Avx512Kernel::tile.
  EDGETRAIN_AVX2_TARGET __attribute__((always_inline)) static inline void tile(
      int k, const float* a, size_t a_row, size_t a_step, const float* b, size_t b_stride, float* c,
      int ldc, int cols, bool accumulate) {
    __m256 acc[kRows][kVectors];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm256_setzero_ps();

    for (int p = 0; p < k; ++p) {
      __m256 b_row[kVectors];
#pragma GCC unroll 2
      for (int v = 0; v < kVectors; ++v) b_row[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) {
        const __m256 a_value = _mm256_broadcast_ss(a + r * a_row);
#pragma GCC unroll 2
        for (int v = 0; v < kVectors; ++v)
          acc[r][v] = _mm256_fmadd_ps(a_value, b_row[v], acc[r][v]);
      }
      a += a_step;
      b += b_stride;
    }

#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) {
      float* row = c + r * ldc;
      if (cols == 8 * kVectors) {
#pragma GCC unroll 2
        for (int v = 0; v < kVectors; ++v) {
          __m256 value = acc[r][v];
          if (accumulate) value = _mm256_add_ps(value, _mm256_loadu_ps(row + 8 * v));
          _mm256_storeu_ps(row + 8 * v, value);
        }
      } else {
        // Right edge: AVX2 masked stores are slow on AMD, so go through a small buffer.
        alignas(32) float lanes[8 * kVectors];
#pragma GCC unroll 2
        for (int v = 0; v < kVectors; ++v) _mm256_store_ps(lanes + 8 * v, acc[r][v]);
        for (int j = 0; j < cols; ++j) row[j] = accumulate ? row[j] + lanes[j] : lanes[j];
      }
    }
  }

  EDGETRAIN_AVX2_TARGET static void run(int k, const float* a, const float* b, size_t b_stride,
                                        float* c, int ldc, int cols, bool accumulate) {
    tile(k, a, 1, kAvx2Rows, b, b_stride, c, ldc, cols, accumulate);
  }
  EDGETRAIN_AVX2_TARGET static void run_a_in_place(int k, const float* a, size_t lda,
                                                   const float* b, size_t b_stride, float* c,
                                                   int ldc, int cols, bool accumulate) {
    tile(k, a, lda, 1, b, b_stride, c, ldc, cols, accumulate);
  }
};

// ---- The few-rows path: dot products and AXPYs ----------------------------------------------

// The lanes' sum in the order GCC's _mm512_reduce_add_ps adds them (halves, then quarters, then
// pairs), without the uninitialised register its GCC 12 version warns about.
__attribute__((target("avx512f"))) inline float horizontal_sum_avx512(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float quarters[4];
  for (int j = 0; j < 4; ++j)
    quarters[j] = (lanes[j + 12] + lanes[j + 4]) + (lanes[j + 8] + lanes[j]);
  return (quarters[0] + quarters[2]) + (quarters[1] + quarters[3]);
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
  return horizontal_sum_avx512(_mm512_add_ps(s0, s1));
}

// dot_avx512 for four rows of y at once: the same two accumulators per row, the same masked tail
// and lane sum, so each result has dot_avx512's bits; x's loads serve four rows instead of one.
__attribute__((target("avx512f"))) void dot4_avx512(const float* x, const float* y, size_t ldy,
                                                    int k, float* out) {
  const float* rows[4] = {y, y + ldy, y + 2 * ldy, y + 3 * ldy};
  __m512 s0[4], s1[4];
  for (int r = 0; r < 4; ++r) s0[r] = s1[r] = _mm512_setzero_ps();
  int p = 0;
  for (; p + 32 <= k; p += 32) {
    const __m512 x0 = _mm512_loadu_ps(x + p), x1 = _mm512_loadu_ps(x + p + 16);
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
      s0[r] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(rows[r] + p), s0[r]);
      s1[r] = _mm512_fmadd_ps(x1, _mm512_loadu_ps(rows[r] + p + 16), s1[r]);
    }
  }
  if (p < k) {
    const __mmask16 m0 = __mmask16((1u << std::min(16, k - p)) - 1);
    const __mmask16 m1 = k - p > 16 ? __mmask16((1u << (k - p - 16)) - 1) : __mmask16(0);
    const __m512 x0 = _mm512_maskz_loadu_ps(m0, x + p);
    const __m512 x1 = _mm512_maskz_loadu_ps(m1, x + p + 16);
    for (int r = 0; r < 4; ++r) {
      s0[r] = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m0, rows[r] + p), s0[r]);
      if (m1) s1[r] = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(m1, rows[r] + p + 16), s1[r]);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = horizontal_sum_avx512(_mm512_add_ps(s0[r], s1[r]));
}

__attribute__((target("avx512f"))) void axpy_avx512(float* y, float alpha, const float* x, int n) {
  const __m512 a = _mm512_set1_ps(alpha);
  int j = 0;
  for (; j + 16 <= n; j += 16) {
    _mm512_storeu_ps(y + j, _mm512_fmadd_ps(a, _mm512_loadu_ps(x + j), _mm512_loadu_ps(y + j)));
  }
  if (j < n) {
    const __mmask16 mask = __mmask16((1u << (n - j)) - 1);
    _mm512_mask_storeu_ps(
        y + j, mask,
        _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(mask, x + j), _mm512_maskz_loadu_ps(mask, y + j)));
  }
}

EDGETRAIN_AVX2_TARGET float dot_avx2(const float* x, const float* y, int k) {
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

EDGETRAIN_AVX2_TARGET void axpy_avx2(float* y, float alpha, const float* x, int n) {
  const __m256 a = _mm256_set1_ps(alpha);
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    _mm256_storeu_ps(y + j, _mm256_fmadd_ps(a, _mm256_loadu_ps(x + j), _mm256_loadu_ps(y + j)));
  }
  for (; j < n; ++j) y[j] += alpha * x[j];
}

// ---- Packing: 8x8 transposes in ymm registers ---------------------------------------------------
// The forward product of an inner product over more than 128 rows (gemm.cpp: fewer read the
// weights in place) packs its whole weight matrix transposed (LeNet's hidden1: 500 x 1152, 2.3 MB),
// and after a training step the optimizer's streaming stores have just sent those weights to
// memory: the pack is a read from DRAM. Eight rows at a time keep eight read streams going (the
// portable 4x4 transposes keep four) and each 32-byte store fills a quarter of a 128-byte k step;
// a prefetch 256 bytes ahead on each row hides the rest of the latency. Measured on LeNet's weights
// from DRAM: 250 -> 162 µs (from L3: 106 -> 75 µs).

// dst[q*dst_stride + i] = src[i*ld + q] for i, q < 8.
EDGETRAIN_AVX2_TARGET inline void transpose_8x8(float* dst, size_t dst_stride, const float* src,
                                                size_t ld) {
  const __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld);
  const __m256 r2 = _mm256_loadu_ps(src + 2 * ld), r3 = _mm256_loadu_ps(src + 3 * ld);
  const __m256 r4 = _mm256_loadu_ps(src + 4 * ld), r5 = _mm256_loadu_ps(src + 5 * ld);
  const __m256 r6 = _mm256_loadu_ps(src + 6 * ld), r7 = _mm256_loadu_ps(src + 7 * ld);
  // Pairs of rows interleaved per 128-bit lane: t0 = {a0 b0 a1 b1 | a4 b4 a5 b5}, ...
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  // Quads: u0 = {a0 b0 c0 d0 | a4 b4 c4 d4}, u1 = {a1 b1 c1 d1 | a5 ...}, ...
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  // The low lanes of rows 0-3 and 4-7 make columns 0-3; the high lanes columns 4-7.
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + dst_stride, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * dst_stride, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * dst_stride, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * dst_stride, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * dst_stride, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * dst_stride, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * dst_stride, _mm256_permute2f128_ps(u3, u7, 0x31));
}

// PackTransposedFn: the same bytes as pack_transposed_portable.
EDGETRAIN_AVX2_TARGET void pack_transposed_avx2(float* dst, int width, const float* src, size_t ld,
                                                int rows, int depth) {
  constexpr int kPrefetchAhead = 64;  // floats: 256 bytes, every other 8-deep step
  int r = 0;
  for (; r + 8 <= rows; r += 8) {
    const float* block = src + size_t(r) * ld;
    int p = 0;
    for (; p + 8 <= depth; p += 8) {
      if (p % 16 == 0) {
        for (int i = 0; i < 8; ++i) {
          _mm_prefetch(reinterpret_cast<const char*>(block + i * ld + p + kPrefetchAhead),
                       _MM_HINT_T0);
        }
      }
      transpose_8x8(dst + size_t(p) * width + r, size_t(width), block + p, ld);
    }
    for (; p < depth; ++p) {
      for (int i = 0; i < 8; ++i) dst[size_t(p) * width + r + i] = block[i * ld + p];
    }
  }
  if (r < rows) pack_transposed_portable(dst + r, width, src + size_t(r) * ld, ld, rows - r, depth);
}

}  // namespace

// Cache blocks: a packed B micro-panel (kc x nr) stays in L1 while the packed A block (mc x kc)
// streams from L2; nc bounds the packed B block so it stays in L2 too.
const MicroKernel* architecture_micro_kernel(Isa isa) {
  static const MicroKernel avx512 = make_micro_kernel<Avx512Kernel, kAvx512Vectors, 1>(
      Isa::kAvx512, kAvx512Rows, 16 * kAvx512Vectors, /*narrow_nr=*/16, /*kc=*/256, /*mc=*/128,
      /*nc=*/1024, dot_avx512, axpy_avx512, dot4_avx512, pack_transposed_avx2,
      std::make_integer_sequence<int, kAvx512Rows>{});
  static const MicroKernel avx2 = make_micro_kernel<Avx2Kernel, 2, 1>(
      Isa::kAvx2, kAvx2Rows, kAvx2Columns, /*narrow_nr=*/8, /*kc=*/256, /*mc=*/96, /*nc=*/1024,
      dot_avx2, axpy_avx2, /*dot4=*/nullptr, pack_transposed_avx2,
      std::make_integer_sequence<int, kAvx2Rows>{});
  switch (isa) {
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") ? &avx512 : nullptr;
    case Isa::kAvx2:
      return cpu_runs_avx2_target() ? &avx2 : nullptr;
    case Isa::kPortable:
    case Isa::kNeon:
      break;
  }
  return nullptr;
}

}  // namespace edgetrain::ops::gemm_internal
