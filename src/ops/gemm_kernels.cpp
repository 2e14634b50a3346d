// GEMM micro-kernels: one register tile of C = op(A) · op(B) over a packed depth-k slice.
//
// Each kernel keeps an (rows x nr) block of C in registers while walking k: per step it loads one
// row of the packed B panel (nr floats, as vectors) and broadcasts one A value per row into a
// multiply-add. Every kernel is instantiated for each row count up to mr so the bottom edge of C
// costs no wasted rows. This file holds the portable kernel every build has; the architecture's
// own are in gemm_kernels_x86.cpp (AVX-512, AVX2) and gemm_kernels_neon.cpp (aarch64).
#include <cstring>
#include <utility>

#include "ops/gemm_internal.h"

namespace edgetrain::ops::gemm_internal {
namespace {

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
  static void run(int k, const float* a, const float* b, size_t b_stride, float* c, int ldc,
                  int cols, bool accumulate) {
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
      b += b_stride;
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

// Cache blocks: a packed B micro-panel (kc x nr) stays in L1 while the packed A block (mc x kc)
// streams from L2; nc bounds the packed B block so it stays in L2 too.
const MicroKernel& portable_micro_kernel() {
  static const MicroKernel kernel = make_micro_kernel<PortableKernel, 2, 1>(
      Isa::kPortable, kPortableRows, kPortableColumns, /*narrow_nr=*/4, /*kc=*/256, /*mc=*/96,
      /*nc=*/1024, dot_portable, axpy_portable, /*dot4=*/nullptr, pack_transposed_portable,
      std::make_integer_sequence<int, kPortableRows>{});
  return kernel;
}

}  // namespace edgetrain::ops::gemm_internal
