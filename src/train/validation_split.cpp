#include "train/validation_split.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "base/rng.h"
#include "edgetrain/error.h"
#include "nn/shapes.h"

namespace edgetrain {

size_t validation_count(size_t samples, double fraction) {
  const size_t held_out = size_t(std::llround(double(samples) * fraction));
  if (fraction > 0 && (held_out == 0 || held_out >= samples)) {
    throw Error("a validation split of " + number_text(fraction) + " of " +
                std::to_string(samples) + " samples holds out " + std::to_string(held_out) +
                (held_out == 0 ? "; use a larger split or more data"
                               : ", leaving none to train on; use a smaller split"));
  }
  return held_out;
}

ValidationSplit split_for_validation(size_t samples, double fraction, uint64_t seed) {
  ValidationSplit split;
  const size_t held_out = validation_count(samples, fraction);
  std::vector<uint64_t> order(samples);
  std::iota(order.begin(), order.end(), uint64_t(0));
  if (held_out > 0) {
    // A stream of its own, so the split does not move the shuffling's draws.
    Rng rng(Rng(seed ^ 0x0DDBA11C0FFEE5EDull).next());
    shuffle(order, rng);
  }
  split.validation.assign(order.begin(), order.begin() + std::ptrdiff_t(held_out));
  split.training.assign(order.begin() + std::ptrdiff_t(held_out), order.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.training.begin(), split.training.end());
  return split;
}

}  // namespace edgetrain
