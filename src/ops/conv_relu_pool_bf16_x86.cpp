// The fused convolution's deep forward kernel with bf16 products (ConvReluPoolShape::products;
// issue #14): deep_forward_sample's loops (conv_relu_pool_kernels.cpp), but each step multiplies
// two consecutive patch elements by two weights at once with vdpbf16ps, summing in fp32. Compiled
// with target attributes; deep_bf16_kernels() hands the kernels out only where the CPU has
// AVX512-BF16, checked at run time. Built only for x86-64 (CMakeLists.txt).
#if !defined(__x86_64__)
#error "conv_relu_pool_bf16_x86.cpp is for x86-64 builds only"
#endif
#include <immintrin.h>

#include <algorithm>

#include "ops/avx512_tile_x86.h"
#include "ops/conv_relu_pool_internal.h"

#define EDGETRAIN_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

namespace edgetrain::ops::conv_relu_pool_internal {
namespace {

using gemm_internal::first_lanes;

// to[i] = bf16(from[i]) for i < n, rounded to nearest even as round_to_bf16 (gemm_bf16.h).
EDGETRAIN_BF16_TARGET void round_to_bf16_values(uint16_t* to, const float* from, size_t n) {
  for (size_t i = 0; i < n; i += 32) {
    const size_t left = n - i;
    const __m512 low = _mm512_maskz_loadu_ps(first_lanes(int(std::min<size_t>(left, 16))), from + i);
    const __m512 high =
        _mm512_maskz_loadu_ps(first_lanes(left > 16 ? int(std::min<size_t>(left - 16, 16)) : 0),
                              from + i + 16);
    // Half-words 0..15 from `low`, 16..31 from `high`: the values in order.
    const __m512i rounded = (__m512i)_mm512_cvtne2ps_pbh(high, low);
    const __mmask32 store = left >= 32 ? __mmask32(0xFFFFFFFFu) : __mmask32((1u << left) - 1);
    _mm512_mask_storeu_epi16(to + i, store, rounded);
  }
}

// One 16-channel half of a 32-channel block: the running max over the window and where it was.
struct Best {
  __m512 value;
  __m512i at;
};

EDGETRAIN_BF16_TARGET inline void take(Best& best, __m512 sum, int at) {
  const __mmask16 better =
      at == 0 ? __mmask16(0xFFFF) : _mm512_cmp_ps_mask(sum, best.value, _CMP_GT_OQ);
  best.value = _mm512_mask_blend_ps(better, best.value, sum);
  best.at = _mm512_mask_blend_epi32(better, best.at, _mm512_set1_epi32(at));
}

EDGETRAIN_BF16_TARGET inline __m512 dot(__m512 sum, uint32_t x_pair, __m512i w_pairs) {
  return _mm512_dpbf16_ps(sum, (__m512bh)_mm512_set1_epi32(int(x_pair)), (__m512bh)w_pairs);
}

// pooled_hwc, argmax_n (PH·PW, OC); in_bf16 (IH·IW, IC) with IC even, so every patch row starts
// on a pair; w_pairs (K/2, OC): word (q, c) holds w_kc (2q, c) low and (2q + 1, c) high.
EDGETRAIN_BF16_TARGET void deep_forward_bf16_sample(float* pooled_hwc, uint8_t* argmax_n,
                                                    const uint16_t* in_bf16,
                                                    const uint32_t* w_pairs, const float* bias,
                                                    const int32_t* origins, const Sizes& z,
                                                    int positions) {
  const int oc = z.oc, kh = z.kh, run_pairs = z.kw * z.ic / 2;
  const size_t row_step = size_t(z.iw) * z.ic;
  auto pair_at = [](const uint16_t* at) {
    uint32_t pair;
    __builtin_memcpy(&pair, at, sizeof pair);
    return pair;
  };
  for (int w = 0; w < z.windows; ++w) {
    const int32_t* origin = origins + w * positions;
    for (int c0 = 0; c0 < oc; c0 += 32) {
      Best best0{_mm512_setzero_ps(), _mm512_setzero_si512()}, best1 = best0;
      int at = 0;
      // Four positions at a time keep 8 accumulators in flight, as the fp32 kernel.
      for (; at + 4 <= positions; at += 4) {
        __m512 s[4][2];
        for (auto& pair : s) pair[0] = pair[1] = _mm512_setzero_ps();
        for (int r = 0; r < kh; ++r) {
          const size_t row = size_t(r) * row_step;
          const uint16_t* x[4];
          for (int p = 0; p < 4; ++p) x[p] = in_bf16 + origin[at + p] + row;
          const uint32_t* wr = w_pairs + size_t(r) * run_pairs * oc + c0;
          for (int q = 0; q < run_pairs; ++q) {
            const __m512i wa = _mm512_loadu_si512(wr + size_t(q) * oc);
            const __m512i wb = _mm512_loadu_si512(wr + size_t(q) * oc + 16);
            for (int p = 0; p < 4; ++p) {
              const uint32_t pair = pair_at(x[p] + 2 * q);
              s[p][0] = dot(s[p][0], pair, wa);
              s[p][1] = dot(s[p][1], pair, wb);
            }
          }
        }
        for (int p = 0; p < 4; ++p) take(best0, s[p][0], at + p), take(best1, s[p][1], at + p);
      }
      for (; at < positions; ++at) {  // windows of other sizes: one position at a time
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        for (int r = 0; r < kh; ++r) {
          const uint16_t* x = in_bf16 + origin[at] + size_t(r) * row_step;
          const uint32_t* wr = w_pairs + size_t(r) * run_pairs * oc + c0;
          for (int q = 0; q < run_pairs; ++q) {
            const uint32_t pair = pair_at(x + 2 * q);
            s0 = dot(s0, pair, _mm512_loadu_si512(wr + size_t(q) * oc));
            s1 = dot(s1, pair, _mm512_loadu_si512(wr + size_t(q) * oc + 16));
          }
        }
        take(best0, s0, at), take(best1, s1, at);
      }
      // Bias after the max (it is the same at every position), then ReLU; a pooled 0 carries no
      // gradient.
      float* pooled = pooled_hwc + size_t(w) * oc + c0;
      uint8_t* to = argmax_n + size_t(w) * oc + c0;
      for (int half = 0; half < 2; ++half) {
        const Best& best = half == 0 ? best0 : best1;
        const __m512 value = _mm512_add_ps(best.value, _mm512_loadu_ps(bias + c0 + 16 * half));
        const __mmask16 alive = _mm512_cmp_ps_mask(value, _mm512_setzero_ps(), _CMP_GT_OQ);
        _mm512_storeu_ps(pooled + 16 * half, _mm512_maskz_mov_ps(alive, value));
        const __m512i arg = _mm512_mask_blend_epi32(alive, _mm512_set1_epi32(kNoGradient), best.at);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(to + 16 * half), _mm512_cvtepi32_epi8(arg));
      }
    }
  }
}

}  // namespace

const DeepBf16Kernels* deep_bf16_kernels() {
  static const DeepBf16Kernels kernels{round_to_bf16_values, deep_forward_bf16_sample};
  static const bool supported = __builtin_cpu_supports("avx512f") &&
                                __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512bf16");
  return supported ? &kernels : nullptr;
}

}  // namespace edgetrain::ops::conv_relu_pool_internal
