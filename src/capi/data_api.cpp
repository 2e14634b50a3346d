// The C API's data sets: samples copied from the caller's arrays into a Dataset (class labels or
// real-valued targets, checked by Dataset's factories), or read from IDX and CSV files by the
// library's readers.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>

#include "capi/capi_internal.h"

namespace edgetrain::capi {
namespace {

std::vector<float> copy_floats(const float* values, size_t count, size_t size, const char* what) {
  require(values, what);
  const size_t total = checked_product(count, size, what);
  return std::vector<float>(values, values + total);
}

void check_sizes(size_t count, size_t feature_size) {
  if (count == 0) throw InvalidArgument("count is 0: a data set needs at least one sample");
  if (feature_size == 0) throw InvalidArgument("feature_size is 0");
  checked_product(count, feature_size, "count * feature_size");
  if (feature_size > size_t(INT32_MAX)) throw InvalidArgument("feature_size is too large");
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
    std::vector<int32_t> label_values(labels, labels + count);
    const int32_t largest = *std::max_element(label_values.begin(), label_values.end());
    if (largest == INT32_MAX) throw InvalidArgument("a label is 2147483647, too large");
    auto samples = std::make_unique<edgetrain::Dataset>(edgetrain::Dataset::with_labels(
        edgetrain::capi::copy_floats(features, count, feature_size, "features"),
        std::move(label_values), {.channels = int(feature_size)}, std::max(largest + 1, 1)));
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
    auto samples = std::make_unique<edgetrain::Dataset>(edgetrain::Dataset::with_targets(
        edgetrain::capi::copy_floats(features, count, feature_size, "features"),
        edgetrain::capi::copy_floats(targets, count, target_size, "targets"),
        {.channels = int(feature_size)}, target_size));
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
