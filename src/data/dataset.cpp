// Dataset: the in-memory BatchProvider the readers return.
#include <algorithm>
#include <cassert>

#include "data/packed_pixels.h"
#include "edgetrain/data.h"

namespace edgetrain {

namespace {

// The same rounding as a float built as value / 255, so every storage gives identical features.
float to_feature(uint8_t value) { return float(value) / 255.0f; }

}  // namespace

void Dataset::copy_features(size_t index, float* dst) const {
  assert(index < count());
  const size_t size = feature_size(), first = index * size;
  if (!pixel_bytes.empty()) {
    std::transform(pixel_bytes.data() + first, pixel_bytes.data() + first + size, dst, to_feature);
  } else if (!packed_offsets.empty()) {
    const uint64_t begin = packed_offsets[index], end = packed_offsets[index + 1];
    data::unpack_image(packed_pixels.data() + begin, end - begin, size, dst, to_feature);
  } else {
    std::copy_n(pixels.data() + first, size, dst);
  }
}

std::vector<float> Dataset::image(size_t index) const {
  std::vector<float> features(feature_size());
  copy_features(index, features.data());
  return features;
}

float Dataset::pixel(size_t flat_index) const {
  if (!pixel_bytes.empty()) return to_feature(pixel_bytes[flat_index]);
  if (packed_offsets.empty()) return pixels[flat_index];
  const size_t size = feature_size();
  return image(flat_index / size)[flat_index % size];
}

void Dataset::truncate(size_t n) {
  if (n >= count()) return;
  labels.resize(n);
  labels.shrink_to_fit();
  if (!pixel_bytes.empty()) {
    pixel_bytes.resize(n * feature_size());
    pixel_bytes.shrink_to_fit();
  } else if (!packed_offsets.empty()) {
    packed_offsets.resize(n + 1);
    packed_offsets.shrink_to_fit();
    packed_pixels.resize(packed_offsets.back());
    packed_pixels.shrink_to_fit();
  } else {
    pixels.resize(n * feature_size());
    pixels.shrink_to_fit();
  }
}

}  // namespace edgetrain
