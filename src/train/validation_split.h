// The validation split (TrainingOptions::validation_split): which samples are held out, drawn from
// the run's seed. SampleView (edgetrain/data.h) makes either part a data set of its own.
#pragma once

#include <cstdint>
#include <vector>

#include "edgetrain/data.h"

namespace edgetrain {

struct ValidationSplit {
  std::vector<uint64_t> training;  // ascending
  // Ascending; round(samples · fraction) of them. size_t, as SampleView takes its indices.
  std::vector<size_t> validation;
};
// A seeded permutation's first round(samples · fraction) indices are held out. fraction 0: every
// sample trains. Throws Error when a non-zero split would hold out none or all of the samples.
ValidationSplit split_for_validation(size_t samples, double fraction, uint64_t seed);
// round(samples · fraction), the count split_for_validation holds out; throws Error (as it does)
// when a non-zero fraction holds out none or all.
size_t validation_count(size_t samples, double fraction);

}  // namespace edgetrain
