// What every image Dataset a reader accepts must satisfy (fuzz_idx, fuzz_csv): one pixel storage
// (bytes, packed bytes or floats) holding exactly count x feature_size values, every feature in
// [0, 1].
#pragma once

#include <vector>

#include "edgetrain/data.h"
#include "fuzz_util.h"

namespace edgetrain::fuzz {

inline void check_dataset(const Dataset& dataset) {
  const SampleShape& shape = dataset.shape();
  FUZZ_CHECK(shape.channels >= 1 && shape.height >= 1 && shape.width >= 1);
  FUZZ_CHECK(dataset.count() >= 1);
  const size_t values = dataset.count() * dataset.feature_size();
  const int storages = !dataset.features().empty() + !dataset.pixel_bytes().empty() +
                       !dataset.packed_offsets().empty();
  FUZZ_CHECK(storages == 1);
  if (!dataset.packed_offsets().empty()) {
    FUZZ_CHECK(dataset.packed_offsets().size() == dataset.count() + 1);
    FUZZ_CHECK(dataset.packed_offsets().back() == dataset.packed_pixels().size());
  } else {
    FUZZ_CHECK((dataset.pixel_bytes().empty() ? dataset.features().size()
                                              : dataset.pixel_bytes().size()) == values);
  }
  std::vector<float> features(dataset.feature_size());
  for (size_t i = 0; i < dataset.count(); ++i) {
    dataset.copy_features(i, features.data());
    for (size_t j = 0; j < features.size(); ++j) {
      FUZZ_CHECK(features[j] >= 0.0f && features[j] <= 1.0f);
      FUZZ_CHECK(features[j] == dataset.pixel(i * features.size() + j));
    }
  }
}

}  // namespace edgetrain::fuzz
