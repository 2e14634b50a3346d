// 2-D max and average pooling, forward and backward.
//
// Max pooling keeps `argmax` (N, C, OH, OW) from forward: the flat index ih*IW + iw of each
// window's maximum in its (IH, IW) plane, or -1 when the window lies entirely in the padding (its
// output is 0 and backward skips it). Ties go to the first position in row-major window order; -inf
// and NaN never beat another value (a window holding nothing else reports its first position).
// Average pooling keeps nothing: its backward spreads each output gradient evenly over the window.
// L2 pooling (sqrt of the window's sum of squares) reads its input and output in backward.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#define EDGETRAIN_POOL_2X2_VECTORS 1
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#define EDGETRAIN_POOL_2X2_VECTORS 1
#endif

#include "ops/ops.h"

namespace edgetrain::ops {
namespace {

// The in-image part of one pooling window: rows [h_begin, h_end), columns [w_begin, w_end).
struct Window {
  int h_begin, h_end, w_begin, w_end;
  int count() const { return (h_end - h_begin) * (w_end - w_begin); }
};

// The in-image [begin, end) of every window along one axis. Computed once per call: it is the same
// for every row (or column) and every plane, and keeps the clamping out of the inner loops.
struct AxisRanges {
  std::vector<int> begin, end;
  AxisRanges(int out_size, int in_size, int kernel, int stride, int pad)
      : begin(out_size), end(out_size) {
    for (int o = 0; o < out_size; ++o) {
      const int first = o * stride - pad;
      begin[o] = std::clamp(first, 0, in_size);
      end[o] = std::clamp(first + kernel, begin[o], in_size);
    }
  }
};

struct WindowRanges {
  AxisRanges rows, columns;
  explicit WindowRanges(const Pool2dShape& s)
      : rows(s.out_height, s.in_height, s.kernel_height, s.stride_height, s.pad_top),
        columns(s.out_width, s.in_width, s.kernel_width, s.stride_width, s.pad_left) {}
  Window at(int oh, int ow) const {
    return {rows.begin[oh], rows.end[oh], columns.begin[ow], columns.end[ow]};
  }
};

void assert_valid(const Pool2dShape& s) {
  assert(s.batch >= 0 && s.channels >= 0);
  assert(s.kernel_height >= 1 && s.kernel_width >= 1);
  assert(s.stride_height >= 1 && s.stride_width >= 1);
  assert(s.pad_top >= 0 && s.pad_left >= 0);
  (void)s;
}

// The divisor of an average window: the full kernel area, or only its in-image positions.
float average_divisor(const Pool2dShape& s, const Window& w, bool exclude_padding) {
  return exclude_padding ? float(w.count()) : float(s.kernel_height * s.kernel_width);
}

// For ow in [begin, end): folds image[base + ow*stride] into the running max best[ow] and its
// position best_at[ow]. kStride is the stride when known at compile time, 0 for `stride`.
template <int kStride>
void max_select(float* best, int32_t* best_at, const float* image, int32_t base, int begin, int end,
                int stride = kStride) {
  if constexpr (kStride != 0) stride = kStride;
  for (int ow = begin; ow < end; ++ow) {
    const int32_t at = base + ow * stride;
    const float value = image[at], current = best[ow];
    // Strictly greater: ties keep the earlier position in row-major window order. Selects, not
    // branches: which value wins is unpredictable, and selects vectorise.
    const int32_t take = -int32_t(value > current);  // all ones or zero
    best[ow] = value > current ? value : current;
    best_at[ow] = (at & take) | (best_at[ow] & ~take);
  }
}

// Folds one window (its in-image part) into best / best_at, in row-major order.
void max_window(float* best, int32_t* best_at, const float* image, int in_width, const Window& w) {
  for (int ih = w.h_begin; ih < w.h_end; ++ih) {
    for (int iw = w.w_begin; iw < w.w_end; ++iw) {
      const int32_t at = ih * in_width + iw;
      if (image[at] > *best) *best = image[at], *best_at = at;
    }
  }
}

#if defined(__SSE2__)
// The common 2x2 / stride-2 pool, four outputs per step with SSE2 (part of the x86-64 baseline):
// the even and odd columns of the window's two input rows are its four candidates, folded in
// row-major order like max_select does. Handles output columns [begin, end) of input rows ih and
// ih + 1, all of whose windows must lie inside the image; returns the first column not done.
int max_pool_2x2_vectors(float* best, int32_t* best_at, const float* image, int in_width, int ih,
                         int pad_left, int begin, int end) {
  const float* top = image + size_t(ih) * in_width;
  const float* bottom = top + in_width;
  int ow = begin;
  for (; ow + 4 <= end; ow += 4) {
    const int iw = 2 * ow - pad_left;
    const __m128 top_low = _mm_loadu_ps(top + iw), top_high = _mm_loadu_ps(top + iw + 4);
    const __m128 bottom_low = _mm_loadu_ps(bottom + iw),
                 bottom_high = _mm_loadu_ps(bottom + iw + 4);
    const __m128 candidates[4] = {
        _mm_shuffle_ps(top_low, top_high, _MM_SHUFFLE(2, 0, 2, 0)),         // (0, 0)
        _mm_shuffle_ps(top_low, top_high, _MM_SHUFFLE(3, 1, 3, 1)),         // (0, 1)
        _mm_shuffle_ps(bottom_low, bottom_high, _MM_SHUFFLE(2, 0, 2, 0)),   // (1, 0)
        _mm_shuffle_ps(bottom_low, bottom_high, _MM_SHUFFLE(3, 1, 3, 1))};  // (1, 1)
    const __m128i first_at =
        _mm_add_epi32(_mm_set1_epi32(ih * in_width + iw), _mm_setr_epi32(0, 2, 4, 6));
    const int offsets[4] = {0, 1, in_width, in_width + 1};
    __m128 max_value = _mm_set1_ps(-std::numeric_limits<float>::infinity());
    __m128i max_at = _mm_set1_epi32(-1);
    for (int q = 0; q < 4; ++q) {
      const __m128 take = _mm_cmpgt_ps(candidates[q], max_value);
      const __m128i take_int = _mm_castps_si128(take);
      const __m128i at = _mm_add_epi32(first_at, _mm_set1_epi32(offsets[q]));
      max_value = _mm_or_ps(_mm_and_ps(take, candidates[q]), _mm_andnot_ps(take, max_value));
      max_at = _mm_or_si128(_mm_and_si128(take_int, at), _mm_andnot_si128(take_int, max_at));
    }
    _mm_storeu_ps(best + ow, max_value);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(best_at + ow), max_at);
  }
  return ow;
}
#elif defined(__ARM_NEON)
// The same with NEON (part of the aarch64 baseline): vld2q splits four windows' row into its even
// and odd columns, the window's left and right candidates.
int max_pool_2x2_vectors(float* best, int32_t* best_at, const float* image, int in_width, int ih,
                         int pad_left, int begin, int end) {
  const float* top = image + size_t(ih) * in_width;
  const float* bottom = top + in_width;
  const int32x4_t column_steps = {0, 2, 4, 6};
  int ow = begin;
  for (; ow + 4 <= end; ow += 4) {
    const int iw = 2 * ow - pad_left;
    const float32x4x2_t top_columns = vld2q_f32(top + iw), bottom_columns = vld2q_f32(bottom + iw);
    const float32x4_t candidates[4] = {top_columns.val[0], top_columns.val[1],
                                       bottom_columns.val[0], bottom_columns.val[1]};
    const int32x4_t first_at = vaddq_s32(vdupq_n_s32(ih * in_width + iw), column_steps);
    const int offsets[4] = {0, 1, in_width, in_width + 1};
    float32x4_t max_value = vdupq_n_f32(-std::numeric_limits<float>::infinity());
    int32x4_t max_at = vdupq_n_s32(-1);
    for (int q = 0; q < 4; ++q) {
      const uint32x4_t take = vcgtq_f32(candidates[q], max_value);  // NaN never takes
      max_value = vbslq_f32(take, candidates[q], max_value);
      max_at = vbslq_s32(take, vaddq_s32(first_at, vdupq_n_s32(offsets[q])), max_at);
    }
    vst1q_f32(best + ow, max_value);
    vst1q_s32(best_at + ow, max_at);
  }
  return ow;
}
#endif

}  // namespace

void maxpool2d_forward(float* out, int32_t* argmax, const float* in, const Pool2dShape& s) {
  assert_valid(s);
  const size_t in_plane = size_t(s.in_height) * s.in_width;
  const size_t out_plane = size_t(s.out_height) * s.out_width;
  const size_t planes = size_t(s.batch) * s.channels;
  const WindowRanges windows(s);
  // Output columns whose window column kw lies in the image, for each kw.
  std::vector<int> kw_begin(s.kernel_width), kw_end(s.kernel_width);
  for (int kw = 0; kw < s.kernel_width; ++kw) {
    kw_begin[kw] = s.out_width, kw_end[kw] = 0;
    for (int ow = 0; ow < s.out_width; ++ow) {
      const int iw = ow * s.stride_width - s.pad_left + kw;
      if (iw < 0 || iw >= s.in_width) continue;
      kw_begin[kw] = std::min(kw_begin[kw], ow);
      kw_end[kw] = ow + 1;
    }
    kw_end[kw] = std::max(kw_end[kw], kw_begin[kw]);
  }
  const bool pool_2x2 =
      s.kernel_height == 2 && s.kernel_width == 2 && s.stride_height == 2 && s.stride_width == 2;
  for (size_t plane = 0; plane < planes; ++plane) {
    const float* image = in + plane * in_plane;  // (IH, IW)
    for (int oh = 0; oh < s.out_height; ++oh) {
      float* best = out + plane * out_plane + size_t(oh) * s.out_width;  // (OW)
      int32_t* best_at = argmax + plane * out_plane + size_t(oh) * s.out_width;
      std::fill(best, best + s.out_width, -std::numeric_limits<float>::infinity());
      std::fill(best_at, best_at + s.out_width, -1);
#if defined(EDGETRAIN_POOL_2X2_VECTORS)
      const int ih0 = oh * 2 - s.pad_top;
      if (pool_2x2 && ih0 >= 0 && ih0 + 1 < s.in_height) {
        // Whole 2x2 windows in SIMD; the few border columns one window at a time.
        const int fast_end = max_pool_2x2_vectors(best, best_at, image, s.in_width, ih0, s.pad_left,
                                                  kw_begin[0], kw_end[1]);
        for (int ow = 0; ow < kw_begin[0]; ++ow)
          max_window(best + ow, best_at + ow, image, s.in_width, windows.at(oh, ow));
        for (int ow = fast_end; ow < s.out_width; ++ow)
          max_window(best + ow, best_at + ow, image, s.in_width, windows.at(oh, ow));
      } else
#endif
      {
        // Window offsets outermost, output columns innermost: the columns are independent, so
        // the compare-and-select chains overlap instead of serialising within one window.
        for (int kh = 0; kh < s.kernel_height; ++kh) {
          const int ih = oh * s.stride_height - s.pad_top + kh;
          if (ih < 0 || ih >= s.in_height) continue;
          for (int kw = 0; kw < s.kernel_width; ++kw) {
            const int32_t base = ih * s.in_width - s.pad_left + kw;
            const int begin = kw_begin[kw], end = kw_end[kw];
            // Constant strides let the compiler vectorise the strided loads.
            if (s.stride_width == 2) {
              max_select<2>(best, best_at, image, base, begin, end);
            } else if (s.stride_width == 1) {
              max_select<1>(best, best_at, image, base, begin, end);
            } else {
              max_select<0>(best, best_at, image, base, begin, end, s.stride_width);
            }
          }
        }
      }
      // Nothing beat -inf: the window is all padding (output 0, argmax -1), or all its values are
      // -inf or NaN (then its first in-image position is the max).
      for (int ow = 0; ow < s.out_width; ++ow) {
        if (best_at[ow] >= 0) continue;
        const Window w = windows.at(oh, ow);
        if (w.count() == 0) {
          best[ow] = 0.0f;
        } else {
          best_at[ow] = w.h_begin * s.in_width + w.w_begin;
          best[ow] = image[best_at[ow]];
        }
      }
    }
  }
}

void maxpool2d_backward(float* dinput, const float* dout, const int32_t* argmax,
                        const Pool2dShape& s) {
  assert_valid(s);
  const size_t in_plane = size_t(s.in_height) * s.in_width;
  const size_t out_plane = size_t(s.out_height) * s.out_width;
  const size_t planes = size_t(s.batch) * s.channels;
  for (size_t plane = 0; plane < planes; ++plane) {
    float* dimage = dinput + plane * in_plane;           // (IH, IW)
    const float* dout_plane = dout + plane * out_plane;  // (OH, OW)
    const int32_t* arg_plane = argmax + plane * out_plane;
    for (size_t o = 0; o < out_plane; ++o) {
      const int32_t at = arg_plane[o];
      if (at < 0) continue;  // window entirely in the padding
      assert(size_t(at) < in_plane);
      dimage[at] += dout_plane[o];
    }
  }
}

void avgpool2d_forward(float* out, const float* in, const Pool2dShape& s, bool exclude_padding) {
  assert_valid(s);
  const size_t in_plane = size_t(s.in_height) * s.in_width;
  const size_t out_plane = size_t(s.out_height) * s.out_width;
  const size_t planes = size_t(s.batch) * s.channels;
  const WindowRanges windows(s);
  for (size_t plane = 0; plane < planes; ++plane) {
    const float* image = in + plane * in_plane;      // (IH, IW)
    float* out_plane_ptr = out + plane * out_plane;  // (OH, OW)
    for (int oh = 0; oh < s.out_height; ++oh) {
      for (int ow = 0; ow < s.out_width; ++ow) {
        const Window w = windows.at(oh, ow);
        float sum = 0.0f;
        for (int ih = w.h_begin; ih < w.h_end; ++ih)
          for (int iw = w.w_begin; iw < w.w_end; ++iw) sum += image[ih * s.in_width + iw];
        // Padded positions count as zeros; an all-padding window averages to 0.
        out_plane_ptr[oh * s.out_width + ow] =
            w.count() == 0 ? 0.0f : sum / average_divisor(s, w, exclude_padding);
      }
    }
  }
}

void avgpool2d_backward(float* dinput, const float* dout, const Pool2dShape& s,
                        bool exclude_padding) {
  assert_valid(s);
  const size_t in_plane = size_t(s.in_height) * s.in_width;
  const size_t out_plane = size_t(s.out_height) * s.out_width;
  const size_t planes = size_t(s.batch) * s.channels;
  const WindowRanges windows(s);
  for (size_t plane = 0; plane < planes; ++plane) {
    float* dimage = dinput + plane * in_plane;           // (IH, IW)
    const float* dout_plane = dout + plane * out_plane;  // (OH, OW)
    for (int oh = 0; oh < s.out_height; ++oh) {
      for (int ow = 0; ow < s.out_width; ++ow) {
        const Window w = windows.at(oh, ow);
        if (w.count() == 0) continue;
        const float share =
            dout_plane[oh * s.out_width + ow] / average_divisor(s, w, exclude_padding);
        for (int ih = w.h_begin; ih < w.h_end; ++ih)
          for (int iw = w.w_begin; iw < w.w_end; ++iw) dimage[ih * s.in_width + iw] += share;
      }
    }
  }
}

void l2pool2d_forward(float* out, const float* in, const Pool2dShape& s) {
  assert_valid(s);
  const size_t in_plane = size_t(s.in_height) * s.in_width;
  const size_t out_plane = size_t(s.out_height) * s.out_width;
  const size_t planes = size_t(s.batch) * s.channels;
  const WindowRanges windows(s);
  for (size_t plane = 0; plane < planes; ++plane) {
    const float* image = in + plane * in_plane;  // (IH, IW)
    float* pooled = out + plane * out_plane;     // (OH, OW)
    for (int oh = 0; oh < s.out_height; ++oh) {
      for (int ow = 0; ow < s.out_width; ++ow) {
        const Window w = windows.at(oh, ow);
        float sum = 0.0f;
        for (int ih = w.h_begin; ih < w.h_end; ++ih)
          for (int iw = w.w_begin; iw < w.w_end; ++iw) {
            const float v = image[ih * s.in_width + iw];
            sum += v * v;
          }
        pooled[oh * s.out_width + ow] = std::sqrt(sum);
      }
    }
  }
}

void l2pool2d_backward(float* dinput, const float* dout, const float* in, const float* out,
                       const Pool2dShape& s) {
  assert_valid(s);
  const size_t in_plane = size_t(s.in_height) * s.in_width;
  const size_t out_plane = size_t(s.out_height) * s.out_width;
  const size_t planes = size_t(s.batch) * s.channels;
  const WindowRanges windows(s);
  for (size_t plane = 0; plane < planes; ++plane) {
    const float* image = in + plane * in_plane;  // (IH, IW)
    float* dimage = dinput + plane * in_plane;
    for (int oh = 0; oh < s.out_height; ++oh) {
      for (int ow = 0; ow < s.out_width; ++ow) {
        const size_t o = plane * out_plane + size_t(oh) * s.out_width + size_t(ow);
        if (out[o] <= 0.0f) continue;  // d sqrt(Σx²) / dx = x / sqrt(Σx²); none at 0
        const float scale = dout[o] / out[o];
        const Window w = windows.at(oh, ow);
        for (int ih = w.h_begin; ih < w.h_end; ++ih)
          for (int iw = w.w_begin; iw < w.w_end; ++iw) {
            dimage[ih * s.in_width + iw] += scale * image[ih * s.in_width + iw];
          }
      }
    }
  }
}

}  // namespace edgetrain::ops
