// Dataset: the in-memory BatchProvider the readers return.
#include <algorithm>
#include <cassert>

#include "edgetrain/data.h"

namespace edgetrain {

void Dataset::copy_features(size_t index, float* dst) const {
  assert(index < count());
  const float* src = image(index);
  std::copy(src, src + feature_size(), dst);
}

void Dataset::truncate(size_t n) {
  if (n >= count()) return;
  labels.resize(n);
  labels.shrink_to_fit();
  pixels.resize(n * feature_size());
  pixels.shrink_to_fit();
}

}  // namespace edgetrain
