// aarch64's in-register kernels of the fused convolution + ReLU + max-pool (layouts and contracts
// in conv_relu_pool_internal.h), written for NEON's 32 registers of 4 floats. The generic-vector
// kernels (conv_relu_pool_kernels.cpp) keep 16-float vectors, one register on AVX-512 but four
// here: their deep forward holds 8 of them (32 registers) plus the weights, and LeNet's direct
// kernels 9 weight vectors (36), so on aarch64 they would spill. These tile for 32 registers
// instead:
//   direct forward / backward: 8 channels (two q registers) at a time, the 9 weights of a 3x3x1
//     patch in 18 registers, the window's 4 positions as 8 independent accumulators;
//   deep forward: 16 channels x 4 window positions = 16 accumulators + 4 weight registers.
// The sparse backward's blocks of 4 vectors (16 registers) fit as they are, so it stays generic.
// The tests run both sets against the plain reference (ConvReluPoolShape::kernel_set).
// Built only for aarch64 (CMakeLists.txt).
#if !defined(__aarch64__)
#error "conv_relu_pool_kernels_neon.cpp is for aarch64 builds only"
#endif
#include <arm_neon.h>

#include "ops/conv_relu_pool_internal.h"

namespace edgetrain::ops::conv_relu_pool_internal {
namespace {

// The window position of each lane's max so far, and that max; the first max in window order wins.
struct Best {
  float32x4_t value;
  uint32x4_t at;
  void take(float32x4_t sum, int position) {
    const uint32x4_t greater = position == 0 ? vdupq_n_u32(~0u) : vcgtq_f32(sum, value);
    value = vbslq_f32(greater, sum, value);
    at = vbslq_u32(greater, vdupq_n_u32(uint32_t(position)), at);
  }
};

// The pooled value max(0, best + bias) and its argmax byte (kNoGradient where ReLU cut it).
struct Pooled {
  float32x4_t value;
  uint16x4_t at;
};
inline Pooled finish(const Best& best, float32x4_t bias) {
  const float32x4_t value = vaddq_f32(best.value, bias);
  const uint32x4_t alive = vcgtq_f32(value, vdupq_n_f32(0.0f));
  const uint32x4_t at = vbslq_u32(alive, best.at, vdupq_n_u32(kNoGradient));
  return {vbslq_f32(alive, value, vdupq_n_f32(0.0f)), vmovn_u32(at)};
}

// 8 argmax bytes from two groups of 4 lanes.
inline void store_argmax8(uint8_t* to, uint16x4_t low, uint16x4_t high) {
  vst1_u8(to, vmovn_u16(vcombine_u16(low, high)));
}

// ---- Direct path: shallow patches (K <= kDirectMaxDepth), channels in multiples of 16 ----------
// pooled_hwc (PH·PW, OC), argmax_n (PH·PW, OC), in_hwc (IH·IW, IC), w_kc (K, OC). Template
// arguments > 0 fix the kernel rows, the run KW·IC and a square pool at compile time (LeNet's first
// layer: 3, 3, 2), so every loop over the patch and the window unrolls into straight FMAs.
template <int kKh, int kRun, int kPool>
inline void direct_forward(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc,
                           const float* w_kc, const float* bias, const Sizes& z, int pool_h,
                           int pool_w) {
  const int kh = kKh > 0 ? kKh : z.kh, run = kRun > 0 ? kRun : z.kw * z.ic;
  if constexpr (kPool > 0) pool_h = pool_w = kPool;
  const int oc = z.oc, iw = z.iw, ic = z.ic, depth = kh * run, positions = pool_h * pool_w;
  for (int c0 = 0; c0 < oc; c0 += 8) {
    float32x4_t w0[kDirectMaxDepth], w1[kDirectMaxDepth];  // channels c0..c0+3, c0+4..c0+7
    for (int k = 0; k < depth; ++k) {
      w0[k] = vld1q_f32(w_kc + size_t(k) * oc + c0);
      w1[k] = vld1q_f32(w_kc + size_t(k) * oc + c0 + 4);
    }
    const float32x4_t b0 = vld1q_f32(bias + c0), b1 = vld1q_f32(bias + c0 + 4);
    for (int py = 0; py < z.ph; ++py) {
      for (int px = 0; px < z.pw; ++px) {
        Best best0{vdupq_n_f32(0.0f), vdupq_n_u32(0)}, best1 = best0;
        // Unrolled, the window's positions are independent chains of multiply-adds.
#pragma GCC unroll 4
        for (int at = 0; at < positions; ++at) {
          const int y = py * pool_h + at / pool_w, x = px * pool_w + at % pool_w;
          float32x4_t sum0 = vdupq_n_f32(0.0f), sum1 = sum0;
          for (int r = 0; r < kh; ++r) {
            const float* row = in_hwc + (size_t(y + r) * iw + x) * ic;
            for (int i = 0; i < run; ++i) {
              sum0 = vfmaq_n_f32(sum0, w0[r * run + i], row[i]);
              sum1 = vfmaq_n_f32(sum1, w1[r * run + i], row[i]);
            }
          }
          best0.take(sum0, at);
          best1.take(sum1, at);
        }
        const size_t cell = size_t(py * z.pw + px) * oc + c0;
        const Pooled p0 = finish(best0, b0), p1 = finish(best1, b1);
        vst1q_f32(pooled_hwc + cell, p0.value);
        vst1q_f32(pooled_hwc + cell + 4, p1.value);
        store_argmax8(argmax_n + cell, p0.at, p1.at);
      }
    }
  }
}

// dw_kc (K, OC) += Σ over hits of g · patch: a lane whose argmax is not this position (or is
// kNoGradient) adds 0. dbias (OC), if not null, += the sums of g over the windows with a gradient.
template <int kKh, int kRun, int kPool>
inline void direct_backward(float* dw_kc, float* dbias, const float* dout_hwc,
                            const uint8_t* argmax_n, const float* in_hwc, const Sizes& z,
                            int pool_h, int pool_w) {
  const int kh = kKh > 0 ? kKh : z.kh, run = kRun > 0 ? kRun : z.kw * z.ic;
  if constexpr (kPool > 0) pool_h = pool_w = kPool;
  const int oc = z.oc, iw = z.iw, ic = z.ic, depth = kh * run, positions = pool_h * pool_w;
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (int c0 = 0; c0 < oc; c0 += 8) {
    float32x4_t dw0[kDirectMaxDepth], dw1[kDirectMaxDepth];
    for (int k = 0; k < depth; ++k) dw0[k] = dw1[k] = zero;
    float32x4_t db0 = zero, db1 = zero;
    const uint32x4_t no_gradient = vdupq_n_u32(kNoGradient);
    for (int py = 0; py < z.ph; ++py) {
      for (int px = 0; px < z.pw; ++px) {
        const size_t cell = size_t(py * z.pw + px) * oc + c0;
        const float32x4_t g0 = vld1q_f32(dout_hwc + cell), g1 = vld1q_f32(dout_hwc + cell + 4);
        const uint16x8_t arg = vmovl_u8(vld1_u8(argmax_n + cell));
        const uint32x4_t arg0 = vmovl_u16(vget_low_u16(arg)), arg1 = vmovl_u16(vget_high_u16(arg));
        db0 = vaddq_f32(db0, vbslq_f32(vceqq_u32(arg0, no_gradient), zero, g0));
        db1 = vaddq_f32(db1, vbslq_f32(vceqq_u32(arg1, no_gradient), zero, g1));
        for (int at = 0; at < positions; ++at) {
          const uint32x4_t position = vdupq_n_u32(uint32_t(at));
          const float32x4_t g0_at = vbslq_f32(vceqq_u32(arg0, position), g0, zero);
          const float32x4_t g1_at = vbslq_f32(vceqq_u32(arg1, position), g1, zero);
          const int y = py * pool_h + at / pool_w, x = px * pool_w + at % pool_w;
          for (int r = 0; r < kh; ++r) {
            const float* row = in_hwc + (size_t(y + r) * iw + x) * ic;
            for (int i = 0; i < run; ++i) {
              dw0[r * run + i] = vfmaq_n_f32(dw0[r * run + i], g0_at, row[i]);
              dw1[r * run + i] = vfmaq_n_f32(dw1[r * run + i], g1_at, row[i]);
            }
          }
        }
      }
    }
    for (int k = 0; k < depth; ++k) {
      float* row = dw_kc + size_t(k) * oc + c0;
      vst1q_f32(row, vaddq_f32(vld1q_f32(row), dw0[k]));
      vst1q_f32(row + 4, vaddq_f32(vld1q_f32(row + 4), dw1[k]));
    }
    if (dbias != nullptr) {
      vst1q_f32(dbias + c0, vaddq_f32(vld1q_f32(dbias + c0), db0));
      vst1q_f32(dbias + c0 + 4, vaddq_f32(vld1q_f32(dbias + c0 + 4), db1));
    }
  }
}

void neon_direct_forward_sample(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc,
                                const float* w_kc, const float* bias, const Sizes& z, int pool_h,
                                int pool_w) {
  if (direct_sizes_are_3x3x1_pool_2x2(z, pool_h, pool_w)) {  // LeNet's: unrolled
    direct_forward<3, 3, 2>(pooled_hwc, argmax_n, in_hwc, w_kc, bias, z, pool_h, pool_w);
  } else {
    direct_forward<0, 0, 0>(pooled_hwc, argmax_n, in_hwc, w_kc, bias, z, pool_h, pool_w);
  }
}

void neon_direct_backward_sample(float* dw_kc, float* dbias, const float* dout_hwc,
                                 const uint8_t* argmax_n, const float* in_hwc, const Sizes& z,
                                 int pool_h, int pool_w) {
  if (direct_sizes_are_3x3x1_pool_2x2(z, pool_h, pool_w)) {
    direct_backward<3, 3, 2>(dw_kc, dbias, dout_hwc, argmax_n, in_hwc, z, pool_h, pool_w);
  } else {
    direct_backward<0, 0, 0>(dw_kc, dbias, dout_hwc, argmax_n, in_hwc, z, pool_h, pool_w);
  }
}

// ---- Deep forward: patches deeper than kDirectMaxDepth, output channels in multiples of 32 -----
// Per window and 16 channels: 4 window positions at a time (a 2x2 pool: all of them), 16
// accumulators; each step of the patch loads 4 weight vectors (a (K, OC) row of w_kc, from L1) and
// one input value per position, multiplied in by lane (fmla by element). A rest of the window
// (pools other than 2x2) goes one position at a time. origins[window·positions + at] is the input
// element where patch row 0 under window position `at` starts.
void neon_deep_forward_sample(float* __restrict pooled_hwc, uint8_t* __restrict argmax_n,
                              const float* __restrict in_hwc, const float* __restrict w_kc,
                              const float* __restrict bias, const int32_t* __restrict origins,
                              const Sizes& z, int positions) {
  const int oc = z.oc, kh = z.kh, run = z.kw * z.ic, windows = z.windows;
  const size_t row_step = size_t(z.iw) * z.ic;
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (int w = 0; w < windows; ++w) {
    const int32_t* origin = origins + w * positions;
    for (int c0 = 0; c0 < oc; c0 += 16) {
      Best best[4];
      for (Best& b : best) b = {zero, vdupq_n_u32(0)};
      int at = 0;
      for (; at + 4 <= positions; at += 4) {
        const float* p0 = in_hwc + origin[at];
        const float* p1 = in_hwc + origin[at + 1];
        const float* p2 = in_hwc + origin[at + 2];
        const float* p3 = in_hwc + origin[at + 3];
        float32x4_t acc[4][4];  // [position][channel vector]
        for (auto& position : acc)
          for (auto& vector : position) vector = zero;
        for (int r = 0; r < kh; ++r) {
          const size_t row = size_t(r) * row_step;
          const float* wr = w_kc + size_t(r) * run * oc + c0;
          for (int i = 0; i < run; ++i) {
            const float* wi = wr + size_t(i) * oc;
            const float32x4_t wv[4] = {vld1q_f32(wi), vld1q_f32(wi + 4), vld1q_f32(wi + 8),
                                       vld1q_f32(wi + 12)};
            const float x[4] = {p0[row + i], p1[row + i], p2[row + i], p3[row + i]};
#pragma GCC unroll 4
            for (int q = 0; q < 4; ++q)
#pragma GCC unroll 4
              for (int v = 0; v < 4; ++v) acc[q][v] = vfmaq_n_f32(acc[q][v], wv[v], x[q]);
          }
        }
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q)
#pragma GCC unroll 4
          for (int v = 0; v < 4; ++v) best[v].take(acc[q][v], at + q);
      }
      for (; at < positions; ++at) {
        const float* p = in_hwc + origin[at];
        float32x4_t acc[4] = {zero, zero, zero, zero};
        for (int r = 0; r < kh; ++r) {
          const float* x = p + size_t(r) * row_step;
          const float* wr = w_kc + size_t(r) * run * oc + c0;
          for (int i = 0; i < run; ++i) {
#pragma GCC unroll 4
            for (int v = 0; v < 4; ++v)
              acc[v] = vfmaq_n_f32(acc[v], vld1q_f32(wr + size_t(i) * oc + 4 * v), x[i]);
          }
        }
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) best[v].take(acc[v], at);
      }
      const size_t cell = size_t(w) * oc + c0;
      Pooled pooled[4];
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) {
        pooled[v] = finish(best[v], vld1q_f32(bias + c0 + 4 * v));
        vst1q_f32(pooled_hwc + cell + 4 * v, pooled[v].value);
      }
      store_argmax8(argmax_n + cell, pooled[0].at, pooled[1].at);
      store_argmax8(argmax_n + cell + 8, pooled[2].at, pooled[3].at);
    }
  }
}

}  // namespace

ArchitectureKernels architecture_kernels() {
  static const InRegisterKernels kernels{"neon", neon_direct_forward_sample,
                                         neon_direct_backward_sample, neon_deep_forward_sample,
                                         sparse_backward_sample};
  ArchitectureKernels sets;
  sets.set[sets.count++] = &kernels;
  return sets;
}

}  // namespace edgetrain::ops::conv_relu_pool_internal
