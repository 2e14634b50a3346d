// Dataset: the in-memory BatchProvider the readers return.
#include <algorithm>
#include <cassert>

#include "edgetrain/data.h"

namespace edgetrain {

void Dataset::copy_features(size_t index, float* dst) const {
  assert(index < count());
  const size_t size = feature_size(), first = index * size;
  if (pixel_bytes.empty()) {
    std::copy_n(pixels.data() + first, size, dst);
    return;
  }
  const uint8_t* bytes = pixel_bytes.data() + first;
  // The same rounding as a float built as value / 255, so both storages give identical features.
  for (size_t i = 0; i < size; ++i) dst[i] = float(bytes[i]) / 255.0f;
}

std::vector<float> Dataset::image(size_t index) const {
  std::vector<float> features(feature_size());
  copy_features(index, features.data());
  return features;
}

void Dataset::truncate(size_t n) {
  if (n >= count()) return;
  labels.resize(n);
  labels.shrink_to_fit();
  if (pixel_bytes.empty()) {
    pixels.resize(n * feature_size());
    pixels.shrink_to_fit();
  } else {
    pixel_bytes.resize(n * feature_size());
    pixel_bytes.shrink_to_fit();
  }
}

}  // namespace edgetrain
