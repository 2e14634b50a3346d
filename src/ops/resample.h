// Resampling of the (H, W) plane by separable taps: each output row (and column) reads two input
// rows (columns) and blends them, out = (1 − w) · in[lower] + w · in[upper]; nearest neighbour is
// the same with w = 0. Forward keeps nothing; backward spreads each output's gradient back over
// the four inputs it read, ADDING into dinput.
#pragma once

#include <cstdint>
#include <vector>

namespace edgetrain::ops {

// Per output index along one axis.
struct Taps {
  std::vector<int> lower, upper;
  std::vector<float> weight;  // of `upper`
  int size() const { return int(lower.size()); }
};

// Nearest neighbour by a whole factor: output o reads input o / factor.
Taps nearest_taps(int in, int factor);

// Core ML's bilinear grids (UpsampleLayerParams.LinearUpsampleMode) from `in` to `out` values:
// kDefault: spacing (in − in / out) / (out − 1); kAlignCorners: (in − 1) / (out − 1); kHalfPixel
// (ALIGN_CORNERS_FALSE): in / out, shifted by half a pixel. Grid points are clamped to [0, in − 1].
enum class Grid { kDefault, kAlignCorners, kHalfPixel };
Taps bilinear_taps(int in, int out, Grid grid);

// out (rows, height.size(), width.size()) from in (rows, in_height, in_width).
void resample_forward(float* out, const float* in, int64_t rows, int in_height, int in_width,
                      const Taps& height, const Taps& width);
void resample_backward(float* dinput, const float* dout, int64_t rows, int in_height, int in_width,
                       const Taps& height, const Taps& width);

}  // namespace edgetrain::ops
