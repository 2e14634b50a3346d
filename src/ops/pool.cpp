// 2-D max and average pooling, forward and backward.
//
// Max pooling keeps `argmax` (N, C, OH, OW) from forward: the flat index ih*IW + iw of each window's
// maximum in its (IH, IW) plane, or -1 when the window lies entirely in the padding (its output is
// 0 and backward skips it). Ties go to the first position in row-major window order. Average
// pooling keeps nothing: its backward spreads each output gradient evenly over the window.
#include <algorithm>
#include <cassert>
#include <cstddef>
#include <vector>

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

}  // namespace

void maxpool2d_forward(float* out, int32_t* argmax, const float* in, const Pool2dShape& s) {
  assert_valid(s);
  const size_t in_plane = size_t(s.in_height) * s.in_width;
  const size_t out_plane = size_t(s.out_height) * s.out_width;
  const size_t planes = size_t(s.batch) * s.channels;
  const WindowRanges windows(s);
  for (size_t plane = 0; plane < planes; ++plane) {
    const float* image = in + plane * in_plane;  // (IH, IW)
    float* out_plane_ptr = out + plane * out_plane;  // (OH, OW)
    int32_t* arg_plane = argmax + plane * out_plane;
    for (int oh = 0; oh < s.out_height; ++oh) {
      for (int ow = 0; ow < s.out_width; ++ow) {
        const Window w = windows.at(oh, ow);
        int32_t best_at = -1;
        float best = 0.0f;  // the output of an all-padding window
        if (w.count() > 0) {
          best_at = w.h_begin * s.in_width + w.w_begin;
          best = image[best_at];
          // Branch-free select: on real activations the winner is unpredictable.
          for (int ih = w.h_begin; ih < w.h_end; ++ih) {
            for (int iw = w.w_begin; iw < w.w_end; ++iw) {
              const int32_t at = ih * s.in_width + iw;
              const bool better = image[at] > best;
              best = better ? image[at] : best;
              best_at = better ? at : best_at;
            }
          }
        }
        out_plane_ptr[oh * s.out_width + ow] = best;
        arg_plane[oh * s.out_width + ow] = best_at;
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
  const WindowRanges windows(s);
  for (size_t plane = 0; plane < planes; ++plane) {
    float* dimage = dinput + plane * in_plane;  // (IH, IW)
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
    const float* image = in + plane * in_plane;  // (IH, IW)
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
    float* dimage = dinput + plane * in_plane;  // (IH, IW)
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

}  // namespace edgetrain::ops
