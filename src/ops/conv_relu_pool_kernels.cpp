// The fused op's in-register kernels, one sample each (declared, with the layouts, in
// conv_relu_pool_internal.h). Written once with vectors of W floats (simd.h's VecN<W>) and built
// as sets at the end of the file: W = 16 for AVX-512 and the portable set, W = 8 for AVX2. Each
// has a plain counterpart the tests compare it with: the reference composition
// conv2d_forward_reference → ReLU → max-pool, and its backward.
#include <algorithm>
#include <bit>
#include <cstring>

#include "ops/conv_relu_pool_internal.h"
#include "ops/simd.h"

namespace edgetrain::ops::conv_relu_pool_internal {
namespace {

// Argmax bytes to and from lanes (GCC cannot index a vector whose width is a template argument).
template <typename L>
EDGETRAIN_INLINE void store_bytes(uint8_t* to, L lanes) {
  int32_t values[sizeof(L) / sizeof(int32_t)];
  std::memcpy(values, &lanes, sizeof lanes);
  for (size_t i = 0; i < sizeof(L) / sizeof(int32_t); ++i) to[i] = uint8_t(values[i]);
}
template <int W>
EDGETRAIN_INLINE LanesN<W> load_bytes(const uint8_t* from) {
  int32_t values[W];
  for (int i = 0; i < W; ++i) values[i] = from[i];
  LanesN<W> lanes;
  std::memcpy(&lanes, values, sizeof lanes);
  return lanes;
}

// ---- Direct path: shallow patches (K <= kDirectMaxDepth), channels in multiples of 16 ----------
// A first layer (one channel, 3x3: K = 9) is too shallow for a GEMM to pay for its im2col and
// packing. Here each window's convolution outputs are computed in registers, W channels at a time,
// straight from the input, pooled there, and only the pooled values and argmax leave.

// pooled_hwc (PH·PW, OC) and argmax_n (PH·PW, OC) of one sample; w_kc (K, OC).
// Template arguments > 0 fix the kernel rows, the run KW·IC and a square pool size at compile time,
// so the loops unroll and the window's positions interleave.
template <int W, int kKh, int kRun, int kPool>
EDGETRAIN_INLINE void direct_forward(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc,
                                     const float* w_kc, const float* bias, const Sizes& z,
                                     int pool_h, int pool_w) {
  using V = VecN<W>;
  using L = LanesN<W>;
  const int kh = kKh > 0 ? kKh : z.kh, run = kRun > 0 ? kRun : z.kw * z.ic;
  if constexpr (kPool > 0) pool_h = pool_w = kPool;
  const int oc = z.oc, iw = z.iw, ic = z.ic;
  for (int c0 = 0; c0 < oc; c0 += W) {
    V w[kDirectMaxDepth];
    for (int k = 0; k < kh * run; ++k) w[k] = load<W>(w_kc + size_t(k) * oc + c0);
    const V b = load<W>(bias + c0);
    for (int py = 0; py < z.ph; ++py) {
      for (int px = 0; px < z.pw; ++px) {
        V best{};
        L best_at{};
        for (int at = 0; at < pool_h * pool_w; ++at) {
          const int y = py * pool_h + at / pool_w, x = px * pool_w + at % pool_w;
          V sum{};
          for (int r = 0; r < kh; ++r) {
            const float* row = in_hwc + (size_t(y + r) * iw + x) * ic;
            for (int i = 0; i < run; ++i) sum += row[i] * w[r * run + i];
          }
          const L greater = at == 0 ? ~L{} : L(sum > best);
          best = select(greater, sum, best);
          best_at = select(greater, L{} + at, best_at);
        }
        const int window = py * z.pw + px;
        const V value = best + b;
        const L alive = value > V{};
        store(pooled_hwc + size_t(window) * oc + c0, select(alive, value, V{}));
        const L at = select(alive, best_at, L{} + kNoGradient);
        uint8_t* to = argmax_n + size_t(window) * oc + c0;
        store_bytes(to, at);
      }
    }
  }
}

// dw_kc (K, OC) += Σ over hits of g · patch: a lane whose argmax is not this position (or is
// kNoGradient) adds 0. dbias (OC), if not null, += the sums of g over the windows with a gradient.
template <int W, int kKh, int kRun, int kPool>
EDGETRAIN_INLINE void direct_backward(float* dw_kc, float* dbias, const float* dout_hwc,
                                      const uint8_t* argmax_n, const float* in_hwc, const Sizes& z,
                                      int pool_h, int pool_w) {
  using V = VecN<W>;
  using L = LanesN<W>;
  const int kh = kKh > 0 ? kKh : z.kh, run = kRun > 0 ? kRun : z.kw * z.ic;
  if constexpr (kPool > 0) pool_h = pool_w = kPool;
  const int oc = z.oc, iw = z.iw, ic = z.ic;
  for (int c0 = 0; c0 < oc; c0 += W) {
    V dw[kDirectMaxDepth];
    for (int k = 0; k < kh * run; ++k) dw[k] = V{};
    V db{};
    for (int py = 0; py < z.ph; ++py) {
      for (int px = 0; px < z.pw; ++px) {
        const int window = py * z.pw + px;
        const V g = load<W>(dout_hwc + size_t(window) * oc + c0);
        const L arg = load_bytes<W>(argmax_n + size_t(window) * oc + c0);
        db += select(arg != kNoGradient, g, V{});
        for (int at = 0; at < pool_h * pool_w; ++at) {
          const V g_at = select(arg == at, g, V{});
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
      store(row, load<W>(row) + dw[k]);
    }
    if (dbias != nullptr) store(dbias + c0, load<W>(dbias + c0) + db);
  }
}

// Sparse backward with W-float vectors, for patch runs in multiples of 16 (a channel-last input
// with IC % 16 == 0, like LeNet's second layer: run = 2·32). Sums stay in registers until the
// end: the weight gradient one channel at a time over its windows with a gradient (listed first,
// without branches), the input gradient one (window, position) at a time over the channels whose
// max sits there. dout_hwc (PH·PW, OC) is 0 where no gradient; origins[window·positions + at] is
// the input element where patch row 0 under `at` starts.

// to[0 .. 4W) += Σ_i scale(i) · from(i)[0 .. 4W) over i < count, in four vectors.
template <int W, typename Scale, typename From>
EDGETRAIN_INLINE void add_sum_of_four(float* to, int count, Scale scale, From from) {
  using V = VecN<W>;
  V a0{}, a1{}, a2{}, a3{};
  for (int i = 0; i < count; ++i) {
    const float g = scale(i);
    const float* x = from(i);
    a0 += g * load<W>(x);
    a1 += g * load<W>(x + W);
    a2 += g * load<W>(x + 2 * W);
    a3 += g * load<W>(x + 3 * W);
  }
  store(to, load<W>(to) + a0);
  store(to + W, load<W>(to + W) + a1);
  store(to + 2 * W, load<W>(to + 2 * W) + a2);
  store(to + 3 * W, load<W>(to + 3 * W) + a3);
}

// The same for one vector, to[0 .. W).
template <int W, typename Scale, typename From>
EDGETRAIN_INLINE void add_sum_of_one(float* to, int count, Scale scale, From from) {
  using V = VecN<W>;
  V a0{};
  for (int i = 0; i < count; ++i) a0 += scale(i) * load<W>(from(i));
  store(to, load<W>(to) + a0);
}

// add_sum_of_four on two rows at once, to[0 .. 4W) and to[to_step ..) from from(i)[0 .. 4W) and
// from(i)[from_step ..): eight sums in flight per scale and address, each in the same order.
template <int W, typename Scale, typename From>
EDGETRAIN_INLINE void add_sum_of_four_x2(float* to, size_t to_step, int count, Scale scale,
                                         From from, size_t from_step) {
  using V = VecN<W>;
  V a0{}, a1{}, a2{}, a3{}, b0{}, b1{}, b2{}, b3{};
  for (int i = 0; i < count; ++i) {
    const float g = scale(i);
    const float* x = from(i);
    const float* y = x + from_step;
    a0 += g * load<W>(x);
    a1 += g * load<W>(x + W);
    a2 += g * load<W>(x + 2 * W);
    a3 += g * load<W>(x + 3 * W);
    b0 += g * load<W>(y);
    b1 += g * load<W>(y + W);
    b2 += g * load<W>(y + 2 * W);
    b3 += g * load<W>(y + 3 * W);
  }
  float* u = to + to_step;
  store(to, load<W>(to) + a0);
  store(to + W, load<W>(to + W) + a1);
  store(to + 2 * W, load<W>(to + 2 * W) + a2);
  store(to + 3 * W, load<W>(to + 3 * W) + a3);
  store(u, load<W>(u) + b0);
  store(u + W, load<W>(u + W) + b1);
  store(u + 2 * W, load<W>(u + 2 * W) + b2);
  store(u + 3 * W, load<W>(u + 3 * W) + b3);
}

// Calls add(offset, four) over [0, run) in blocks of 4W floats, then of W.
template <int W, typename Add>
EDGETRAIN_INLINE void for_each_block(int run, Add add) {
  int i0 = 0;
  for (; i0 + 4 * W <= run; i0 += 4 * W) add(i0, true);
  for (; i0 < run; i0 += W) add(i0, false);
}

// Pooling windows of up to this many positions (2x2 and smaller) group their channels by a pass of
// bit tricks per position; larger windows by a counting sort.
constexpr int kFewPositions = 4;

// Bit i set where byte i of `bytes` (little-endian) equals the byte repeated in `repeated`.
static_assert(std::endian::native == std::endian::little,
              "bytes_equal numbers bytes from the low end");
EDGETRAIN_INLINE unsigned bytes_equal(uint64_t bytes, uint64_t repeated) {
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7full, kHigh = 0x8080808080808080ull;
  const uint64_t x = bytes ^ repeated;                           // byte 0 where equal
  const uint64_t zero = ~(((x & kLow7) + kLow7) | x) & kHigh;    // 0x80 in each zero byte, exact
  return unsigned(((zero >> 7) * 0x0102040810204080ull) >> 56);  // byte i's flag to bit i
}

// kSetBits[bits][j]: the index of the j-th set bit of `bits` (then zeros).
struct SetBitsTable {
  uint8_t index[256][8];
  constexpr SetBitsTable() : index{} {
    for (int bits = 0; bits < 256; ++bits) {
      int j = 0;
      for (int i = 0; i < 8; ++i) {
        if (bits >> i & 1) index[bits][j++] = uint8_t(i);
      }
    }
  }
};
constexpr SetBitsTable kSetBits;

// members[0 ..) = the channels c (ascending) with window_at[c] == at, for each at < positions in
// turn; first[at] = where at's run starts, first[positions] = the total. Branch-free: eight
// channels at a time, their matches as a byte of bits, written as eight indices from a table and
// counted by popcount, so `members` needs 8 entries' slack past the channels. A counting sort's
// increments and scatter go through memory, each waiting on the last store to the same bin; this
// keeps the count in a register. Same order as the counting sort, so the same sums.
EDGETRAIN_INLINE void group_channels_by_position(int* __restrict members, int* __restrict first,
                                                 const uint8_t* __restrict window_at, int oc,
                                                 int positions) {
  const int whole = oc & ~7;
  int listed = 0;
  for (int at = 0; at < positions; ++at) {
    first[at] = listed;
    const uint64_t repeated = 0x0101010101010101ull * uint64_t(at);
    for (int c0 = 0; c0 < whole; c0 += 8) {
      uint64_t bytes;
      std::memcpy(&bytes, window_at + c0, 8);
      const unsigned bits = bytes_equal(bytes, repeated);
      for (int j = 0; j < 8; ++j) members[listed + j] = c0 + kSetBits.index[bits][j];
      listed += __builtin_popcount(bits);
    }
    for (int c = whole; c < oc; ++c) {
      members[listed] = c;
      listed += window_at[c] == at;
    }
  }
  first[positions] = listed;
}

template <int W>
EDGETRAIN_INLINE void sparse_backward(float* __restrict dw_hwc, float* __restrict din_hwc,
                                      const float* __restrict dout_hwc,
                                      const uint8_t* __restrict argmax_n,
                                      const float* __restrict in_hwc, const float* __restrict w_hwc,
                                      const int32_t* __restrict origins, const Sizes& z,
                                      int positions) {
  const int oc = z.oc, k = z.k, kh = z.kh, run = z.kw * z.ic, windows = z.windows;
  const size_t row_step = size_t(z.iw) * z.ic;  // from one input row to the next
  // Rows in whole blocks of 4W are summed two at a time: eight sums in flight per gradient value
  // and address computed, not four (LeNet's conv2 backward: 902 -> 859 µs a batch, same bits).
  const bool pairs_of_rows = run % (4 * W) == 0;
  if (dw_hwc != nullptr) {
    // Per channel, the windows with a gradient are listed first (their patch origin and gradient,
    // branch-free), kLiveChunk at a time, so windows that ReLU cut cost nothing: for LeNet's conv2
    // 35.5 % of them over an epoch of MNIST. A chunk's sum goes into dw_hwc as one (one chunk for
    // LeNet's 36 windows).
    constexpr int kLiveChunk = 256;
    int32_t live_origin[kLiveChunk];
    float live_gradient[kLiveChunk];
    for (int c = 0; c < oc; ++c) {
      for (int w0 = 0; w0 < windows; w0 += kLiveChunk) {
        const int w_end = std::min(windows, w0 + kLiveChunk);
        int live = 0;
        for (int w = w0; w < w_end; ++w) {
          const uint8_t at = argmax_n[size_t(w) * oc + c];
          live_origin[live] = origins[w * positions + (at == kNoGradient ? 0 : at)];
          live_gradient[live] = dout_hwc[size_t(w) * oc + c];
          live += at != kNoGradient;
        }
        auto patch = [&](int i) EDGETRAIN_INLINE_LAMBDA { return in_hwc + live_origin[i]; };
        auto gradient = [&](int i) EDGETRAIN_INLINE_LAMBDA { return live_gradient[i]; };
        int r0 = 0;
        if (pairs_of_rows) {
          for (; r0 + 2 <= kh; r0 += 2) {
            for (int i0 = 0; i0 < run; i0 += 4 * W) {
              add_sum_of_four_x2<W>(
                  dw_hwc + size_t(c) * k + size_t(r0) * run + i0, run, live, gradient,
                  [&](int i)
                      EDGETRAIN_INLINE_LAMBDA { return patch(i) + size_t(r0) * row_step + i0; },
                  row_step);
            }
          }
        }
        for (int r = r0; r < kh; ++r) {
          for_each_block<W>(run, [&](int i0, bool four) EDGETRAIN_INLINE_LAMBDA {
            float* to = dw_hwc + size_t(c) * k + size_t(r) * run + i0;
            auto from = [&](int i) EDGETRAIN_INLINE_LAMBDA {
              return patch(i) + size_t(r) * row_step + i0;
            };
            if (four) {
              add_sum_of_four<W>(to, live, gradient, from);
            } else {
              add_sum_of_one<W>(to, live, gradient, from);
            }
          });
        }
      }
    }
  }
  if (din_hwc == nullptr) return;
  int count[kNoGradient + 1], first[kNoGradient + 2], next[kNoGradient + 1];
  // Channels grouped by the position of their max, with the slack group_channels_by_position needs.
  int members[kMaxPooledChannels + 8];
  for (int w = 0; w < windows; ++w) {
    const uint8_t* window_at = argmax_n + size_t(w) * oc;
    const float* g = dout_hwc + size_t(w) * oc;
    if (positions <= kFewPositions) {
      group_channels_by_position(members, first, window_at, oc, positions);
    } else {
      // Counting sort of the channels by argmax; kNoGradient lands in the last bin, never read.
      for (int at = 0; at <= positions; ++at) count[at] = 0;
      for (int c = 0; c < oc; ++c) ++count[std::min<int>(window_at[c], positions)];
      first[0] = 0;
      for (int at = 0; at <= positions; ++at) first[at + 1] = first[at] + count[at];
      for (int at = 0; at <= positions; ++at) next[at] = first[at];
      for (int c = 0; c < oc; ++c) members[next[std::min<int>(window_at[c], positions)]++] = c;
    }
    for (int at = 0; at < positions; ++at) {
      const int* channels = members + first[at];
      const int n = first[at + 1] - first[at];
      if (n == 0) continue;
      auto gradient = [&](int m) EDGETRAIN_INLINE_LAMBDA { return g[channels[m]]; };
      int r0 = 0;
      if (pairs_of_rows) {
        for (; r0 + 2 <= kh; r0 += 2) {
          float* row = din_hwc + origins[w * positions + at] + size_t(r0) * row_step;
          for (int i0 = 0; i0 < run; i0 += 4 * W) {
            add_sum_of_four_x2<W>(
                row + i0, row_step, n, gradient,
                [&](int m) EDGETRAIN_INLINE_LAMBDA {
                  return w_hwc + size_t(channels[m]) * k + size_t(r0) * run + i0;
                },
                run);
          }
        }
      }
      for (int r = r0; r < kh; ++r) {
        float* row = din_hwc + origins[w * positions + at] + size_t(r) * row_step;
        for_each_block<W>(run, [&](int i0, bool four) EDGETRAIN_INLINE_LAMBDA {
          auto from = [&](int m) EDGETRAIN_INLINE_LAMBDA {
            return w_hwc + size_t(channels[m]) * k + size_t(r) * run + i0;
          };
          if (four) {
            add_sum_of_four<W>(row + i0, n, gradient, from);
          } else {
            add_sum_of_one<W>(row + i0, n, gradient, from);
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
template <int W>
EDGETRAIN_INLINE void deep_forward(float* __restrict pooled_hwc, uint8_t* __restrict argmax_n,
                                   const float* __restrict in_hwc, const float* __restrict w_kc,
                                   const float* __restrict bias, const int32_t* __restrict origins,
                                   const Sizes& z, int positions) {
  using V = VecN<W>;
  using L = LanesN<W>;
  const int oc = z.oc, kh = z.kh, run = z.kw * z.ic, windows = z.windows;
  const size_t row_step = size_t(z.iw) * z.ic;
  for (int w = 0; w < windows; ++w) {
    const int32_t* origin = origins + w * positions;
    for (int c0 = 0; c0 < oc; c0 += 2 * W) {
      V best0{}, best1{};
      L at0{}, at1{};
      auto take = [&](V s0, V s1, int at)
                      EDGETRAIN_INLINE_LAMBDA {  // the first max in window order wins
                        const L g0 = at == 0 ? ~L{} : L(s0 > best0);
                        const L g1 = at == 0 ? ~L{} : L(s1 > best1);
                        best0 = select(g0, s0, best0), at0 = select(g0, L{} + at, at0);
                        best1 = select(g1, s1, best1), at1 = select(g1, L{} + at, at1);
                      };
      int at = 0;
      // Four positions at a time (a 2x2 window: all of it) keep 8 accumulators in flight, enough
      // to cover the FMA latency; pairs take the rest.
      for (; at + 4 <= positions; at += 4) {
        const float* p0 = in_hwc + origin[at];
        const float* p1 = in_hwc + origin[at + 1];
        const float* p2 = in_hwc + origin[at + 2];
        const float* p3 = in_hwc + origin[at + 3];
        V a00{}, a01{}, a10{}, a11{}, a20{}, a21{}, a30{}, a31{};
        for (int r = 0; r < kh; ++r) {
          const size_t row = size_t(r) * row_step;
          const float* wr = w_kc + size_t(r) * run * oc + c0;
          for (int i = 0; i < run; ++i) {
            const V wa = load<W>(wr + size_t(i) * oc), wb = load<W>(wr + size_t(i) * oc + W);
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
        V a00{}, a01{}, a10{}, a11{};
        for (int r = 0; r < kh; ++r) {
          const float* x0 = p0 + size_t(r) * row_step;
          const float* x1 = p1 + size_t(r) * row_step;
          const float* wr = w_kc + size_t(r) * run * oc + c0;
          for (int i = 0; i < run; ++i) {
            const V wa = load<W>(wr + size_t(i) * oc), wb = load<W>(wr + size_t(i) * oc + W);
            a00 += x0[i] * wa, a01 += x0[i] * wb;
            a10 += x1[i] * wa, a11 += x1[i] * wb;
          }
        }
        take(a00, a01, at);
        if (pair) take(a10, a11, at + 1);
      }
      const V v0 = best0 + load<W>(bias + c0), v1 = best1 + load<W>(bias + c0 + W);
      const L alive0 = v0 > V{}, alive1 = v1 > V{};
      float* pooled = pooled_hwc + size_t(w) * oc + c0;
      store(pooled, select(alive0, v0, V{}));
      store(pooled + W, select(alive1, v1, V{}));
      const L arg0 = select(alive0, at0, L{} + kNoGradient);
      const L arg1 = select(alive1, at1, L{} + kNoGradient);
      uint8_t* to = argmax_n + size_t(w) * oc + c0;
      store_bytes(to, arg0);
      store_bytes(to + W, arg1);
    }
  }
}

template <int W>
EDGETRAIN_INLINE void direct_forward_any(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc,
                                         const float* w_kc, const float* bias, const Sizes& z,
                                         int pool_h, int pool_w) {
  if (direct_sizes_are_3x3x1_pool_2x2(z, pool_h, pool_w)) {  // LeNet's: unrolled
    direct_forward<W, 3, 3, 2>(pooled_hwc, argmax_n, in_hwc, w_kc, bias, z, pool_h, pool_w);
  } else {
    direct_forward<W, 0, 0, 0>(pooled_hwc, argmax_n, in_hwc, w_kc, bias, z, pool_h, pool_w);
  }
}

template <int W>
EDGETRAIN_INLINE void direct_backward_any(float* dw_kc, float* dbias, const float* dout_hwc,
                                          const uint8_t* argmax_n, const float* in_hwc,
                                          const Sizes& z, int pool_h, int pool_w) {
  if (direct_sizes_are_3x3x1_pool_2x2(z, pool_h, pool_w)) {
    direct_backward<W, 3, 3, 2>(dw_kc, dbias, dout_hwc, argmax_n, in_hwc, z, pool_h, pool_w);
  } else {
    direct_backward<W, 0, 0, 0>(dw_kc, dbias, dout_hwc, argmax_n, in_hwc, z, pool_h, pool_w);
  }
}

}  // namespace

// One set of the four kernels at vector width `width`, each function compiled with `attribute`
// (a target ISA, or nothing) so the width-templated bodies above inline into code for that ISA.
#define EDGETRAIN_KERNEL_SET(suffix, attribute, width)                                            \
  attribute void direct_forward_##suffix(                                                         \
      float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc, const float* w_kc,               \
      const float* bias, const Sizes& z, int pool_h, int pool_w) {                                \
    direct_forward_any<width>(pooled_hwc, argmax_n, in_hwc, w_kc, bias, z, pool_h, pool_w);       \
  }                                                                                               \
  attribute void direct_backward_##suffix(float* dw_kc, float* dbias, const float* dout_hwc,      \
                                          const uint8_t* argmax_n, const float* in_hwc,           \
                                          const Sizes& z, int pool_h, int pool_w) {               \
    direct_backward_any<width>(dw_kc, dbias, dout_hwc, argmax_n, in_hwc, z, pool_h, pool_w);      \
  }                                                                                               \
  attribute void deep_forward_##suffix(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc, \
                                       const float* w_kc, const float* bias,                      \
                                       const int32_t* origins, const Sizes& z, int positions) {   \
    deep_forward<width>(pooled_hwc, argmax_n, in_hwc, w_kc, bias, origins, z, positions);         \
  }                                                                                               \
  attribute void sparse_backward_##suffix(float* dw_hwc, float* din_hwc, const float* dout_hwc,   \
                                          const uint8_t* argmax_n, const float* in_hwc,           \
                                          const float* w_hwc, const int32_t* origins,             \
                                          const Sizes& z, int positions) {                        \
    sparse_backward<width>(dw_hwc, din_hwc, dout_hwc, argmax_n, in_hwc, w_hwc, origins, z,        \
                           positions);                                                            \
  }

// The generic set: 16-float vectors, compiled for the build's target (baseline x86-64 on x86).
EDGETRAIN_KERNEL_SET(sample, , 16)

const InRegisterKernels& generic_vector_kernels() {
  static const InRegisterKernels kernels{"generic vectors", direct_forward_sample,
                                         direct_backward_sample, deep_forward_sample,
                                         sparse_backward_sample};
  return kernels;
}

#if defined(__x86_64__) && defined(__GNUC__)
// x86-64's sets, picked by the CPU's features at run time. The same code at two widths: AVX-512
// takes 16 floats per vector (its 32 registers hold the deep forward's 8 accumulators, 2 maxima,
// 2 argmax vectors and the weights); AVX2 takes 8, because with 16 each vector is two of its 16
// registers and the 16-float tiling spilled, storing halves and reloading wholes (LeNet trained
// at about 1,100 samples/s on one Zen 4 core limited to AVX2 code; 9,600 with this set). Every lane computes what it
// would at the other width, in the same order: the two sets give the same bits.
namespace {
EDGETRAIN_KERNEL_SET(avx512, __attribute__((target("avx512f"))), 16)
EDGETRAIN_KERNEL_SET(avx2, EDGETRAIN_AVX2_TARGET, 8)
}  // namespace

ArchitectureKernels architecture_kernels() {
  static const InRegisterKernels avx512{"avx512", direct_forward_avx512, direct_backward_avx512,
                                        deep_forward_avx512, sparse_backward_avx512};
  static const InRegisterKernels avx2{"avx2", direct_forward_avx2, direct_backward_avx2,
                                      deep_forward_avx2, sparse_backward_avx2};
  ArchitectureKernels sets;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) sets.set[sets.count++] = &avx512;
  if (cpu_runs_avx2_target()) sets.set[sets.count++] = &avx2;
  return sets;
}
#endif

#undef EDGETRAIN_KERNEL_SET

}  // namespace edgetrain::ops::conv_relu_pool_internal
