// The x86-64 mixed-precision GEMM kernel (see gemm_bf16.cpp): packing that rounds fp32 to bf16
// pairs with vcvtne2ps2bf16, and an 8 x 32 register tile of vdpbf16ps. Compiled with target
// attributes, so the library needs no -m flags; architecture_bf16_micro_kernel() hands it out only
// where the CPU has AVX512-BF16 (and AVX512-BW for the word permutes), checked at run time.
// Built only for x86-64 (CMakeLists.txt).
#if !defined(__x86_64__)
#error "gemm_bf16_x86.cpp is for x86-64 builds only"
#endif
#include <immintrin.h>

#include <algorithm>
#include <utility>

#include "ops/avx512_tile_x86.h"
#include "ops/gemm_bf16_internal.h"

#define EDGETRAIN_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

namespace edgetrain::ops::gemm_internal {
namespace {

// ---- Packing ------------------------------------------------------------------------------------

// Rounds 16 values of k step 2q (even) and 16 of step 2q + 1 (odd) to bf16 and interleaves them:
// word x = even[x] in the low half, odd[x] in the high half.
EDGETRAIN_BF16_TARGET inline __m512i round_and_interleave(__m512 even, __m512 odd) {
  // Half-words 0..15 hold even's values, 16..31 odd's; the permute puts even[x], odd[x] side by
  // side.
  alignas(64) static const uint16_t kInterleave[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,
                                                       21, 6,  22, 7,  23, 8,  24, 9,  25, 10, 26,
                                                       11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i halves = (__m512i)_mm512_cvtne2ps_pbh(odd, even);
  return _mm512_permutexvar_epi16(_mm512_load_si512(kInterleave), halves);
}

// k-major source (element (p, x) at src[p * ld + x]): two source rows make one pair step.
EDGETRAIN_BF16_TARGET void pack_k_major(Bf16Pair* dst, int width, const float* src, size_t ld,
                                        int count, int depth) {
  for (int p = 0; p < depth; p += 2) {
    const float* even_row = src + size_t(p) * ld;
    const bool has_odd = p + 1 < depth;  // an odd depth pads its last pair with zero
    Bf16Pair* out = dst + size_t(p / 2) * width;
    for (int x = 0; x < width; x += 16) {
      // Lanes past `count` load as zero (masked loads do not touch that memory).
      const __mmask16 load_mask = first_lanes(count - x);
      const __m512 even = _mm512_maskz_loadu_ps(load_mask, even_row + x);
      const __m512 odd =
          has_odd ? _mm512_maskz_loadu_ps(load_mask, even_row + ld + x) : _mm512_setzero_ps();
      _mm512_mask_storeu_epi32(out + x, first_lanes(width - x), round_and_interleave(even, odd));
    }
  }
}

// Transposes 16 x 16 words in place: rows[i] word j becomes rows[j] word i. The shuffles are the
// zero-masking forms with every lane kept (the same instructions): GCC 12's unmasked forms start
// from an "undefined" register that -Wmaybe-uninitialized then reports (GCC bug 105593).
constexpr __mmask16 kAll16 = 0xFFFF;
constexpr __mmask8 kAll8 = 0xFF;
EDGETRAIN_BF16_TARGET inline void transpose_16x16(__m512i rows[16]) {
  __m512i pairs[16], quads[16];
  for (int i = 0; i < 16; i += 2) {  // within each 128-bit lane: words 0,1 / 2,3 of two rows
    pairs[i] = _mm512_maskz_unpacklo_epi32(kAll16, rows[i], rows[i + 1]);
    pairs[i + 1] = _mm512_maskz_unpackhi_epi32(kAll16, rows[i], rows[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // quads[i + c], lane L: word 4L + c of rows i..i+3
    quads[i] = _mm512_maskz_unpacklo_epi64(kAll8, pairs[i], pairs[i + 2]);
    quads[i + 1] = _mm512_maskz_unpackhi_epi64(kAll8, pairs[i], pairs[i + 2]);
    quads[i + 2] = _mm512_maskz_unpacklo_epi64(kAll8, pairs[i + 1], pairs[i + 3]);
    quads[i + 3] = _mm512_maskz_unpackhi_epi64(kAll8, pairs[i + 1], pairs[i + 3]);
  }
  for (int c = 0; c < 4; ++c) {  // gather lane L of quads[c], [4 + c], [8 + c], [12 + c]
    const __m512i lanes_02_of_0_4 =
        _mm512_maskz_shuffle_i32x4(kAll16, quads[c], quads[4 + c], 0x88);
    const __m512i lanes_13_of_0_4 =
        _mm512_maskz_shuffle_i32x4(kAll16, quads[c], quads[4 + c], 0xDD);
    const __m512i lanes_02_of_8_12 =
        _mm512_maskz_shuffle_i32x4(kAll16, quads[8 + c], quads[12 + c], 0x88);
    const __m512i lanes_13_of_8_12 =
        _mm512_maskz_shuffle_i32x4(kAll16, quads[8 + c], quads[12 + c], 0xDD);
    rows[c] = _mm512_maskz_shuffle_i32x4(kAll16, lanes_02_of_0_4, lanes_02_of_8_12, 0x88);
    rows[8 + c] = _mm512_maskz_shuffle_i32x4(kAll16, lanes_02_of_0_4, lanes_02_of_8_12, 0xDD);
    rows[4 + c] = _mm512_maskz_shuffle_i32x4(kAll16, lanes_13_of_0_4, lanes_13_of_8_12, 0x88);
    rows[12 + c] = _mm512_maskz_shuffle_i32x4(kAll16, lanes_13_of_0_4, lanes_13_of_8_12, 0xDD);
  }
}

// x-major source (element (x, p) at src[x * ld + p]): each source row already holds its pairs side
// by side, so 32 floats round to 16 pair words in order; blocks of 16 x 16 words are then
// transposed into pair-step order.
EDGETRAIN_BF16_TARGET void pack_x_major(Bf16Pair* dst, int width, const float* src, size_t ld,
                                        int count, int depth) {
  const int pairs = (depth + 1) / 2;
  for (int x0 = 0; x0 < width; x0 += 16) {
    const int block_rows = std::min(16, count - x0);  // may be <= 0: a block of zero words
    const __mmask16 store_mask = first_lanes(width - x0);
    for (int q0 = 0; q0 < pairs; q0 += 16) {
      const int p0 = 2 * q0;
      const __mmask16 low_mask = first_lanes(depth - p0), high_mask = first_lanes(depth - p0 - 16);
      __m512i words[16];  // words[x]: pairs q0..q0+15 of row x0 + x
      for (int x = 0; x < 16; ++x) {
        if (x >= block_rows) {
          words[x] = _mm512_setzero_si512();
          continue;
        }
        const float* row = src + size_t(x0 + x) * ld + p0;
        const __m512 low = _mm512_maskz_loadu_ps(low_mask, row);
        const __m512 high = _mm512_maskz_loadu_ps(high_mask, row + 16);
        words[x] = (__m512i)_mm512_cvtne2ps_pbh(high, low);
      }
      transpose_16x16(words);  // words[w]: pair q0 + w of rows x0..x0+15
      const int block_pairs = std::min(16, pairs - q0);
      for (int w = 0; w < block_pairs; ++w)
        _mm512_mask_storeu_epi32(dst + size_t(q0 + w) * width + x0, store_mask, words[w]);
    }
  }
}

// ---- Micro-kernel: 8 rows x 32 columns (two zmm of fp32 sums per row, 16 accumulators) ---------
// As the fp32 AVX-512 kernel: 16 independent accumulators cover vdpbf16ps's latency; each
// instruction does 16 lanes x 2 multiply-adds.
constexpr int kBf16Rows = 8;
constexpr int kBf16Vectors = 2;
constexpr int kBf16Columns = 16 * kBf16Vectors;

// kVectors <= kBf16Vectors: how many of the panel's 16-word vectors this tile computes.
template <int kRows, int kVectors>
struct Bf16Kernel {
  EDGETRAIN_BF16_TARGET static void run(int k_pairs, const Bf16Pair* a, const Bf16Pair* b, float* c,
                                        int ldc, int cols, bool accumulate) {
    __m512 acc[kRows][kVectors];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm512_setzero_ps();

    for (int q = 0; q < k_pairs; ++q) {
      __m512bh b_pairs[kVectors];
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) b_pairs[v] = (__m512bh)_mm512_loadu_si512(b + 16 * v);
#pragma GCC unroll 16
      for (int r = 0; r < kRows; ++r) {
        const __m512bh a_pair = (__m512bh)_mm512_set1_epi32(int(a[r]));
#pragma GCC unroll 4
        for (int v = 0; v < kVectors; ++v)
          acc[r][v] = _mm512_dpbf16_ps(acc[r][v], a_pair, b_pairs[v]);
      }
      a += kBf16Rows;
      b += kBf16Columns;
    }

    store_tile<kRows, kVectors>(acc, c, ldc, cols, accumulate);
  }
};

template <int... kRows>
Bf16MicroKernel make_bf16_micro_kernel(std::integer_sequence<int, kRows...>) {
  // Cache blocks as the fp32 kernel's, in bytes: a packed B micro-panel (kc/2 x 32 words = 32 KB)
  // in L1, the packed A block (mc x kc/2 words) in L2.
  Bf16MicroKernel kernel{kBf16Rows,        kBf16Columns, /*kc=*/512,   /*mc=*/128,  /*nc=*/1024, {},
                         /*narrow_nr=*/16, {},           pack_k_major, pack_x_major};
  ((kernel.by_rows[kRows + 1] = &Bf16Kernel<kRows + 1, kBf16Vectors>::run), ...);
  ((kernel.narrow_by_rows[kRows + 1] = &Bf16Kernel<kRows + 1, 1>::run), ...);
  return kernel;
}

}  // namespace

const Bf16MicroKernel* architecture_bf16_micro_kernel() {
  static const Bf16MicroKernel kernel =
      make_bf16_micro_kernel(std::make_integer_sequence<int, kBf16Rows>{});
  static const bool supported = __builtin_cpu_supports("avx512f") &&
                                __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512bf16");
  return supported ? &kernel : nullptr;
}

}  // namespace edgetrain::ops::gemm_internal
