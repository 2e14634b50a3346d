// GEMM micro-kernels: one register tile of C = op(A) · op(B) over a packed depth-k slice.
//
// Each ISA keeps an (rows x nr) block of C in registers while walking k: per step it loads one row
// of the packed B panel (nr floats, as vectors) and broadcasts one A value per row into a fused
// multiply-add. The AVX-512 and AVX2 kernels are compiled with target attributes so the library
// needs no -m flags; gemm.cpp picks one at run time. Every kernel is instantiated for each row
// count up to mr so the bottom edge of C costs no wasted rows.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "ops/gemm_internal.h"

namespace edgetrain::ops::gemm_internal {
namespace {

// Fills the row-count tables: Kernel<r, wide>::run for full-width tiles, Kernel<r, narrow> for
// right-edge tiles of at most narrow_nr columns.
template <template <int, int> class Kernel, int kWide, int kNarrow, int... kRows>
constexpr MicroKernel make_micro_kernel(Isa isa, int mr, int nr, int narrow_nr, int kc, int mc,
                                        int nc, std::integer_sequence<int, kRows...>) {
  MicroKernel kernel{isa, mr, nr, kc, mc, nc, {}, narrow_nr, {}};
  ((kernel.by_rows[kRows + 1] = &Kernel<kRows + 1, kWide>::run), ...);
  ((kernel.narrow_by_rows[kRows + 1] = &Kernel<kRows + 1, kNarrow>::run), ...);
  return kernel;
}

// ---- AVX-512: 8 rows x 32 columns (two zmm per row, 16 accumulators) ----------------------------
// 16 independent accumulators cover the FMA latency (4 cycles x up to 2 pipes on Zen 4 / Skylake-X)
// while leaving registers for the B row and the broadcast; the bottom edge uses fewer rows.
constexpr int kAvx512Rows = 8;
constexpr int kAvx512Vectors = 2;

__attribute__((target("avx512f"))) inline __mmask16 avx512_column_mask(int cols, int vector) {
  const int left = cols - 16 * vector;
  if (left >= 16) return __mmask16(0xFFFF);
  if (left <= 0) return __mmask16(0);
  return __mmask16((1u << left) - 1);
}

// kVectors <= kAvx512Vectors: how many of the panel's 16-float vectors this tile computes.
template <int kRows, int kVectors>
struct Avx512Kernel {
  __attribute__((target("avx512f"))) static void run(int k, const float* a, const float* b,
                                                     float* c, int ldc, int cols, bool accumulate) {
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
        const __m512 a_value = _mm512_set1_ps(a[r]);
#pragma GCC unroll 4
        for (int v = 0; v < kVectors; ++v)
          acc[r][v] = _mm512_fmadd_ps(a_value, b_row[v], acc[r][v]);
      }
      a += kAvx512Rows;
      b += 16 * kAvx512Vectors;
    }

    // Masked loads/stores handle the right edge; masked-off lanes are never touched.
    __mmask16 masks[kVectors];
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) masks[v] = avx512_column_mask(cols, v);
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) {
      float* row = c + r * ldc;
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) {
        __m512 value = acc[r][v];
        if (accumulate) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(masks[v], row + 16 * v));
        _mm512_mask_storeu_ps(row + 16 * v, masks[v], value);
      }
    }
  }
};

// ---- AVX2 + FMA: 6 rows x 16 columns (two ymm per row, 12 accumulators) -------------------------
// 12 accumulators + 2 B vectors + 1 broadcast fit the 16 ymm registers.
constexpr int kAvx2Rows = 6;
constexpr int kAvx2Columns = 16;

// kVectors (1 or 2): how many of the panel's two 8-float vectors this tile computes.
template <int kRows, int kVectors>
struct Avx2Kernel {
  __attribute__((target("avx2,fma"))) static void run(int k, const float* a, const float* b,
                                                      float* c, int ldc, int cols,
                                                      bool accumulate) {
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
        const __m256 a_value = _mm256_broadcast_ss(a + r);
#pragma GCC unroll 2
        for (int v = 0; v < kVectors; ++v)
          acc[r][v] = _mm256_fmadd_ps(a_value, b_row[v], acc[r][v]);
      }
      a += kAvx2Rows;
      b += kAvx2Columns;
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
        alignas(32) float tile[8 * kVectors];
#pragma GCC unroll 2
        for (int v = 0; v < kVectors; ++v) _mm256_store_ps(tile + 8 * v, acc[r][v]);
        for (int j = 0; j < cols; ++j) row[j] = accumulate ? row[j] + tile[j] : tile[j];
      }
    }
  }
};

// ---- Portable: 6 rows x 8 columns in generic 4-float vectors ----------------------------------
// GCC/Clang vector extensions map to SSE2 on baseline x86-64 (or NEON elsewhere); 12 accumulators
// + 2 B vectors + 1 broadcast fit the 16 registers SSE2 has.
constexpr int kPortableRows = 6;
constexpr int kPortableColumns = 8;
typedef float Float4 __attribute__((vector_size(16)));

inline Float4 load_float4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <int kRows, int kVectors>
struct PortableKernel {
  static void run(int k, const float* a, const float* b, float* c, int ldc, int cols,
                  bool accumulate) {
    Float4 acc[kRows][kVectors] = {};
    for (int p = 0; p < k; ++p) {
      Float4 b_row[kVectors];
#pragma GCC unroll 2
      for (int v = 0; v < kVectors; ++v) b_row[v] = load_float4(b + 4 * v);
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) {
        const Float4 a_value = {a[r], a[r], a[r], a[r]};
#pragma GCC unroll 2
        for (int v = 0; v < kVectors; ++v) acc[r][v] += a_value * b_row[v];
      }
      a += kPortableRows;
      b += kPortableColumns;
    }
    for (int r = 0; r < kRows; ++r) {
      float tile[4 * kVectors];
      std::memcpy(tile, acc[r], sizeof(tile));
      float* row = c + r * ldc;
      for (int j = 0; j < cols; ++j) row[j] = accumulate ? row[j] + tile[j] : tile[j];
    }
  }
};

}  // namespace

// Cache blocks: a packed B micro-panel (kc x nr) stays in L1 while the packed A block (mc x kc)
// streams from L2; nc bounds the packed B block so it stays in L2 too.
const MicroKernel& avx512_micro_kernel() {
  static const MicroKernel kernel = make_micro_kernel<Avx512Kernel, kAvx512Vectors, 1>(
      Isa::kAvx512, kAvx512Rows, 16 * kAvx512Vectors, /*narrow_nr=*/16, /*kc=*/256, /*mc=*/128,
      /*nc=*/1024, std::make_integer_sequence<int, kAvx512Rows>{});
  return kernel;
}

const MicroKernel& avx2_micro_kernel() {
  static const MicroKernel kernel = make_micro_kernel<Avx2Kernel, 2, 1>(
      Isa::kAvx2, kAvx2Rows, kAvx2Columns, /*narrow_nr=*/8, /*kc=*/256, /*mc=*/96, /*nc=*/1024,
      std::make_integer_sequence<int, kAvx2Rows>{});
  return kernel;
}

const MicroKernel& portable_micro_kernel() {
  static const MicroKernel kernel = make_micro_kernel<PortableKernel, 2, 1>(
      Isa::kPortable, kPortableRows, kPortableColumns, /*narrow_nr=*/4, /*kc=*/256, /*mc=*/96,
      /*nc=*/1024, std::make_integer_sequence<int, kPortableRows>{});
  return kernel;
}

}  // namespace edgetrain::ops::gemm_internal
