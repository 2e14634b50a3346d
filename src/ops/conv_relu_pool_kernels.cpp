// The fused op's in-register kernels, one sample each (declared, with the layouts, in
// conv_relu_pool_internal.h). Written with 16-float vectors (simd.h) and compiled per ISA by
// EDGETRAIN_VECTORIZE. Each has a plain counterpart the tests compare it with: the reference
// composition conv2d_forward_reference → ReLU → max-pool, and its backward.
#include <algorithm>
#include <cstring>

#include "ops/conv_relu_pool_internal.h"
#include "ops/simd.h"

namespace edgetrain::ops::conv_relu_pool_internal {
namespace {

// ---- Direct path: shallow patches (K <= kDirectMaxDepth), channels in multiples of 16 ----------
// A first layer (one channel, 3x3: K = 9) is too shallow for a GEMM to pay for its im2col and
// packing. Here each window's convolution outputs are computed in registers, 16 channels at a time,
// straight from the input, pooled there, and only the pooled values and argmax leave.

// pooled_hwc (PH·PW, OC) and argmax_n (PH·PW, OC) of one sample; w_kc (K, OC).
// Template arguments > 0 fix the kernel rows, the run KW·IC and a square pool size at compile time,
// so the loops unroll and the window's positions interleave.
template <int kKh, int kRun, int kPool>
EDGETRAIN_INLINE void direct_forward(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc,
                                     const float* w_kc, const float* bias, const Sizes& z,
                                     int pool_h, int pool_w) {
  const int kh = kKh > 0 ? kKh : z.kh, run = kRun > 0 ? kRun : z.kw * z.ic;
  if constexpr (kPool > 0) pool_h = pool_w = kPool;
  const int oc = z.oc, iw = z.iw, ic = z.ic;
  for (int c0 = 0; c0 < oc; c0 += kLanes) {
    Vec w[kDirectMaxDepth];
    for (int k = 0; k < kh * run; ++k) w[k] = load(w_kc + size_t(k) * oc + c0);
    const Vec b = load(bias + c0);
    for (int py = 0; py < z.ph; ++py) {
      for (int px = 0; px < z.pw; ++px) {
        Vec best{};
        Lanes best_at{};
        for (int at = 0; at < pool_h * pool_w; ++at) {
          const int y = py * pool_h + at / pool_w, x = px * pool_w + at % pool_w;
          Vec sum{};
          for (int r = 0; r < kh; ++r) {
            const float* row = in_hwc + (size_t(y + r) * iw + x) * ic;
            for (int i = 0; i < run; ++i) sum += row[i] * w[r * run + i];
          }
          const Lanes greater = at == 0 ? ~Lanes{} : Lanes(sum > best);
          best = select(greater, sum, best);
          best_at = select(greater, Lanes{} + at, best_at);
        }
        const int window = py * z.pw + px;
        const Vec value = best + b;
        const Lanes alive = value > Vec{};
        store(pooled_hwc + size_t(window) * oc + c0, select(alive, value, Vec{}));
        const Lanes at = select(alive, best_at, Lanes{} + kNoGradient);
        uint8_t* to = argmax_n + size_t(window) * oc + c0;
        for (int lane = 0; lane < kLanes; ++lane) to[lane] = uint8_t(at[lane]);
      }
    }
  }
}

// dw_kc (K, OC) += Σ over hits of g · patch; dout_hwc (PH·PW, OC) is already 0 where no gradient
// flows, so a lane whose argmax is not this position just adds 0.
template <int kKh, int kRun, int kPool>
EDGETRAIN_INLINE void direct_backward(float* dw_kc, const float* dout_hwc, const uint8_t* argmax_n,
                                      const float* in_hwc, const Sizes& z, int pool_h, int pool_w) {
  const int kh = kKh > 0 ? kKh : z.kh, run = kRun > 0 ? kRun : z.kw * z.ic;
  if constexpr (kPool > 0) pool_h = pool_w = kPool;
  const int oc = z.oc, iw = z.iw, ic = z.ic;
  for (int c0 = 0; c0 < oc; c0 += kLanes) {
    Vec dw[kDirectMaxDepth];
    for (int k = 0; k < kh * run; ++k) dw[k] = Vec{};
    for (int py = 0; py < z.ph; ++py) {
      for (int px = 0; px < z.pw; ++px) {
        const int window = py * z.pw + px;
        const Vec g = load(dout_hwc + size_t(window) * oc + c0);
        Lanes arg;
        const uint8_t* from = argmax_n + size_t(window) * oc + c0;
        for (int lane = 0; lane < kLanes; ++lane) arg[lane] = from[lane];
        for (int at = 0; at < pool_h * pool_w; ++at) {
          const Vec g_at = select(arg == at, g, Vec{});
          const int y = py * pool_h + at / pool_w, x = px * pool_w + at % pool_w;
          for (int r = 0; r < kh; ++r) {
            const float* row = in_hwc + (size_t(y + r) * iw + x) * ic;
            for (int i = 0; i < run; ++i) dw[r * run + i] += row[i] * g_at;
          }
        }
      }
    }
    for (int k = 0; k < kh * run; ++k) {
      float* row = dw_kc + size_t(k) * oc + c0;
      store(row, load(row) + dw[k]);
    }
  }
}

// Sparse backward with 16-float vectors, for patch runs in multiples of 16 (a channel-last input
// with IC % 16 == 0, like LeNet's second layer: run = 2·32). Sums stay in registers until the
// end: the weight gradient one channel at a time over the windows (a window without gradient
// adds 0·patch, cheaper than an unpredictable branch), the input gradient one (window, position)
// at a time over the channels whose max sits there. dout_hwc (PH·PW, OC) is 0 where no gradient;
// origins[window·positions + at] is the input element where patch row 0 under `at` starts.

// to[0 .. 64) += Σ_i scale(i) · from(i)[0 .. 64) over i < count, in four vector registers.
template <typename Scale, typename From>
EDGETRAIN_INLINE void add_sum_of_four(float* to, int count, Scale scale, From from) {
  Vec a0{}, a1{}, a2{}, a3{};
  for (int i = 0; i < count; ++i) {
    const float g = scale(i);
    const float* x = from(i);
    a0 += g * load(x);
    a1 += g * load(x + kLanes);
    a2 += g * load(x + 2 * kLanes);
    a3 += g * load(x + 3 * kLanes);
  }
  store(to, load(to) + a0);
  store(to + kLanes, load(to + kLanes) + a1);
  store(to + 2 * kLanes, load(to + 2 * kLanes) + a2);
  store(to + 3 * kLanes, load(to + 3 * kLanes) + a3);
}

// The same for one vector, to[0 .. 16).
template <typename Scale, typename From>
EDGETRAIN_INLINE void add_sum_of_one(float* to, int count, Scale scale, From from) {
  Vec a0{};
  for (int i = 0; i < count; ++i) a0 += scale(i) * load(from(i));
  store(to, load(to) + a0);
}

// Calls add(offset, four) over [0, run) in blocks of 64 floats, then of 16.
template <typename Add>
EDGETRAIN_INLINE void for_each_block(int run, Add add) {
  int i0 = 0;
  for (; i0 + 4 * kLanes <= run; i0 += 4 * kLanes) add(i0, true);
  for (; i0 < run; i0 += kLanes) add(i0, false);
}

}  // namespace

EDGETRAIN_VECTORIZE
void sparse_backward_sample(float* __restrict dw_hwc, float* __restrict din_hwc,
                             const float* __restrict dout_hwc, const uint8_t* __restrict argmax_n,
                             const float* __restrict in_hwc, const float* __restrict w_hwc,
                             const int32_t* __restrict origins, const Sizes& z, int positions) {
  const int oc = z.oc, k = z.k, kh = z.kh, run = z.kw * z.ic, windows = z.windows;
  const size_t row_step = size_t(z.iw) * z.ic;  // from one input row to the next
  if (dw_hwc != nullptr) {
    for (int c = 0; c < oc; ++c) {
      // Window w's patch origin for this channel (position 0 where no gradient: it adds 0).
      auto patch = [&](int w) {
        const uint8_t at = argmax_n[size_t(w) * oc + c];
        return in_hwc + origins[w * positions + (at == kNoGradient ? 0 : at)];
      };
      auto gradient = [&](int w) { return dout_hwc[size_t(w) * oc + c]; };
      for (int r = 0; r < kh; ++r) {
        for_each_block(run, [&](int i0, bool four) {
          float* to = dw_hwc + size_t(c) * k + size_t(r) * run + i0;
          auto from = [&](int w) { return patch(w) + size_t(r) * row_step + i0; };
          if (four) {
            add_sum_of_four(to, windows, gradient, from);
          } else {
            add_sum_of_one(to, windows, gradient, from);
          }
        });
      }
    }
  }
  if (din_hwc == nullptr) return;
  int count[kNoGradient + 1], first[kNoGradient + 2], next[kNoGradient + 1];
  int members[kMaxPooledChannels];  // channels, grouped by the position of their max
  for (int w = 0; w < windows; ++w) {
    const uint8_t* window_at = argmax_n + size_t(w) * oc;
    const float* g = dout_hwc + size_t(w) * oc;
    // Counting sort of the channels by argmax; kNoGradient lands in the last bin, never read.
    for (int at = 0; at <= positions; ++at) count[at] = 0;
    for (int c = 0; c < oc; ++c) ++count[std::min<int>(window_at[c], positions)];
    first[0] = 0;
    for (int at = 0; at <= positions; ++at) first[at + 1] = first[at] + count[at];
    for (int at = 0; at <= positions; ++at) next[at] = first[at];
    for (int c = 0; c < oc; ++c) members[next[std::min<int>(window_at[c], positions)]++] = c;
    for (int at = 0; at < positions; ++at) {
      const int* channels = members + first[at];
      const int n = first[at + 1] - first[at];
      if (n == 0) continue;
      auto gradient = [&](int m) { return g[channels[m]]; };
      for (int r = 0; r < kh; ++r) {
        float* row = din_hwc + origins[w * positions + at] + size_t(r) * row_step;
        for_each_block(run, [&](int i0, bool four) {
          auto from = [&](int m) { return w_hwc + size_t(channels[m]) * k + size_t(r) * run + i0; };
          if (four) {
            add_sum_of_four(row + i0, n, gradient, from);
          } else {
            add_sum_of_one(row + i0, n, gradient, from);
          }
        });
      }
    }
  }
}

// ---- Deep forward: patches deeper than kDirectMaxDepth, output channels in multiples of 32 -----
// two window positions × 32 channels (four
// accumulators) per pass over K, weights read as (K, OC) rows from L1, input straight from the
// channel-last sample. No im2col, no GEMM packing, no convolution buffer; the window is pooled in
// registers. origins[window·positions + at]: input element where patch row 0 under `at` starts.
EDGETRAIN_VECTORIZE
void deep_forward_sample(float* __restrict pooled_hwc, uint8_t* __restrict argmax_n,
                         const float* __restrict in_hwc, const float* __restrict w_kc,
                         const float* __restrict bias, const int32_t* __restrict origins,
                         const Sizes& z, int positions) {
  const int oc = z.oc, kh = z.kh, run = z.kw * z.ic, windows = z.windows;
  const size_t row_step = size_t(z.iw) * z.ic;
  for (int w = 0; w < windows; ++w) {
    const int32_t* origin = origins + w * positions;
    for (int c0 = 0; c0 < oc; c0 += 2 * kLanes) {
      Vec best0{}, best1{};
      Lanes at0{}, at1{};
      auto take = [&](Vec s0, Vec s1, int at) {  // the first max in window order wins
        const Lanes g0 = at == 0 ? ~Lanes{} : Lanes(s0 > best0);
        const Lanes g1 = at == 0 ? ~Lanes{} : Lanes(s1 > best1);
        best0 = select(g0, s0, best0), at0 = select(g0, Lanes{} + at, at0);
        best1 = select(g1, s1, best1), at1 = select(g1, Lanes{} + at, at1);
      };
      int at = 0;
      // Four positions at a time (a 2x2 window: all of it) keep 8 accumulators in flight, enough
      // to cover the FMA latency; pairs take the rest.
      for (; at + 4 <= positions; at += 4) {
        const float* p0 = in_hwc + origin[at];
        const float* p1 = in_hwc + origin[at + 1];
        const float* p2 = in_hwc + origin[at + 2];
        const float* p3 = in_hwc + origin[at + 3];
        Vec a00{}, a01{}, a10{}, a11{}, a20{}, a21{}, a30{}, a31{};
        for (int r = 0; r < kh; ++r) {
          const size_t row = size_t(r) * row_step;
          const float* wr = w_kc + size_t(r) * run * oc + c0;
          for (int i = 0; i < run; ++i) {
            const Vec wa = load(wr + size_t(i) * oc), wb = load(wr + size_t(i) * oc + kLanes);
            const float x0 = p0[row + i], x1 = p1[row + i], x2 = p2[row + i], x3 = p3[row + i];
            a00 += x0 * wa, a01 += x0 * wb;
            a10 += x1 * wa, a11 += x1 * wb;
            a20 += x2 * wa, a21 += x2 * wb;
            a30 += x3 * wa, a31 += x3 * wb;
          }
        }
        take(a00, a01, at);
        take(a10, a11, at + 1);
        take(a20, a21, at + 2);
        take(a30, a31, at + 3);
      }
      for (; at < positions; at += 2) {
        const bool pair = at + 1 < positions;
        const float* p0 = in_hwc + origin[at];
        const float* p1 = in_hwc + origin[pair ? at + 1 : at];  // an odd last one runs twice
        Vec a00{}, a01{}, a10{}, a11{};
        for (int r = 0; r < kh; ++r) {
          const float* x0 = p0 + size_t(r) * row_step;
          const float* x1 = p1 + size_t(r) * row_step;
          const float* wr = w_kc + size_t(r) * run * oc + c0;
          for (int i = 0; i < run; ++i) {
            const Vec wa = load(wr + size_t(i) * oc), wb = load(wr + size_t(i) * oc + kLanes);
            a00 += x0[i] * wa, a01 += x0[i] * wb;
            a10 += x1[i] * wa, a11 += x1[i] * wb;
          }
        }
        take(a00, a01, at);
        if (pair) take(a10, a11, at + 1);
      }
      const Vec v0 = best0 + load(bias + c0), v1 = best1 + load(bias + c0 + kLanes);
      const Lanes alive0 = v0 > Vec{}, alive1 = v1 > Vec{};
      float* pooled = pooled_hwc + size_t(w) * oc + c0;
      store(pooled, select(alive0, v0, Vec{}));
      store(pooled + kLanes, select(alive1, v1, Vec{}));
      const Lanes arg0 = select(alive0, at0, Lanes{} + kNoGradient);
      const Lanes arg1 = select(alive1, at1, Lanes{} + kNoGradient);
      uint8_t* to = argmax_n + size_t(w) * oc + c0;
      for (int lane = 0; lane < kLanes; ++lane) to[lane] = uint8_t(arg0[lane]);
      for (int lane = 0; lane < kLanes; ++lane) to[kLanes + lane] = uint8_t(arg1[lane]);
    }
  }
}

EDGETRAIN_VECTORIZE
void direct_forward_sample(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc,
                           const float* w_kc, const float* bias, const Sizes& z, int pool_h,
                           int pool_w) {
  if (direct_sizes_are_3x3x1_pool_2x2(z, pool_h, pool_w)) {  // LeNet's: unrolled
    direct_forward<3, 3, 2>(pooled_hwc, argmax_n, in_hwc, w_kc, bias, z, pool_h, pool_w);
  } else {
    direct_forward<0, 0, 0>(pooled_hwc, argmax_n, in_hwc, w_kc, bias, z, pool_h, pool_w);
  }
}

EDGETRAIN_VECTORIZE
void direct_backward_sample(float* dw_kc, const float* dout_hwc, const uint8_t* argmax_n,
                            const float* in_hwc, const Sizes& z, int pool_h, int pool_w) {
  if (direct_sizes_are_3x3x1_pool_2x2(z, pool_h, pool_w)) {
    direct_backward<3, 3, 2>(dw_kc, dout_hwc, argmax_n, in_hwc, z, pool_h, pool_w);
  } else {
    direct_backward<0, 0, 0>(dw_kc, dout_hwc, argmax_n, in_hwc, z, pool_h, pool_w);
  }
}

const InRegisterKernels& generic_vector_kernels() {
  static const InRegisterKernels kernels{"generic vectors", direct_forward_sample,
                                         direct_backward_sample, deep_forward_sample,
                                         sparse_backward_sample};
  return kernels;
}

}  // namespace edgetrain::ops::conv_relu_pool_internal
