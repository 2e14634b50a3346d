// resize_image: scale-to-fill with the triangle (bilinear) filter, separable: rows first into a
// float buffer (H_in, W_out, C), then columns into (H_out, W_out, C), rounded to bytes once.
//
// Output pixel i of an axis of `in` -> `out` pixels has its centre at (i + 0.5) * scale in source
// coordinates (scale = in / out). Source pixel j (centre j + 0.5) weighs
// triangle((j + 0.5 - centre) / width), width = max(scale, 1), triangle(t) = max(0, 1 - |t|); the
// weights are normalised to sum 1. Enlarging (width 1) this is bilinear interpolation between the
// two nearest centres (edges clamped); shrinking, every source pixel under the widened filter
// counts, so thin lines do not vanish (Pillow's BILINEAR resize follows the same definition).
#include <algorithm>
#include <cmath>

#include "edgetrain/error.h"
#include "edgetrain/image.h"

namespace edgetrain {
namespace {

struct Taps {
  std::vector<int> first;       // (out): first source pixel
  std::vector<int> count;       // (out): source pixels used
  std::vector<double> weights;  // (out, max_count)
  int max_count = 0;
};

Taps taps(int in, int out) {
  const double scale = double(in) / out;
  const double width = std::max(scale, 1.0);
  Taps t;
  t.max_count = int(std::ceil(width)) * 2 + 1;
  t.first.resize(size_t(out));
  t.count.resize(size_t(out));
  t.weights.assign(size_t(out) * size_t(t.max_count), 0.0);
  for (int i = 0; i < out; ++i) {
    const double centre = (i + 0.5) * scale;
    const int lo = std::max(0, int(std::floor(centre - width)));
    const int hi = std::min(in, int(std::ceil(centre + width)) + 1);
    double* w = t.weights.data() + size_t(i) * size_t(t.max_count);
    double sum = 0;
    int first = -1, last = -1;
    for (int j = lo; j < hi; ++j) {
      const double weight = std::max(0.0, 1.0 - std::fabs((j + 0.5 - centre) / width));
      if (weight <= 0) continue;
      if (first < 0) first = j;
      last = j;
      w[j - first] = weight;
      sum += weight;
    }
    t.first[size_t(i)] = first;
    t.count[size_t(i)] = last - first + 1;
    for (int k = 0; k < t.count[size_t(i)]; ++k) w[k] /= sum;
  }
  return t;
}

}  // namespace

ImagePixels resize_image(const ImagePixels& image, int width, int height) {
  const int channels = image.channels;
  if (image.width < 1 || image.height < 1 || channels < 1 ||
      image.bytes.size() != size_t(image.width) * size_t(image.height) * size_t(channels)) {
    throw Error("resize_image: the image is " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + "x" + std::to_string(channels) + " but holds " +
                std::to_string(image.bytes.size()) + " bytes");
  }
  if (width < 1 || height < 1 || size_t(width) * size_t(height) > kMaxImagePixels) {
    throw Error("resize_image: cannot resize to " + std::to_string(width) + "x" +
                std::to_string(height));
  }
  if (width == image.width && height == image.height) return image;
  const Taps across = taps(image.width, width), down = taps(image.height, height);
  const size_t c = size_t(channels);
  // Rows: (H_in, W_in, C) bytes -> (H_in, W_out, C) doubles.
  std::vector<double> rows(size_t(image.height) * size_t(width) * c);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* src = image.bytes.data() + size_t(y) * size_t(image.width) * c;
    double* dst = rows.data() + size_t(y) * size_t(width) * c;
    for (int x = 0; x < width; ++x) {
      const double* w = across.weights.data() + size_t(x) * size_t(across.max_count);
      for (size_t k = 0; k < c; ++k) {
        double sum = 0;
        for (int j = 0; j < across.count[size_t(x)]; ++j) {
          sum += w[j] * src[size_t(across.first[size_t(x)] + j) * c + k];
        }
        dst[size_t(x) * c + k] = sum;
      }
    }
  }
  // Columns: (H_in, W_out, C) -> (H_out, W_out, C) bytes.
  ImagePixels result{width, height, channels,
                     std::vector<uint8_t>(size_t(height) * size_t(width) * c)};
  const size_t row_values = size_t(width) * c;
  for (int y = 0; y < height; ++y) {
    const double* w = down.weights.data() + size_t(y) * size_t(down.max_count);
    uint8_t* dst = result.bytes.data() + size_t(y) * row_values;
    for (size_t v = 0; v < row_values; ++v) {
      double sum = 0;
      for (int j = 0; j < down.count[size_t(y)]; ++j) {
        sum += w[j] * rows[size_t(down.first[size_t(y)] + j) * row_values + v];
      }
      dst[v] = uint8_t(std::clamp(std::lround(sum), 0L, 255L));
    }
  }
  return result;
}

}  // namespace edgetrain
