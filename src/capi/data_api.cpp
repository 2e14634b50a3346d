// The C API's data sets: samples copied from the caller's arrays (class labels or real-valued
// targets), or read from IDX and CSV files by the library's readers.
#include <algorithm>
#include <cstring>

#include "capi/capi_internal.h"

namespace edgetrain::capi {
namespace {

// Samples held as copies of the caller's arrays: features (N, feature_size) and either labels (N)
// or targets (N, target_size).
class ArrayData final : public BatchProvider {
 public:
  ArrayData(std::vector<float> features, size_t feature_size, std::vector<int32_t> labels,
            std::vector<float> targets, size_t target_size)
      : features_(std::move(features)),
        feature_size_(feature_size),
        labels_(std::move(labels)),
        targets_(std::move(targets)),
        target_size_(target_size) {}

  size_t count() const override { return features_.size() / feature_size_; }
  size_t feature_size() const override { return feature_size_; }
  void copy_features(size_t index, float* dst) const override {
    std::copy_n(features_.data() + index * feature_size_, feature_size_, dst);
  }
  // Targeted samples have no class: 0 keeps a scorer's per-class tables in bounds.
  int32_t label(size_t index) const override { return labels_.empty() ? 0 : labels_[index]; }
  void copy_target(size_t index, float* dst, size_t size) const override {
    if (targets_.empty()) return BatchProvider::copy_target(index, dst, size);
    if (size != target_size_) {
      throw Error("the data's targets have " + std::to_string(target_size_) +
                  " values per sample but the model's loss reads " + std::to_string(size));
    }
    std::copy_n(targets_.data() + index * target_size_, target_size_, dst);
  }

 private:
  std::vector<float> features_;
  size_t feature_size_;
  std::vector<int32_t> labels_;
  std::vector<float> targets_;
  size_t target_size_;
};

std::vector<float> copy_floats(const float* values, size_t count, size_t size, const char* what) {
  require(values, what);
  const size_t total = checked_product(count, size, what);
  return std::vector<float>(values, values + total);
}

void check_sizes(size_t count, size_t feature_size) {
  if (count == 0) throw InvalidArgument("count is 0: a data set needs at least one sample");
  if (feature_size == 0) throw InvalidArgument("feature_size is 0");
  checked_product(count, feature_size, "count * feature_size");
}

edgetrain_data* new_data(std::unique_ptr<BatchProvider> samples) {
  auto handle = std::make_unique<edgetrain_data>();
  handle->samples = std::move(samples);
  return handle.release();
}

}  // namespace
}  // namespace edgetrain::capi

using edgetrain::capi::guarded;
using edgetrain::capi::InvalidArgument;
using edgetrain::capi::require;

extern "C" {

edgetrain_status edgetrain_data_from_labels(const float* features, const int32_t* labels,
                                            size_t count, size_t feature_size,
                                            edgetrain_data** data) {
  return guarded([&] {
    require(data, "data");
    require(labels, "labels");
    edgetrain::capi::check_sizes(count, feature_size);
    auto samples = std::make_unique<edgetrain::capi::ArrayData>(
        edgetrain::capi::copy_floats(features, count, feature_size, "features"), feature_size,
        std::vector<int32_t>(labels, labels + count), std::vector<float>(), 0);
    *data = edgetrain::capi::new_data(std::move(samples));
  });
}

edgetrain_status edgetrain_data_from_targets(const float* features, const float* targets,
                                             size_t count, size_t feature_size, size_t target_size,
                                             edgetrain_data** data) {
  return guarded([&] {
    require(data, "data");
    edgetrain::capi::check_sizes(count, feature_size);
    if (target_size == 0) throw InvalidArgument("target_size is 0");
    auto samples = std::make_unique<edgetrain::capi::ArrayData>(
        edgetrain::capi::copy_floats(features, count, feature_size, "features"), feature_size,
        std::vector<int32_t>(),
        edgetrain::capi::copy_floats(targets, count, target_size, "targets"), target_size);
    *data = edgetrain::capi::new_data(std::move(samples));
  });
}

edgetrain_status edgetrain_data_read_idx(const char* folder, const char* split,
                                         edgetrain_data** data) {
  return guarded([&] {
    require(folder, "folder");
    require(split, "split");
    require(data, "data");
    auto samples = std::make_unique<edgetrain::Dataset>(edgetrain::read_idx_folder(folder, split));
    *data = edgetrain::capi::new_data(std::move(samples));
  });
}

edgetrain_status edgetrain_data_read_csv(const char* path, int height, int width, int num_classes,
                                         edgetrain_data** data) {
  return guarded([&] {
    require(path, "path");
    require(data, "data");
    if (height < 1 || width < 1 || num_classes < 1) {
      throw InvalidArgument("height, width and num_classes must be at least 1, got " +
                            std::to_string(height) + ", " + std::to_string(width) + ", " +
                            std::to_string(num_classes));
    }
    auto samples =
        std::make_unique<edgetrain::Dataset>(edgetrain::read_csv(path, height, width, num_classes));
    *data = edgetrain::capi::new_data(std::move(samples));
  });
}

edgetrain_status edgetrain_data_count(const edgetrain_data* data, size_t* count) {
  return guarded([&] {
    require(data, "data");
    require(count, "count");
    *count = data->samples->count();
  });
}

edgetrain_status edgetrain_data_feature_size(const edgetrain_data* data, size_t* size) {
  return guarded([&] {
    require(data, "data");
    require(size, "size");
    *size = data->samples->feature_size();
  });
}

void edgetrain_data_free(edgetrain_data* data) {
  delete data;
}

}  // extern "C"
