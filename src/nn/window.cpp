#include "nn/window.h"

#include <algorithm>

namespace edgetrain {
namespace {

struct Axis {
  int out = 0, pad_before = 0;
};

Axis axis(int in, int kernel, int stride, int dilation, const Window& w, int pad_before,
          int pad_after) {
  const int extent = (kernel - 1) * dilation + 1;
  Axis a;
  if (w.padding == Padding::kSame) {
    a.out = (in + stride - 1) / stride;
    const int total = std::max(0, (a.out - 1) * stride + extent - in);
    // Bottom/right heavy puts the odd pixel after the input, top/left heavy before it.
    a.pad_before = w.same_mode == SamePaddingMode::kBottomRightHeavy ? total / 2 : total - total / 2;
    return a;
  }
  if (w.include_last_pixel) {
    // Core ML's ValidCompletePadding: the last window always covers the last pixel.
    const int padded = in + 2 * pad_before - extent;
    if (padded < 0) return a;
    a.out = (padded + stride - 1) / stride + 1;
    if (pad_before > 0 && (a.out - 1) * stride >= in + pad_before) --a.out;
    a.pad_before = pad_before;
    return a;
  }
  const int padded = in + pad_before + pad_after - extent;
  a.out = padded < 0 ? 0 : padded / stride + 1;
  a.pad_before = pad_before;
  return a;
}

}  // namespace

WindowGeometry window_geometry(const Window& w, int in_height, int in_width) {
  const Axis h = axis(in_height, w.kernel[0], w.stride[0], w.dilation[0], w, w.amounts[0],
                      w.amounts[1]);
  const Axis x = axis(in_width, w.kernel[1], w.stride[1], w.dilation[1], w, w.amounts[2],
                      w.amounts[3]);
  return {h.out, x.out, h.pad_before, x.pad_before};
}

Window convolution_window(const Convolution& conv) {
  return {conv.kernel_size, conv.stride, conv.dilation, conv.padding, conv.same_mode,
          conv.padding_amounts, false};
}

Window pooling_window(const Pooling& pool, int in_height, int in_width) {
  if (pool.global) return {{in_height, in_width}, {1, 1}, {1, 1}, Padding::kValid};
  return {pool.kernel_size, pool.stride,         {1, 1}, pool.padding, pool.same_mode,
          pool.padding_amounts, pool.include_last_pixel};
}

}  // namespace edgetrain
