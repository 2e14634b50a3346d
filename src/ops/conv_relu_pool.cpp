// Convolution + ReLU + max-pool as one op, forward and backward, one sample at a time.
//
// Why fused: the unfused chain writes the convolution output (LeNet's first: 26·26·32 floats per
// sample) to memory three times (conv, ReLU, pool) and keeps it and its gradient for backward.
// Here one sample's convolution output lives only in a scratch buffer that stays in L2; the pool
// keeps just one byte per pooled value, the position of its max in the window, and backward
// visits only those positions: at most 1 in pool_h·pool_w convolution outputs gets a gradient
// (fewer after ReLU), so the weight and input gradients cost a fraction of dense GEMMs.
//
// Per sample, with K = KH·KW·IC and P = OH·OW (convolution output positions):
//   in_hwc  (IH·IW, IC)    the input moved to channel-last, so a patch row is KH runs of KW·IC
//                          contiguous floats
//   col     (P, K)         im2col of in_hwc, column (kh·KW + kw)·IC + ic
//   w_hwc   (OC, K)        the weights in that column order (Core ML stores (OC, IC, KH, KW))
//   conv    (P, OC)        = col · w_hwcᵀ (GEMM), bias not yet added
//   pooled  (OC, PH, PW)   = max(0, max over the window of conv + bias), the op's output
//   argmax  (PH·PW, OC)    window position (row-major in the window) of the max, or kNoGradient
//                          when the pooled value is 0 (ReLU cut it: no gradient flows)
// Max and ReLU commute and adding the bias keeps the argmax, so this equals conv → ReLU → pool
// exactly, ties resolved the same way (the first max in the window wins).
#include <algorithm>
#include <cassert>
#include <cstring>

#include "ops/ops.h"
#include "ops/simd.h"

namespace edgetrain::ops {
namespace {

struct Sizes {
  int ic, ih, iw, oc, kh, kw, k, oh, ow, p, ph, pw, windows;
  bool in_hwc, out_hwc;  // the op's input / output blob is stored channel-last
};

Sizes sizes_of(const ConvReluPoolShape& s) {
  const Conv2dShape& c = s.conv;
  Sizes z{};
  z.ic = c.in_channels, z.ih = c.in_height, z.iw = c.in_width, z.oc = c.out_channels;
  z.kh = c.kernel_height, z.kw = c.kernel_width, z.k = z.kh * z.kw * z.ic;
  z.oh = c.out_height, z.ow = c.out_width, z.p = z.oh * z.ow;
  z.ph = s.out_height, z.pw = s.out_width, z.windows = z.ph * z.pw;
  z.in_hwc = s.input_channel_last || z.ic == 1;  // one channel: both layouts are the same
  z.out_hwc = s.output_channel_last || z.oc == 1;
  return z;
}

// dout_hwc (PH·PW, OC) = dout_n, 0 where ReLU cut the window (no gradient flows there); dout_n
// is (PH·PW, OC) when channel_last, else (OC, PH·PW). dbias (OC) += its column sums if not null.
EDGETRAIN_VECTORIZE
void gather_gradient(float* __restrict dout_hwc, float* __restrict dbias,
                     const float* __restrict dout_n, const uint8_t* __restrict argmax_n, int oc,
                     int windows, bool channel_last) {
  const size_t cells = size_t(windows) * oc;
  if (channel_last) {
    for (size_t i = 0; i < cells; ++i) dout_hwc[i] = dout_n[i];
  } else {
    for (int o = 0; o < oc; ++o)
      for (int w = 0; w < windows; ++w) dout_hwc[size_t(w) * oc + o] = dout_n[size_t(o) * windows + w];
  }
  for (size_t i = 0; i < cells; ++i) dout_hwc[i] = argmax_n[i] == kNoGradient ? 0.0f : dout_hwc[i];
  if (dbias == nullptr) return;
  // Column sums in registers: adding into dbias once per window would chain every window's add
  // on the previous one's store.
  int o = 0;
  for (; o + kLanes <= oc; o += kLanes) {
    Vec sum{};
    for (int w = 0; w < windows; ++w) sum += load(dout_hwc + size_t(w) * oc + o);
    store(dbias + o, load(dbias + o) + sum);
  }
  for (; o < oc; ++o) {
    float sum = 0.0f;
    for (int w = 0; w < windows; ++w) sum += dout_hwc[size_t(w) * oc + o];
    dbias[o] += sum;
  }
}

// One gradient reaching the convolution: output channel, position (row of col), value.
struct Hit {
  int32_t channel, position;
  float gradient;
};

// Scratch layout inside the caller's workspace.
struct Scratch {
  float* w_hwc;    // (OC, K)
  float* dw_hwc;   // (OC, K)
  float* dw_kc;    // (K, OC), the dense backward's
  float* in_hwc;   // (IH·IW, IC)
  float* din_hwc;  // (IH·IW, IC)
  float* col;      // (P, K); dcol in the dense backward
  float* conv;     // (P, OC); dconv in the dense backward
  float* pooled;   // (PH·PW, OC): the pooled output, then dout, channel-last
  Hit* hits;       // up to PH·PW·OC
  int32_t* origins;  // (PH·PW, pool_h·pool_w): input element where each patch starts
};

// Carves the scratch out of `workspace` (or, with a null workspace, only counts its floats).
Scratch carve(float* workspace, const Sizes& z, size_t* floats = nullptr) {
  static_assert(sizeof(Hit) % sizeof(float) == 0 && alignof(Hit) <= alignof(float));
  Scratch s{};
  size_t used = 0;
  auto take = [&](size_t count) {
    float* at = workspace != nullptr ? workspace + used : nullptr;
    used += (count + 15) / 16 * 16;  // every buffer 64-byte aligned relative to the first
    return at;
  };
  const size_t weights = size_t(z.oc) * z.k, image = size_t(z.ih) * z.iw * z.ic;
  s.w_hwc = take(weights);
  s.dw_hwc = take(weights);
  s.dw_kc = take(weights);
  s.in_hwc = take(image);
  s.din_hwc = take(image);
  s.col = take(size_t(z.p) * z.k);
  s.conv = take(size_t(z.p) * z.oc);
  s.pooled = take(size_t(z.windows) * z.oc);
  s.hits = reinterpret_cast<Hit*>(take(size_t(z.windows) * z.oc * (sizeof(Hit) / sizeof(float))));
  static_assert(sizeof(int32_t) == sizeof(float));
  s.origins = reinterpret_cast<int32_t*>(take(size_t(z.p)));  // windows · positions <= P
  if (floats != nullptr) *floats = used;
  return s;
}

// w_hwc[oc][(kh·KW + kw)·IC + ic] = weight[oc][ic][kh][kw].
void weights_to_hwc(float* w_hwc, const float* weight, const Sizes& z) {
  for (int o = 0; o < z.oc; ++o)
    for (int c = 0; c < z.ic; ++c)
      for (int t = 0; t < z.kh * z.kw; ++t)
        w_hwc[size_t(o) * z.k + size_t(t) * z.ic + c] = weight[(size_t(o) * z.ic + c) * z.kh * z.kw + t];
}

// dweight[oc][ic][kh][kw] += dw_hwc[oc][(kh·KW + kw)·IC + ic].
void add_weight_gradient(float* dweight, const float* dw_hwc, const Sizes& z) {
  for (int o = 0; o < z.oc; ++o)
    for (int c = 0; c < z.ic; ++c)
      for (int t = 0; t < z.kh * z.kw; ++t)
        dweight[(size_t(o) * z.ic + c) * z.kh * z.kw + t] += dw_hwc[size_t(o) * z.k + size_t(t) * z.ic + c];
}

// to (cols, rows) = from (rows, cols) transposed; add=true accumulates.
EDGETRAIN_VECTORIZE
void transpose(float* __restrict to, const float* __restrict from, int rows, int cols, bool add) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      float& cell = to[size_t(c) * rows + r];
      cell = (add ? cell : 0.0f) + from[size_t(r) * cols + c];
    }
}

// The sample's input as (IH·IW, IC): as stored when the blob is channel-last, else transposed.
const float* input_hwc(float* in_hwc, const float* in_n, const Sizes& z) {
  if (z.in_hwc) return in_n;
  transpose(in_hwc, in_n, z.ic, z.ih * z.iw, false);
  return in_hwc;
}

// col (P, K): row oh·OW + ow holds the patch under output (oh, ow), KH runs of `run` = KW·IC
// floats. Short runs (a one-channel input: KW floats) get a compile-time length so the copy is
// straight-line code rather than a loop per run.
template <int kRun>
EDGETRAIN_INLINE void im2col_rows(float* __restrict col, const float* __restrict in_hwc, const Sizes& z, int run) {
  if constexpr (kRun > 0) run = kRun;
  const int oh = z.oh, ow = z.ow, kh = z.kh, k = z.k, iw = z.iw, ic = z.ic;
  for (int y = 0; y < oh; ++y) {
    for (int x = 0; x < ow; ++x) {
      float* row = col + (size_t(y) * ow + x) * k;
      for (int r = 0; r < kh; ++r) {
        const float* from = in_hwc + (size_t(y + r) * iw + x) * ic;
        for (int i = 0; i < run; ++i) row[r * run + i] = from[i];
      }
    }
  }
}

// Runs in whole vectors (a channel-last input with IC % 16 == 0): vector copies, no memcpy calls.
EDGETRAIN_INLINE void im2col_vectors(float* __restrict col, const float* __restrict in_hwc,
                                     const Sizes& z) {
  const int oh = z.oh, ow = z.ow, kh = z.kh, k = z.k, iw = z.iw, ic = z.ic, run = z.kw * z.ic;
  for (int y = 0; y < oh; ++y) {
    for (int x = 0; x < ow; ++x) {
      float* row = col + (size_t(y) * ow + x) * k;
      for (int r = 0; r < kh; ++r) {
        const float* from = in_hwc + (size_t(y + r) * iw + x) * ic;
        for (int i = 0; i < run; i += kLanes) store(row + r * run + i, load(from + i));
      }
    }
  }
}

EDGETRAIN_VECTORIZE
void im2col_hwc(float* col, const float* in_hwc, const Sizes& z) {
  const int run = z.kw * z.ic;
  if (run % kLanes == 0) return im2col_vectors(col, in_hwc, z);
  switch (run) {
    case 1: im2col_rows<1>(col, in_hwc, z, run); break;
    case 2: im2col_rows<2>(col, in_hwc, z, run); break;
    case 3: im2col_rows<3>(col, in_hwc, z, run); break;
    case 4: im2col_rows<4>(col, in_hwc, z, run); break;
    case 5: im2col_rows<5>(col, in_hwc, z, run); break;
    default: im2col_rows<0>(col, in_hwc, z, run); break;
  }
}

// For every window and channel: the max of conv over the window (first wins), plus the bias, cut
// at 0. Writes pooled_hwc (PH·PW, OC) and argmax_n (PH·PW, OC). Plain loops over channels with
// same-width lanes (float, int32) that the compiler turns into compare-and-select vectors.
EDGETRAIN_VECTORIZE
void pool_windows(float* __restrict pooled_hwc, uint8_t* __restrict argmax_n,
                  const float* __restrict conv, const float* __restrict bias, int oc, int ow,
                  int ph, int pw, int pool_h, int pool_w) {
  float best[kMaxPooledChannels];
  int32_t best_at[kMaxPooledChannels];
  for (int py = 0; py < ph; ++py) {
    for (int px = 0; px < pw; ++px) {
      const int window = py * pw + px;
      const float* first = conv + (size_t(py * pool_h) * ow + size_t(px * pool_w)) * oc;
      for (int o = 0; o < oc; ++o) best[o] = first[o], best_at[o] = 0;
      for (int dy = 0; dy < pool_h; ++dy) {
        for (int dx = dy == 0 ? 1 : 0; dx < pool_w; ++dx) {
          const float* row = first + (size_t(dy) * ow + dx) * oc;
          const int32_t at = dy * pool_w + dx;
          for (int o = 0; o < oc; ++o) {
            const bool greater = row[o] > best[o];
            best[o] = greater ? row[o] : best[o];
            best_at[o] = greater ? at : best_at[o];
          }
        }
      }
      float* pooled = pooled_hwc + size_t(window) * oc;
      uint8_t* window_at = argmax_n + size_t(window) * oc;
      for (int o = 0; o < oc; ++o) {
        const float value = best[o] + bias[o];
        const bool alive = value > 0.0f;
        pooled[o] = alive ? value : 0.0f;
        best_at[o] = alive ? best_at[o] : int32_t(kNoGradient);
      }
      for (int o = 0; o < oc; ++o) window_at[o] = uint8_t(best_at[o]);
    }
  }
}


// The non-zero gradients of one sample, found without data-dependent branches (half the argmax
// entries are kNoGradient in no predictable pattern). dout_hwc is (PH·PW, OC).
EDGETRAIN_VECTORIZE
int collect_hits(Hit* hits, const float* dout_hwc, const uint8_t* argmax_n, const Sizes& z,
                 int pool_h, int pool_w) {
  int count = 0;
  for (int py = 0; py < z.ph; ++py) {
    for (int px = 0; px < z.pw; ++px) {
      const int window = py * z.pw + px;
      const uint8_t* window_at = argmax_n + size_t(window) * z.oc;
      const float* g = dout_hwc + size_t(window) * z.oc;
      for (int o = 0; o < z.oc; ++o) {
        const int at = window_at[o] == kNoGradient ? 0 : window_at[o];
        hits[count] = {o, (py * pool_h + at / pool_w) * z.ow + px * pool_w + at % pool_w, g[o]};
        count += (window_at[o] != kNoGradient) & (g[o] != 0.0f);
      }
    }
  }
  return count;
}

// Sparse backward of one sample: for each hit (channel c, output (y, x), gradient g) and patch
// row r, whose run of KW·IC floats starts at input element ((y + r)·IW + x)·IC,
//   dW_hwc[c][r·run ..] += g · in_hwc[run]      din_hwc[run] += g · w_hwc[c][r·run ..]
// (either output may be null). K multiply-adds per hit, against K per convolution output for the
// dense GEMMs, and the patches are read from the channel-last input itself: no im2col.
EDGETRAIN_VECTORIZE
void backward_hits(float* __restrict dw_hwc, float* __restrict din_hwc, const Hit* hits, int count,
                   const float* __restrict in_hwc, const float* __restrict w_hwc, const Sizes& z) {
  const int k = z.k, kh = z.kh, ow = z.ow, iw = z.iw, ic = z.ic, run = z.kw * z.ic;
  for (int h = 0; h < count; ++h) {
    const Hit hit = hits[h];
    const float g = hit.gradient;
    const int y = hit.position / ow, x = hit.position % ow;
    for (int r = 0; r < kh; ++r) {
      const size_t at = (size_t(y + r) * iw + x) * ic;
      if (dw_hwc != nullptr) {
        float* dw = dw_hwc + size_t(hit.channel) * k + r * run;
        const float* patch = in_hwc + at;
        for (int i = 0; i < run; ++i) dw[i] += g * patch[i];
      }
      if (din_hwc != nullptr) {
        float* din = din_hwc + at;
        const float* w = w_hwc + size_t(hit.channel) * k + r * run;
        for (int i = 0; i < run; ++i) din[i] += g * w[i];
      }
    }
  }
}

// Dense backward of one sample, for small K where a GEMM beats per-hit loops: the convolution's
// gradient dconv (P, OC) is built whole (each element written once: g at the argmax, else 0), then
//   dW_kc (K, OC) += colᵀ · dconv        din: dcol (P, K) = dconv · w_hwc, added back by col2im.
EDGETRAIN_VECTORIZE
void expand_gradient(float* __restrict dconv, const float* __restrict dout_hwc,
                     const uint8_t* __restrict argmax_n, const Sizes& z, int pool_h, int pool_w) {
  const int oc = z.oc, ow = z.ow, ph = z.ph, pw = z.pw;  // locals: stores cannot alias them
  // Positions outside every window (the floor of the pooled size) get no gradient.
  if (ph * pool_h != z.oh || pw * pool_w != ow) std::fill_n(dconv, size_t(z.p) * oc, 0.0f);
  for (int py = 0; py < ph; ++py) {
    for (int px = 0; px < pw; ++px) {
      const int window = py * pw + px;
      const uint8_t* window_at = argmax_n + size_t(window) * oc;
      const float* g = dout_hwc + size_t(window) * oc;
      for (int dy = 0; dy < pool_h; ++dy) {
        for (int dx = 0; dx < pool_w; ++dx) {
          float* row = dconv + (size_t(py * pool_h + dy) * ow + size_t(px * pool_w + dx)) * oc;
          const uint8_t at = uint8_t(dy * pool_w + dx);
          for (int o = 0; o < oc; ++o) row[o] = window_at[o] == at ? g[o] : 0.0f;
        }
      }
    }
  }
}

// din_hwc (IH·IW, IC) += col2im(dcol (P, K)).
void col2im_hwc_add(float* din_hwc, const float* dcol, const Sizes& z) {
  const int run = z.kw * z.ic;
  for (int y = 0; y < z.oh; ++y)
    for (int x = 0; x < z.ow; ++x) {
      const float* row = dcol + (size_t(y) * z.ow + x) * z.k;
      for (int r = 0; r < z.kh; ++r) {
        float* to = din_hwc + (size_t(y + r) * z.iw + x) * z.ic;
        for (int i = 0; i < run; ++i) to[i] += row[r * run + i];
      }
    }
}

// ---- Direct path: shallow patches (K <= kDirectMaxDepth), channels in multiples of 16 ----------
// A first layer (one channel, 3x3: K = 9) is too shallow for a GEMM to pay for its im2col and
// packing. Here each window's convolution outputs are computed in registers, 16 channels at a time,
// straight from the input, pooled there, and only the pooled values and argmax leave.

// pooled_hwc (PH·PW, OC) and argmax_n (PH·PW, OC) of one sample; w_kc (K, OC).
template <int kKh, int kRun>
EDGETRAIN_INLINE void direct_forward(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc, const float* w_kc,
                    const float* bias, const Sizes& z, int pool_h, int pool_w) {
  const int kh = kKh > 0 ? kKh : z.kh, run = kRun > 0 ? kRun : z.kw * z.ic;
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
template <int kKh, int kRun>
EDGETRAIN_INLINE void direct_backward(float* dw_kc, const float* dout_hwc, const uint8_t* argmax_n,
                     const float* in_hwc, const Sizes& z, int pool_h, int pool_w) {
  const int kh = kKh > 0 ? kKh : z.kh, run = kRun > 0 ? kRun : z.kw * z.ic;
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

EDGETRAIN_VECTORIZE
void sparse_backward_vectors(float* __restrict dw_hwc, float* __restrict din_hwc,
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

// Deep patches, output channels in multiples of 32: two window positions × 32 channels (four
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

// origins[window·positions + at] = input element (channel-last) where patch row 0 under window
// position `at` starts.
void fill_origins(int32_t* origins, const Sizes& z, int pool_h, int pool_w) {
  const int positions = pool_h * pool_w;
  for (int w = 0; w < z.windows; ++w) {
    for (int at = 0; at < positions; ++at) {
      const int y = w / z.pw * pool_h + at / pool_w, x = w % z.pw * pool_w + at % pool_w;
      origins[w * positions + at] = (y * z.iw + x) * z.ic;
    }
  }
}

EDGETRAIN_VECTORIZE
void direct_forward_sample(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc,
                           const float* w_kc, const float* bias, const Sizes& z, int pool_h,
                           int pool_w) {
  if (z.kh == 3 && z.kw * z.ic == 3) {  // 3x3 on one channel: fully unrolled
    direct_forward<3, 3>(pooled_hwc, argmax_n, in_hwc, w_kc, bias, z, pool_h, pool_w);
  } else {
    direct_forward<0, 0>(pooled_hwc, argmax_n, in_hwc, w_kc, bias, z, pool_h, pool_w);
  }
}

EDGETRAIN_VECTORIZE
void direct_backward_sample(float* dw_kc, const float* dout_hwc, const uint8_t* argmax_n,
                            const float* in_hwc, const Sizes& z, int pool_h, int pool_w) {
  if (z.kh == 3 && z.kw * z.ic == 3) {
    direct_backward<3, 3>(dw_kc, dout_hwc, argmax_n, in_hwc, z, pool_h, pool_w);
  } else {
    direct_backward<0, 0>(dw_kc, dout_hwc, argmax_n, in_hwc, z, pool_h, pool_w);
  }
}

}  // namespace

bool conv_relu_pool_supported(const ConvReluPoolShape& s) {
  const Conv2dShape& c = s.conv;
  return c.groups == 1 && c.stride_height == 1 && c.stride_width == 1 && c.dilation_height == 1 &&
         c.dilation_width == 1 && c.pad_top == 0 && c.pad_left == 0 &&
         c.out_height == c.in_height - c.kernel_height + 1 &&
         c.out_width == c.in_width - c.kernel_width + 1 && c.out_channels <= kMaxPooledChannels &&
         s.pool_height >= 1 && s.pool_width >= 1 && s.pool_height * s.pool_width < kNoGradient &&
         s.out_height >= 1 && s.out_width >= 1 && s.out_height * s.pool_height <= c.out_height &&
         s.out_width * s.pool_width <= c.out_width;
}

size_t conv_relu_pool_workspace_floats(const ConvReluPoolShape& s) {
  size_t floats = 0;
  carve(nullptr, sizes_of(s), &floats);
  return floats;
}

bool conv_relu_pool_backward_is_sparse(const ConvReluPoolShape& s) {
  return sizes_of(s).k >= kSparseBackwardMinDepth;
}

bool conv_relu_pool_is_direct(const ConvReluPoolShape& s) {
  const Sizes z = sizes_of(s);
  return z.k <= kDirectMaxDepth && z.oc % kLanes == 0;
}

bool conv_relu_pool_forward_is_deep(const ConvReluPoolShape& s) {
  const Sizes z = sizes_of(s);
  return z.k > kDirectMaxDepth && z.oc % (2 * kLanes) == 0;
}

void conv_relu_pool_forward(float* out, uint8_t* argmax, const float* in, const float* weight,
                            const float* bias, const ConvReluPoolShape& s, float* workspace) {
  assert(conv_relu_pool_supported(s));
  const Sizes z = sizes_of(s);
  const Scratch scratch = carve(workspace, z);
  // The GEMM's B as (K, OC): packing copies its rows instead of transposing per sample.
  float* w_kc = scratch.dw_kc;  // unused by forward otherwise
  weights_to_hwc(scratch.w_hwc, weight, z);
  transpose(w_kc, scratch.w_hwc, z.oc, z.k, false);
  float* bias_or_zero = scratch.dw_hwc;  // unused by forward otherwise
  for (int o = 0; o < z.oc; ++o) bias_or_zero[o] = bias != nullptr ? bias[o] : 0.0f;
  const size_t in_sample = size_t(z.ic) * z.ih * z.iw;
  const size_t out_sample = size_t(z.oc) * z.windows;
  using Kernel = ConvReluPoolShape::Kernel;
  const bool may_be_direct = s.kernel == Kernel::kAuto || s.kernel == Kernel::kDirect;
  const bool direct = may_be_direct && conv_relu_pool_is_direct(s);
  const bool deep = may_be_direct && !direct && conv_relu_pool_forward_is_deep(s);
  if (deep) fill_origins(scratch.origins, z, s.pool_height, s.pool_width);
  for (int n = 0; n < s.conv.batch; ++n) {
    const float* in_hwc = input_hwc(scratch.in_hwc, in + n * in_sample, z);
    float* out_n = out + n * out_sample;
    float* pooled = z.out_hwc ? out_n : scratch.pooled;
    if (direct || deep) {
      if (direct) {
        direct_forward_sample(pooled, argmax + n * out_sample, in_hwc, w_kc, bias_or_zero, z,
                              s.pool_height, s.pool_width);
      } else {
        deep_forward_sample(pooled, argmax + n * out_sample, in_hwc, w_kc, bias_or_zero,
                            scratch.origins, z, s.pool_height * s.pool_width);
      }
      if (!z.out_hwc) transpose(out_n, scratch.pooled, z.windows, z.oc, false);
      continue;
    }
    im2col_hwc(scratch.col, in_hwc, z);
    // conv (P, OC) = col (P, K) · w_kc (K, OC)
    gemm(scratch.conv, scratch.col, w_kc, z.p, z.oc, z.k, Transpose::kNo, Transpose::kNo, 0.0f,
         z.k, z.oc, z.oc);
    pool_windows(pooled, argmax + n * out_sample, scratch.conv, bias_or_zero, z.oc, z.ow, z.ph,
                 z.pw, s.pool_height, s.pool_width);
    if (!z.out_hwc) transpose(out_n, scratch.pooled, z.windows, z.oc, false);
  }
}

void conv_relu_pool_backward(float* dinput, float* dweight, float* dbias, const float* dout,
                             const uint8_t* argmax, const float* in, const float* weight,
                             const ConvReluPoolShape& s, float* workspace) {
  assert(conv_relu_pool_supported(s));
  if (dinput == nullptr && dweight == nullptr && dbias == nullptr) return;
  const Sizes z = sizes_of(s);
  const Scratch scratch = carve(workspace, z);
  // Three kernels, chosen by measurement on LeNet's shapes (bench: BM_ConvReluPoolBackward):
  // direct when the patch is shallow and no input gradient is wanted (a first layer), per-hit
  // (sparse) loops for deep patches, else dense GEMMs over the expanded gradient.
  using Kernel = ConvReluPoolShape::Kernel;
  const bool direct = dinput == nullptr && conv_relu_pool_is_direct(s) &&
                      (s.kernel == Kernel::kAuto || s.kernel == Kernel::kDirect);
  const bool sparse = !direct && (s.kernel == Kernel::kSparse ||
                                  (s.kernel != Kernel::kDense && conv_relu_pool_backward_is_sparse(s)));
  const size_t weights = size_t(z.oc) * z.k;
  weights_to_hwc(scratch.w_hwc, weight, z);
  if (dweight != nullptr) std::fill_n(sparse ? scratch.dw_hwc : scratch.dw_kc, weights, 0.0f);
  const size_t in_sample = size_t(z.ic) * z.ih * z.iw;
  const size_t out_sample = size_t(z.oc) * z.windows;
  float* dout_hwc = scratch.pooled;
  fill_origins(scratch.origins, z, s.pool_height, s.pool_width);
  for (int n = 0; n < s.conv.batch; ++n) {
    const uint8_t* argmax_n = argmax + n * out_sample;  // (PH·PW, OC)
    gather_gradient(dout_hwc, dbias, dout + n * out_sample, argmax_n, z.oc, z.windows, z.out_hwc);
    const float* in_hwc = dweight != nullptr ? input_hwc(scratch.in_hwc, in + n * in_sample, z) : nullptr;
    if (direct) {
      if (dweight != nullptr) {
        direct_backward_sample(scratch.dw_kc, dout_hwc, argmax_n, in_hwc, z, s.pool_height,
                               s.pool_width);
      }
      continue;
    }
    if (dweight != nullptr && !sparse) im2col_hwc(scratch.col, in_hwc, z);
    float* din_hwc = nullptr;
    if (dinput != nullptr) {
      // A channel-last input's gradient is accumulated straight into dinput.
      din_hwc = z.in_hwc ? dinput + n * in_sample : scratch.din_hwc;
      if (!z.in_hwc) std::fill_n(din_hwc, in_sample, 0.0f);
    }
    if (sparse && (z.kw * z.ic) % kLanes == 0) {
      sparse_backward_vectors(dweight != nullptr ? scratch.dw_hwc : nullptr, din_hwc, dout_hwc,
                              argmax_n, in_hwc, scratch.w_hwc, scratch.origins, z,
                              s.pool_height * s.pool_width);
    } else if (sparse) {
      const int count =
          collect_hits(scratch.hits, dout_hwc, argmax_n, z, s.pool_height, s.pool_width);
      backward_hits(dweight != nullptr ? scratch.dw_hwc : nullptr, din_hwc, scratch.hits, count,
                    in_hwc, scratch.w_hwc, z);
    } else {
      float* dconv = scratch.conv;
      expand_gradient(dconv, dout_hwc, argmax_n, z, s.pool_height, s.pool_width);
      if (dweight != nullptr) {  // dW_kc (K, OC) += colᵀ (K, P) · dconv (P, OC)
        gemm(scratch.dw_kc, scratch.col, dconv, z.k, z.oc, z.p, Transpose::kYes, Transpose::kNo,
             1.0f, z.k, z.oc, z.oc);
      }
      if (din_hwc != nullptr) {  // dcol (P, K) = dconv (P, OC) · w_hwc (OC, K)
        gemm(scratch.col, dconv, scratch.w_hwc, z.p, z.k, z.oc, Transpose::kNo, Transpose::kNo,
             0.0f, z.oc, z.k, z.k);
        col2im_hwc_add(din_hwc, scratch.col, z);
      }
    }
    if (din_hwc != nullptr && !z.in_hwc) {
      transpose(dinput + n * in_sample, din_hwc, z.ih * z.iw, z.ic, true);
    }
  }
  if (dweight != nullptr) {
    if (!sparse) transpose(scratch.dw_hwc, scratch.dw_kc, z.k, z.oc, false);
    add_weight_gradient(dweight, scratch.dw_hwc, z);
  }
}

}  // namespace edgetrain::ops
