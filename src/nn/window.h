// Sliding windows (convolution, pooling): output sizes and leading padding as Core ML computes them
// for valid padding (with or without amounts), same padding (either asymmetry mode) and pooling's
// includeLastPixel. Bottom and right padding follow from the output size: kernels treat every
// position outside the input as padding.
#pragma once

#include <array>

#include "edgetrain/layers.h"

namespace edgetrain {

struct Window {
  std::array<int, 2> kernel{1, 1}, stride{1, 1}, dilation{1, 1};
  Padding padding = Padding::kValid;
  SamePaddingMode same_mode = SamePaddingMode::kBottomRightHeavy;
  std::array<int, 4> amounts{0, 0, 0, 0};  // valid: (top, bottom, left, right)
  bool include_last_pixel = false;          // pooling: amounts (top, _, left, _) on both sides
};

struct WindowGeometry {
  int out_height = 0, out_width = 0;  // 0 or less: the input is smaller than the window
  int pad_top = 0, pad_left = 0;
};

WindowGeometry window_geometry(const Window& window, int in_height, int in_width);

Window convolution_window(const Convolution& conv);
Window pooling_window(const Pooling& pool, int in_height, int in_width);  // global: the plane

}  // namespace edgetrain
