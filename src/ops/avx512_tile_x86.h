// What the AVX-512 micro-kernels share (gemm_kernels_x86.cpp's fp32 FMA kernel and
// gemm_bf16_x86.cpp's vdpbf16ps one): the mask of a tile's right edge and the store of a tile of
// fp32 sums into C. x86-64 only, included only by *_x86.cpp files.
#pragma once

#if !defined(__x86_64__)
#error "avx512_tile_x86.h is for x86-64 builds only"
#endif
#include <immintrin.h>

namespace edgetrain::ops::gemm_internal {

// The mask of the first `lanes` of 16 (none when lanes <= 0).
__attribute__((target("avx512f"))) inline __mmask16 first_lanes(int lanes) {
  if (lanes >= 16) return __mmask16(0xFFFF);
  if (lanes <= 0) return __mmask16(0);
  return __mmask16((1u << lanes) - 1);
}

// Writes a kRows x (16 * kVectors) tile of sums to C (row stride ldc), only its first `cols`
// columns: masked loads and stores handle the right edge, so masked-off lanes are never touched.
// accumulate=false overwrites C without reading it; true adds to it.
template <int kRows, int kVectors>
__attribute__((target("avx512f"))) inline void store_tile(const __m512 (&acc)[kRows][kVectors],
                                                          float* c, int ldc, int cols,
                                                          bool accumulate) {
  __mmask16 masks[kVectors];
#pragma GCC unroll 4
  for (int v = 0; v < kVectors; ++v) masks[v] = first_lanes(cols - 16 * v);
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

}  // namespace edgetrain::ops::gemm_internal
