// Separable two-tap resampling (resample.h): the taps per axis are computed once, in double, when
// the op is made; forward and backward walk them.
#include "ops/resample.h"

#include <algorithm>
#include <cmath>

namespace edgetrain::ops {

Taps nearest_taps(int in, int factor) {
  Taps taps;
  for (int o = 0; o < in * factor; ++o) {
    taps.lower.push_back(o / factor);
    taps.upper.push_back(o / factor);
    taps.weight.push_back(0.0f);
  }
  return taps;
}

Taps bilinear_taps(int in, int out, Grid grid) {
  double spacing = 0.0;  // one output value: the first input's
  if (grid == Grid::kHalfPixel) {
    spacing = double(in) / out;
  } else if (out > 1) {
    spacing =
        grid == Grid::kDefault ? (in - double(in) / out) / (out - 1) : double(in - 1) / (out - 1);
  }
  const double shift = grid == Grid::kHalfPixel ? 0.5 * spacing - 0.5 : 0.0;
  Taps taps;
  for (int o = 0; o < out; ++o) {
    const double point = std::clamp(o * spacing + shift, 0.0, double(in - 1));
    const int lower = std::min(int(point), in - 1);
    taps.lower.push_back(lower);
    taps.upper.push_back(std::min(lower + 1, in - 1));
    taps.weight.push_back(float(point - lower));
  }
  return taps;
}

void resample_forward(float* out, const float* in, int64_t rows, int in_height, int in_width,
                      const Taps& height, const Taps& width) {
  const int out_height = height.size(), out_width = width.size();
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * in_height * in_width;
    float* y = out + r * out_height * out_width;
    for (int oh = 0; oh < out_height; ++oh) {
      const float* top = x + height.lower[size_t(oh)] * in_width;
      const float* bottom = x + height.upper[size_t(oh)] * in_width;
      const float wh = height.weight[size_t(oh)];
      for (int ow = 0; ow < out_width; ++ow) {
        const int left = width.lower[size_t(ow)], right = width.upper[size_t(ow)];
        const float ww = width.weight[size_t(ow)];
        const float upper_row = (1.0f - ww) * top[left] + ww * top[right];
        const float lower_row = (1.0f - ww) * bottom[left] + ww * bottom[right];
        y[oh * out_width + ow] = (1.0f - wh) * upper_row + wh * lower_row;
      }
    }
  }
}

void resample_backward(float* dinput, const float* dout, int64_t rows, int in_height, int in_width,
                       const Taps& height, const Taps& width) {
  if (!dinput) return;
  const int out_height = height.size(), out_width = width.size();
  for (int64_t r = 0; r < rows; ++r) {
    float* dx = dinput + r * in_height * in_width;
    const float* dy = dout + r * out_height * out_width;
    for (int oh = 0; oh < out_height; ++oh) {
      float* top = dx + height.lower[size_t(oh)] * in_width;
      float* bottom = dx + height.upper[size_t(oh)] * in_width;
      const float wh = height.weight[size_t(oh)];
      for (int ow = 0; ow < out_width; ++ow) {
        const int left = width.lower[size_t(ow)], right = width.upper[size_t(ow)];
        const float ww = width.weight[size_t(ow)];
        const float g = dy[oh * out_width + ow];
        top[left] += (1.0f - wh) * (1.0f - ww) * g;
        top[right] += (1.0f - wh) * ww * g;
        bottom[left] += wh * (1.0f - ww) * g;
        bottom[right] += wh * ww * g;
      }
    }
  }
}

}  // namespace edgetrain::ops
