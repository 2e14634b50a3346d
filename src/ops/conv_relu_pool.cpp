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
//                          ((PH, PW, OC) when output_channel_last)
//   argmax  (PH·PW, OC)    window position (row-major in the window) of the max, or kNoGradient
//                          when the pooled value is 0 (ReLU cut it: no gradient flows)
// Max and ReLU commute and adding the bias keeps the argmax, so this equals conv → ReLU → pool
// exactly, ties resolved the same way (the first max in the window wins).
//
// That is the im2col + GEMM path, kept for the shapes the in-register kernels
// (conv_relu_pool_kernels.cpp) do not take: forward is direct for shallow patches and "deep" for
// 32-channel multiples; backward is direct (shallow, no input gradient), sparse (patch rows in
// whole vectors), or else dense GEMMs over the expanded gradient. This file holds the layout
// helpers, that path, and the choice.
#include <algorithm>
#include <cassert>
#include <cstring>

#include "edgetrain/error.h"
#include "ops/conv_relu_pool_internal.h"
#include "ops/gemm_bf16.h"
#include "ops/ops.h"
#include "ops/simd.h"

namespace edgetrain::ops {
namespace {

using namespace conv_relu_pool_internal;

// dout_hwc (PH·PW, OC) = dout_n, 0 where ReLU cut the window (no gradient flows there); dout_n
// is (PH·PW, OC) when channel_last, else (OC, PH·PW). dbias (OC) += its column sums if not null.
EDGETRAIN_VECTORIZE
void gather_gradient(float* __restrict dout_hwc, float* __restrict dbias,
                     const float* __restrict dout_n, const uint8_t* __restrict argmax_n, int oc,
                     int windows, bool channel_last) {
  const size_t cells = size_t(windows) * oc;
  if (channel_last) {  // copied and masked in one pass: a separate copy cost ~1 % of training
    for (size_t i = 0; i < cells; ++i) dout_hwc[i] = argmax_n[i] == kNoGradient ? 0.0f : dout_n[i];
  } else {
    for (int o = 0; o < oc; ++o)
      for (int w = 0; w < windows; ++w) dout_hwc[size_t(w) * oc + o] = dout_n[size_t(o) * windows + w];
    for (size_t i = 0; i < cells; ++i)
      dout_hwc[i] = argmax_n[i] == kNoGradient ? 0.0f : dout_hwc[i];
  }
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
  int32_t* origins;  // (PH·PW, pool_h·pool_w): input element where each patch starts
};

// Carves the scratch out of `workspace` (or, with a null workspace, only counts its floats).
Scratch carve(float* workspace, const Sizes& z, size_t* floats = nullptr) {
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

// w_kc[(kh·KW + kw)·IC + ic][oc] = weight[oc][ic][kh][kw]: w_hwc transposed, in one pass.
void weights_to_kc(float* w_kc, const float* weight, const Sizes& z) {
  for (int o = 0; o < z.oc; ++o)
    for (int c = 0; c < z.ic; ++c)
      for (int t = 0; t < z.kh * z.kw; ++t)
        w_kc[(size_t(t) * z.ic + c) * z.oc + o] = weight[(size_t(o) * z.ic + c) * z.kh * z.kw + t];
}

// to (cols, rows) = from (rows, cols) transposed, for from's rows [begin, end) only: the columns of
// `to` one part of a split sample computed.
void transpose_columns(float* to, const float* from, int rows, int cols, int begin, int end) {
  for (int c = 0; c < cols; ++c)
    for (int r = begin; r < end; ++r) to[size_t(c) * rows + r] = from[size_t(r) * cols + c];
}

// dweight[oc][ic][kh][kw] += dw_hwc[oc][(kh·KW + kw)·IC + ic].
void add_weight_gradient(float* dweight, const float* dw_hwc, const Sizes& z) {
  for (int o = 0; o < z.oc; ++o)
    for (int c = 0; c < z.ic; ++c)
      for (int t = 0; t < z.kh * z.kw; ++t)
        dweight[(size_t(o) * z.ic + c) * z.kh * z.kw + t] += dw_hwc[size_t(o) * z.k + size_t(t) * z.ic + c];
}

// The sample's input as (IH·IW, IC): as stored when the blob is channel-last, else transposed.
const float* input_hwc(float* in_hwc, const float* in_n, const Sizes& z) {
  if (z.in_hwc) return in_n;
  transpose_matrix(in_hwc, in_n, z.ic, z.ih * z.iw, false);
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

// The architecture's kernel sets for this CPU, read once.
const ArchitectureKernels& own_kernels() {
  static const ArchitectureKernels sets = architecture_kernels();
  return sets;
}

// The in-register kernels a call runs: set number s.kernel_set, the architecture's sets first and
// the generic one last.
const InRegisterKernels& kernels_for(const ConvReluPoolShape& s) {
  const ArchitectureKernels& own = own_kernels();
  return s.kernel_set >= 0 && s.kernel_set < own.count ? *own.set[s.kernel_set]
                                                       : generic_vector_kernels();
}

}  // namespace

#if !defined(__aarch64__) && !(defined(__x86_64__) && defined(__GNUC__))
// Only aarch64 and x86-64 builds have kernel sets of their own (conv_relu_pool_kernels_neon.cpp,
// conv_relu_pool_kernels.cpp).
ArchitectureKernels conv_relu_pool_internal::architecture_kernels() {
  return {};
}
#endif
#if !defined(__x86_64__)
// Only x86-64 builds have bf16 kernels (conv_relu_pool_bf16_x86.cpp).
const DeepBf16Kernels* conv_relu_pool_internal::deep_bf16_kernels() {
  return nullptr;
}
#endif

int conv_relu_pool_kernel_set_count() {
  return own_kernels().count + 1;
}

const char* conv_relu_pool_kernel_set_name(int set) {
  const ArchitectureKernels& own = own_kernels();
  return set >= 0 && set < own.count ? own.set[set]->name : generic_vector_kernels().name;
}

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
  return floats + conv_relu_pool_prepared_floats(s);
}

bool conv_relu_pool_backward_is_sparse(const ConvReluPoolShape& s) {
  const Sizes z = sizes_of(s);
  return z.k >= kSparseBackwardMinDepth && (z.kw * z.ic) % kLanes == 0;
}

bool conv_relu_pool_is_direct(const ConvReluPoolShape& s) {
  const Sizes z = sizes_of(s);
  return z.k <= kDirectMaxDepth && z.oc % kLanes == 0;
}

bool conv_relu_pool_forward_is_deep(const ConvReluPoolShape& s) {
  const Sizes z = sizes_of(s);
  return z.k > kDirectMaxDepth && z.oc % (2 * kLanes) == 0;
}

namespace {

// Which forward path a shape runs, and the layout of what conv_relu_pool_prepare() makes.
struct ForwardPlan {
  bool direct = false, deep = false, bf16 = false;
  // Offsets (floats) in the prepared block: w_kc (K, OC), bias (OC), origins (windows ·
  // positions, deep only), w_pairs (K/2, OC, deep bf16 only); each 64-byte aligned.
  size_t bias = 0, origins = 0, pairs = 0, floats = 0;
};

ForwardPlan forward_plan(const ConvReluPoolShape& s) {
  const Sizes z = sizes_of(s);
  using Kernel = ConvReluPoolShape::Kernel;
  ForwardPlan f;
  const bool may_be_direct = s.kernel == Kernel::kAuto || s.kernel == Kernel::kDirect;
  f.direct = may_be_direct && conv_relu_pool_is_direct(s);
  // bf16 products (all but the direct kernel's shallow patches): the deep kernel where the patch
  // rows start on bf16 pairs (IC even), else the im2col path with gemm_bf16.
  f.bf16 = s.products == Products::kBfloat16 && !f.direct;
  f.deep = may_be_direct && !f.direct && conv_relu_pool_forward_is_deep(s) &&
           (!f.bf16 || z.ic % 2 == 0);
  auto aligned = [](size_t floats) { return (floats + 15) / 16 * 16; };
  f.bias = aligned(size_t(z.k) * z.oc);
  f.origins = f.bias + aligned(size_t(z.oc));
  f.pairs = f.origins + (f.deep ? aligned(size_t(z.windows) * s.pool_height * s.pool_width) : 0);
  f.floats = f.pairs + (f.deep && f.bf16 ? aligned(size_t(z.k / 2) * z.oc) : 0);
  return f;
}

// This CPU's bf16 kernels, or Error saying it has none.
const DeepBf16Kernels& required_bf16_kernels() {
  const DeepBf16Kernels* kernels = deep_bf16_kernels();
  if (kernels == nullptr) {
    throw Error("bf16 products need a CPU with AVX512-BF16, and this one has not");
  }
  return *kernels;
}

}  // namespace

bool conv_relu_pool_forward_splits(const ConvReluPoolShape& s) {
  const ForwardPlan f = forward_plan(s);
  return f.direct || f.deep;
}

size_t conv_relu_pool_prepared_floats(const ConvReluPoolShape& s) {
  return forward_plan(s).floats;
}

void conv_relu_pool_prepare(float* prepared, const float* weight, const float* bias,
                            const ConvReluPoolShape& s) {
  const Sizes z = sizes_of(s);
  const ForwardPlan f = forward_plan(s);
  if (f.bf16) required_bf16_kernels();  // refused before any work
  // The GEMM's B as (K, OC): packing copies its rows instead of transposing per sample; the
  // in-register kernels read a row of OC channels per patch element.
  float* w_kc = prepared;
  weights_to_kc(w_kc, weight, z);
  for (int o = 0; o < z.oc; ++o) prepared[f.bias + size_t(o)] = bias != nullptr ? bias[o] : 0.0f;
  static_assert(sizeof(int32_t) == sizeof(float) && sizeof(uint32_t) == sizeof(float));
  if (f.deep) {
    fill_origins(reinterpret_cast<int32_t*>(prepared + f.origins), z, s.pool_height, s.pool_width);
  }
  if (f.deep && f.bf16) {
    // The deep bf16 kernel's weights: bf16 pairs (K/2, OC), word (q, c) holding w_kc (2q, c) in
    // its low half and (2q + 1, c) in its high.
    uint32_t* w_pairs = reinterpret_cast<uint32_t*>(prepared + f.pairs);
    for (int q = 0; q < z.k / 2; ++q) {
      const float* even = w_kc + size_t(2 * q) * z.oc;
      for (int o = 0; o < z.oc; ++o) {
        w_pairs[size_t(q) * z.oc + o] =
            uint32_t(round_to_bf16(even[o])) | uint32_t(round_to_bf16(even[z.oc + o])) << 16;
      }
    }
  }
}

void conv_relu_pool_forward_prepared(float* out, uint8_t* argmax, const float* in,
                                     const float* prepared, const ConvReluPoolShape& s,
                                     float* workspace, Part part) {
  assert(conv_relu_pool_supported(s));
  assert(part.count == 1 || conv_relu_pool_forward_splits(s));
  const Sizes z = sizes_of(s);
  const Scratch scratch = carve(workspace, z);
  const ForwardPlan f = forward_plan(s);
  const float* w_kc = prepared;
  const float* bias_or_zero = prepared + f.bias;
  const int32_t* origins = reinterpret_cast<const int32_t*>(prepared + f.origins);
  const uint32_t* w_pairs = reinterpret_cast<const uint32_t*>(prepared + f.pairs);
  const DeepBf16Kernels* bf16_kernels = f.bf16 ? &required_bf16_kernels() : nullptr;
  const size_t in_sample = size_t(z.ic) * z.ih * z.iw;
  const size_t out_sample = size_t(z.oc) * z.windows;
  const int positions = s.pool_height * s.pool_width;
  // This part's pooled windows [first, first + part_z.windows): whole rows of the pooled output
  // for the direct kernel (it walks rows), any windows for the deep one (it walks `origins`).
  // part_z describes just them; the kernels take pointers moved to the first.
  Sizes part_z = z;
  int first = 0;
  if (f.direct) {
    const Range rows = part_range(z.ph, part);
    part_z.ph = rows.end - rows.begin, part_z.windows = part_z.ph * z.pw;
    first = rows.begin * z.pw;
  } else if (f.deep) {
    const Range windows = part_range(z.windows, part);
    part_z.windows = windows.end - windows.begin;
    first = windows.begin;
  }
  const size_t first_cell = size_t(first) * z.oc;  // in pooled and argmax, (windows, OC)
  // The deep bf16 kernel rounds each sample to bf16 in col, which the deep path leaves unused
  // (P·K >= IH·IW·IC floats, twice what the half-size values take).
  uint16_t* in_bf16 = reinterpret_cast<uint16_t*>(scratch.col);
  const InRegisterKernels& kernels = kernels_for(s);
  for (int n = 0; n < s.conv.batch; ++n) {
    const float* in_hwc = input_hwc(scratch.in_hwc, in + n * in_sample, z);
    float* out_n = out + n * out_sample;
    float* pooled = z.out_hwc ? out_n : scratch.pooled;
    uint8_t* argmax_n = argmax + n * out_sample;
    if (f.direct || f.deep) {
      if (part_z.windows == 0) continue;
      if (f.direct) {
        // The part's first pooled row reads input rows from first / PW · pool_h on.
        const size_t skipped = size_t(first / z.pw) * s.pool_height * z.iw * z.ic;
        kernels.direct_forward(pooled + first_cell, argmax_n + first_cell, in_hwc + skipped,
                               w_kc, bias_or_zero, part_z, s.pool_height, s.pool_width);
      } else if (f.bf16) {
        bf16_kernels->round_values(in_bf16, in_hwc, in_sample);
        bf16_kernels->deep_forward(pooled + first_cell, argmax_n + first_cell, in_bf16, w_pairs,
                                   bias_or_zero, origins + first * positions, part_z, positions);
      } else {
        kernels.deep_forward(pooled + first_cell, argmax_n + first_cell, in_hwc, w_kc,
                             bias_or_zero, origins + first * positions, part_z, positions);
      }
      // out_n (OC, windows) gets this part's columns.
      if (!z.out_hwc) {
        transpose_columns(out_n, scratch.pooled, z.windows, z.oc, first, first + part_z.windows);
      }
      continue;
    }
    im2col_hwc(scratch.col, in_hwc, z);
    // conv (P, OC) = col (P, K) · w_kc (K, OC)
    gemm_with_products(f.bf16 ? Products::kBfloat16 : Products::kFloat32, scratch.conv,
                       scratch.col, w_kc, z.p, z.oc, z.k, Transpose::kNo, Transpose::kNo, 0.0f,
                       z.k, z.oc, z.oc);
    pool_windows(pooled, argmax_n, scratch.conv, bias_or_zero, z.oc, z.ow, z.ph, z.pw,
                 s.pool_height, s.pool_width);
    if (!z.out_hwc) transpose_matrix(out_n, scratch.pooled, z.windows, z.oc, false);
  }
}

void conv_relu_pool_forward(float* out, uint8_t* argmax, const float* in, const float* weight,
                            const float* bias, const ConvReluPoolShape& s, float* workspace,
                            Part part) {
  // The prepared block after the forward's own scratch (conv_relu_pool_workspace_floats counts
  // both).
  size_t forward_floats = 0;
  carve(nullptr, sizes_of(s), &forward_floats);
  float* prepared = workspace + forward_floats;
  conv_relu_pool_prepare(prepared, weight, bias, s);
  conv_relu_pool_forward_prepared(out, argmax, in, prepared, s, workspace, part);
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
  const bool sparse_fits = (z.kw * z.ic) % kLanes == 0;  // patch runs in whole vectors
  const bool sparse = !direct && sparse_fits &&
                      (s.kernel == Kernel::kSparse ||
                       (s.kernel != Kernel::kDense && conv_relu_pool_backward_is_sparse(s)));
  const size_t weights = size_t(z.oc) * z.k;
  weights_to_hwc(scratch.w_hwc, weight, z);
  if (dweight != nullptr) std::fill_n(sparse ? scratch.dw_hwc : scratch.dw_kc, weights, 0.0f);
  const size_t in_sample = size_t(z.ic) * z.ih * z.iw;
  const size_t out_sample = size_t(z.oc) * z.windows;
  float* dout_hwc = scratch.pooled;
  fill_origins(scratch.origins, z, s.pool_height, s.pool_width);
  const InRegisterKernels& kernels = kernels_for(s);
  for (int n = 0; n < s.conv.batch; ++n) {
    const uint8_t* argmax_n = argmax + n * out_sample;  // (PH·PW, OC)
    const float* dout_n = dout + n * out_sample;
    const float* in_hwc = dweight != nullptr ? input_hwc(scratch.in_hwc, in + n * in_sample, z) : nullptr;
    if (direct && dweight != nullptr) {
      // The kernel masks the gradient by the argmax and sums the bias gradient as it reads it: a
      // channel-last dout_n is read once, in place. It came from the layer above's backward over
      // the whole batch, beyond L2 for LeNet's conv1 (64 x 5,408 floats a thread), and copying
      // it with its mask first (gather_gradient) was 3 % of a training profile.
      const float* dout_cells = dout_n;
      if (!z.out_hwc) {
        transpose_matrix(dout_hwc, dout_n, z.oc, z.windows, false);
        dout_cells = dout_hwc;
      }
      kernels.direct_backward(scratch.dw_kc, dbias, dout_cells, argmax_n, in_hwc, z, s.pool_height,
                              s.pool_width);
      continue;
    }
    gather_gradient(dout_hwc, dbias, dout_n, argmax_n, z.oc, z.windows, z.out_hwc);
    if (direct) continue;  // the bias gradient alone
    if (dweight != nullptr && !sparse) im2col_hwc(scratch.col, in_hwc, z);
    float* din_hwc = nullptr;
    if (dinput != nullptr) {
      // A channel-last input's gradient is accumulated straight into dinput.
      din_hwc = z.in_hwc ? dinput + n * in_sample : scratch.din_hwc;
      if (!z.in_hwc) std::fill_n(din_hwc, in_sample, 0.0f);
    }
    if (sparse) {
      kernels.sparse_backward(dweight != nullptr ? scratch.dw_hwc : nullptr, din_hwc, dout_hwc,
                              argmax_n, in_hwc, scratch.w_hwc, scratch.origins, z,
                              s.pool_height * s.pool_width);
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
      transpose_matrix(dinput + n * in_sample, din_hwc, z.ih * z.iw, z.ic, true);
    }
  }
  if (dweight != nullptr) {
    if (!sparse) transpose_matrix(scratch.dw_hwc, scratch.dw_kc, z.k, z.oc, false);
    add_weight_gradient(dweight, scratch.dw_hwc, z);
  }
}

}  // namespace edgetrain::ops
