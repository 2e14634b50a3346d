// MNIST-style digit preprocessing: crop, scale into 20x20 by area averaging, centre by mass in
// 28x28.
#include <algorithm>
#include <cmath>

#include "edgetrain/error.h"
#include "edgetrain/image.h"

namespace edgetrain {
namespace {

// The part of the bounding box MNIST gives the digit: 20 of 28 pixels.
constexpr double kBoxShare = 20.0 / 28.0;
// Pixels dimmer than this share of the brightest ink do not widen the bounding box (a photo's
// paper grain). Low, so that MNIST's own digits keep their 20-pixel boxes: 277 of the first 300
// test digits come out of mnist_style_digit as they went in (tests/data/test_digit_image.cpp).
constexpr float kInkThreshold = 0.05f;

struct Box {
  int left = 0, top = 0, width = 0, height = 0;
};

// One output pixel of an axis resampled from `source` to `target` pixels: the source pixels it
// covers and how much of each (the shares add up to 1).
struct Tap {
  int source = 0;
  float share = 0;
};
std::vector<std::vector<Tap>> area_taps(int source, int target) {
  std::vector<std::vector<Tap>> taps(static_cast<size_t>(target));
  const double step = double(source) / target;  // source pixels per target pixel
  for (int t = 0; t < target; ++t) {
    const double begin = t * step, end = (t + 1) * step;
    for (int s = int(std::floor(begin)); s < source && s < end; ++s) {
      const double covered = std::min(end, s + 1.0) - std::max(begin, double(s));
      if (covered > 0) taps[size_t(t)].push_back({s, float(covered / step)});
    }
  }
  return taps;
}

// The ink as values in [0, 1], bright: inverted when the border is mostly bright.
std::vector<float> ink_of(const GrayImage& image) {
  const int w = image.width, h = image.height;
  double border = 0;
  size_t border_pixels = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      if (y == 0 || y == h - 1 || x == 0 || x == w - 1) {
        border += std::clamp(image.pixels[size_t(y) * w + x], 0.0f, 1.0f);
        ++border_pixels;
      }
    }
  }
  const bool invert = border > 0.5 * double(border_pixels);
  std::vector<float> ink(image.pixels.size());
  for (size_t i = 0; i < ink.size(); ++i) {
    const float value = std::clamp(image.pixels[i], 0.0f, 1.0f);
    ink[i] = invert ? 1.0f - value : value;
  }
  return ink;
}

Box bounding_box(const std::vector<float>& ink, int width, int height) {
  const float brightest = *std::max_element(ink.begin(), ink.end());
  Box box;
  if (brightest <= 0) return box;
  int left = width, right = -1, top = height, bottom = -1;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      if (ink[size_t(y) * width + x] < kInkThreshold * brightest) continue;
      left = std::min(left, x), right = std::max(right, x);
      top = std::min(top, y), bottom = std::max(bottom, y);
    }
  }
  return {left, top, right - left + 1, bottom - top + 1};
}

}  // namespace

GrayImage mnist_style_digit(const GrayImage& drawing, int field_size) {
  const int w = drawing.width, h = drawing.height;
  if (w <= 0 || h <= 0 || drawing.pixels.size() != size_t(w) * size_t(h)) {
    throw Error("a digit image must have pixels: got " + std::to_string(w) + "x" +
                std::to_string(h) + " holding " + std::to_string(drawing.pixels.size()) +
                " values");
  }
  if (field_size < 2 || field_size > 4096) {
    throw Error("digit field size " + std::to_string(field_size) + " is outside 2..4096");
  }
  for (float value : drawing.pixels) {
    if (!std::isfinite(value)) throw Error("a digit image holds a value that is not a number");
  }
  GrayImage field{field_size, field_size, std::vector<float>(size_t(field_size) * field_size)};
  const std::vector<float> ink = ink_of(drawing);
  const Box box = bounding_box(ink, w, h);
  if (box.width == 0) return field;

  // Scale the longer side to the box, the other by the same factor (at least one pixel).
  const int box_size = std::max(1, int(std::lround(kBoxShare * field_size)));
  const double scale = double(box_size) / std::max(box.width, box.height);
  const int scaled_w = std::clamp(int(std::lround(box.width * scale)), 1, box_size);
  const int scaled_h = std::clamp(int(std::lround(box.height * scale)), 1, box_size);
  const auto taps_x = area_taps(box.width, scaled_w), taps_y = area_taps(box.height, scaled_h);
  // Rows first: (box.height, scaled_w), then columns: (scaled_h, scaled_w).
  std::vector<float> rows(size_t(box.height) * scaled_w, 0.0f);
  for (int y = 0; y < box.height; ++y) {
    const float* source = ink.data() + size_t(box.top + y) * w + box.left;
    for (int x = 0; x < scaled_w; ++x) {
      float sum = 0;
      for (const Tap& tap : taps_x[size_t(x)]) sum += tap.share * source[tap.source];
      rows[size_t(y) * scaled_w + x] = sum;
    }
  }
  std::vector<float> scaled(size_t(scaled_h) * scaled_w, 0.0f);
  double mass = 0, mass_x = 0, mass_y = 0;
  for (int y = 0; y < scaled_h; ++y) {
    for (int x = 0; x < scaled_w; ++x) {
      float sum = 0;
      for (const Tap& tap : taps_y[size_t(y)])
        sum += tap.share * rows[size_t(tap.source) * scaled_w + x];
      sum = std::min(sum, 1.0f);  // rounding of the shares
      scaled[size_t(y) * scaled_w + x] = sum;
      mass += sum, mass_x += sum * (x + 0.5), mass_y += sum * (y + 0.5);
    }
  }
  // Centre of mass to the middle of pixel field/2 (MNIST's: its test digits' centres of mass
  // average 14.5 in both axes, spread as whole-pixel moves leave them), the box kept in the field.
  const double centre = field_size / 2 + 0.5;
  const int left = std::clamp(int(std::lround(centre - mass_x / mass)), 0, field_size - scaled_w);
  const int top = std::clamp(int(std::lround(centre - mass_y / mass)), 0, field_size - scaled_h);
  for (int y = 0; y < scaled_h; ++y) {
    std::copy_n(scaled.data() + size_t(y) * scaled_w, scaled_w,
                field.pixels.data() + size_t(top + y) * field_size + left);
  }
  return field;
}

}  // namespace edgetrain
