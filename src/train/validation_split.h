// The validation split (TrainingOptions::validation_split): which samples are held out, drawn from
// the run's seed, and a view of the data that holds only them.
#pragma once

#include <cstdint>
#include <vector>

#include "edgetrain/data.h"

namespace edgetrain {

struct ValidationSplit {
  std::vector<uint64_t> training;    // ascending
  std::vector<uint64_t> validation;  // ascending; round(samples · fraction) of them
};
// A seeded permutation's first round(samples · fraction) indices are held out. fraction 0: every
// sample trains. Throws Error when a non-zero split would hold out none or all of the samples.
ValidationSplit split_for_validation(size_t samples, double fraction, uint64_t seed);
// round(samples · fraction), the count split_for_validation holds out; throws Error (as it does)
// when a non-zero fraction holds out none or all.
size_t validation_count(size_t samples, double fraction);

// Samples `indices` of `data`, in that order, as a data set of their own.
class SubsetView : public BatchProvider {
 public:
  SubsetView(const BatchProvider& data, const std::vector<uint64_t>& indices)
      : data_(data), indices_(indices) {}
  size_t count() const override { return indices_.size(); }
  size_t feature_size() const override { return data_.feature_size(); }
  void copy_features(size_t index, float* dst) const override {
    data_.copy_features(size_t(indices_[index]), dst);
  }
  int32_t label(size_t index) const override { return data_.label(size_t(indices_[index])); }
  void copy_target(size_t index, float* dst, size_t size) const override {
    data_.copy_target(size_t(indices_[index]), dst, size);
  }

 private:
  const BatchProvider& data_;
  const std::vector<uint64_t>& indices_;
};

}  // namespace edgetrain
