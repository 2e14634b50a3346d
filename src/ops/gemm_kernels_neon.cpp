// The aarch64 GEMM micro-kernel (see gemm_kernels.cpp for the scheme): NEON, 8 rows x 12 columns,
// plus the vector dot and AXPY of the unpacked few-rows path (gemm_small.cpp). NEON is part of
// every AArch64 CPU, so there is nothing to detect. Built only for aarch64 (CMakeLists.txt).
#if !defined(__aarch64__)
#error "gemm_kernels_neon.cpp is for aarch64 builds only"
#endif
#include <arm_neon.h>

#include <utility>

#include "ops/gemm_internal.h"

namespace edgetrain::ops::gemm_internal {
namespace {

// ---- NEON: 8 rows x 12 columns (three q registers per row, 24 accumulators) -------------------
// AArch64 has 32 vector registers: 24 accumulators + 3 for the B row + 2 for the 8 A values of a
// k step (each row's multiply-add takes its A value as a lane, fmla v.4s, v.4s, v.s[i], so no
// broadcasts) leaves 3 spare. 24 independent accumulators cover a 4-cycle FMA latency on up to
// 4 pipes (Apple M-series; Cortex-A7x/X have 2-4).
constexpr int kNeonRows = 8;
constexpr int kNeonVectors = 3;
constexpr int kNeonColumns = 4 * kNeonVectors;

// acc += b · a[lane] for a lane known at compile time.
template <int kLane>
inline float32x4_t multiply_add_lane(float32x4_t acc, float32x4_t b, float32x4_t a) {
  return vfmaq_laneq_f32(acc, b, a, kLane);
}

// kVectors <= kNeonVectors: how many of the panel's 4-float vectors this tile computes.
template <int kRows, int kVectors>
struct NeonKernel {
  static void run(int k, const float* a, const float* b, size_t b_stride, float* c, int ldc,
                  int cols, bool accumulate) {
    float32x4_t acc[kRows][kVectors];
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 3
      for (int v = 0; v < kVectors; ++v) acc[r][v] = vdupq_n_f32(0.0f);

    for (int p = 0; p < k; ++p) {
      float32x4_t b_row[kVectors];
#pragma GCC unroll 3
      for (int v = 0; v < kVectors; ++v) b_row[v] = vld1q_f32(b + 4 * v);
      // Rows 0-3 and 4-7 of this k step; a tile of fewer rows never reads the second (its lanes
      // past `kRows` are unused).
      const float32x4_t a_low = vld1q_f32(a);
      const float32x4_t a_high = kRows > 4 ? vld1q_f32(a + 4) : a_low;
      multiply_add_rows(acc, b_row, a_low, a_high, std::make_integer_sequence<int, kRows>{});
      a += kNeonRows;
      b += b_stride;
    }

#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      float* row = c + r * ldc;
      if (cols == 4 * kVectors) {
#pragma GCC unroll 3
        for (int v = 0; v < kVectors; ++v) {
          float32x4_t value = acc[r][v];
          if (accumulate) value = vaddq_f32(value, vld1q_f32(row + 4 * v));
          vst1q_f32(row + 4 * v, value);
        }
      } else {  // right edge: through a small buffer, never touching C past `cols`
        float tile[4 * kVectors];
#pragma GCC unroll 3
        for (int v = 0; v < kVectors; ++v) vst1q_f32(tile + 4 * v, acc[r][v]);
        for (int j = 0; j < cols; ++j) row[j] = accumulate ? row[j] + tile[j] : tile[j];
      }
    }
  }

  // acc[r][v] += b_row[v] · a[r] for each row r, with a[r] taken as a lane of a_low / a_high.
  template <int... kRow>
  static inline void multiply_add_rows(float32x4_t (&acc)[kRows][kVectors],
                                       const float32x4_t (&b_row)[kVectors], float32x4_t a_low,
                                       float32x4_t a_high, std::integer_sequence<int, kRow...>) {
    (multiply_add_row<kRow>(acc[kRow], b_row, kRow < 4 ? a_low : a_high), ...);
  }
  template <int kRow>
  static inline void multiply_add_row(float32x4_t (&acc)[kVectors],
                                      const float32x4_t (&b_row)[kVectors], float32x4_t a) {
#pragma GCC unroll 3
    for (int v = 0; v < kVectors; ++v) acc[v] = multiply_add_lane<kRow % 4>(acc[v], b_row[v], a);
  }
};

// ---- The few-rows path: dot products and AXPYs ----------------------------------------------

float dot_neon(const float* x, const float* y, int k) {
  float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
  int p = 0;
  for (; p + 16 <= k; p += 16) {
    s0 = vfmaq_f32(s0, vld1q_f32(x + p), vld1q_f32(y + p));
    s1 = vfmaq_f32(s1, vld1q_f32(x + p + 4), vld1q_f32(y + p + 4));
    s2 = vfmaq_f32(s2, vld1q_f32(x + p + 8), vld1q_f32(y + p + 8));
    s3 = vfmaq_f32(s3, vld1q_f32(x + p + 12), vld1q_f32(y + p + 12));
  }
  for (; p + 4 <= k; p += 4) s0 = vfmaq_f32(s0, vld1q_f32(x + p), vld1q_f32(y + p));
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
  for (; p < k; ++p) sum += x[p] * y[p];
  return sum;
}

void axpy_neon(float* y, float alpha, const float* x, int n) {
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    vst1q_f32(y + j, vfmaq_n_f32(vld1q_f32(y + j), vld1q_f32(x + j), alpha));
    vst1q_f32(y + j + 4, vfmaq_n_f32(vld1q_f32(y + j + 4), vld1q_f32(x + j + 4), alpha));
  }
  for (; j + 4 <= n; j += 4)
    vst1q_f32(y + j, vfmaq_n_f32(vld1q_f32(y + j), vld1q_f32(x + j), alpha));
  for (; j < n; ++j) y[j] += alpha * x[j];
}

}  // namespace

// Cache blocks: a packed B micro-panel (kc x nr, 12 KB) stays in L1 while the packed A block
// (mc x kc, 128 KB) streams from L2; nc bounds the packed B block (1 MB) for L2 too.
const MicroKernel* architecture_micro_kernel(Isa isa) {
  static const MicroKernel neon = make_micro_kernel<NeonKernel, kNeonVectors, 1>(
      Isa::kNeon, kNeonRows, kNeonColumns, /*narrow_nr=*/4, /*kc=*/256, /*mc=*/128,
      /*nc=*/1020, dot_neon, axpy_neon, /*dot4=*/nullptr, pack_transposed_portable,
      std::make_integer_sequence<int, kNeonRows>{});
  return isa == Isa::kNeon ? &neon : nullptr;
}

}  // namespace edgetrain::ops::gemm_internal
