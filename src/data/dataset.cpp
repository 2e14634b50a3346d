// Dataset: the in-memory BatchProvider, checked when it is made; SampleView; the interface's
// defaults.
#include <algorithm>
#include <cassert>
#include <cmath>

#include "data/dataset_storage.h"
#include "data/packed_pixels.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"

namespace edgetrain {

namespace {

// The same rounding as a float built as value / 255, so every storage gives identical features.
float to_feature(uint8_t value) { return float(value) / 255.0f; }

// One sample holds at most this many values (a 16-megapixel RGB image is 48M).
constexpr size_t kMaxSampleValues = size_t(1) << 28;

std::string where(const std::string& source) {
  return source.empty() ? "Dataset: " : "Dataset '" + source + "': ";
}

// The samples `values` hold, `per_sample` each; Error when they are not a whole number of them.
size_t whole_samples(size_t values, size_t per_sample, const char* what, const SampleShape& shape,
                     const std::string& source) {
  if (values % per_sample != 0) {
    throw Error(where(source) + std::to_string(values) + " " + what +
                " are not a whole number of samples of " + std::to_string(per_sample) + " (" +
                shape.text() + ")");
  }
  return values / per_sample;
}

void check_finite(const std::vector<float>& values, size_t per_sample, const char* what,
                  const std::string& source) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw Error(where(source) + "sample " + std::to_string(i / per_sample) + " has " + what +
                  " " + std::to_string(values[i]) + " at position " +
                  std::to_string(i % per_sample) + "; every value must be finite");
    }
  }
}

}  // namespace

std::string SampleShape::text() const {
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "[" + std::to_string(...) here.
  std::string text = "[";
  text += std::to_string(channels);
  text += ", ";
  text += std::to_string(height);
  text += ", ";
  text += std::to_string(width);
  text += "]";
  return text;
}

// ---- BatchProvider's defaults --------------------------------------------------------------------

void BatchProvider::copy_target(size_t index, float* dst, size_t size) const {
  if (target_size() > 0) {
    throw Error(sample_name(index) + ": the data's targets have " + std::to_string(target_size()) +
                " values per sample but " + std::to_string(size) + " were asked for");
  }
  std::fill(dst, dst + size, 0.0f);
  const int32_t class_index = label(index);
  if (class_index >= 0 && size_t(class_index) < size) dst[class_index] = 1.0f;
}

std::string BatchProvider::sample_name(size_t index) const {
  return "sample " + std::to_string(index);
}

// ---- Dataset ------------------------------------------------------------------------------------

Dataset data::DatasetStorage::assemble(DatasetParts parts) {
  const std::string& source = parts.source;
  const SampleShape shape = parts.shape;
  if (shape.channels < 1 || shape.height < 1 || shape.width < 1 ||
      shape.size() > kMaxSampleValues) {
    throw Error(where(source) + "a sample's shape " + shape.text() +
                " is not valid (each side at least 1, at most 2^28 values)");
  }
  const size_t per_sample = shape.size();
  const int storages = !parts.features.empty() + !parts.pixel_bytes.empty() +
                       !parts.packed_offsets.empty();
  if (storages > 1) throw Error(where(source) + "features given in more than one storage");
  size_t count = 0;
  if (!parts.features.empty()) {
    count = whole_samples(parts.features.size(), per_sample, "feature values", shape, source);
    check_finite(parts.features, per_sample, "feature", source);
  } else if (!parts.pixel_bytes.empty()) {
    count = whole_samples(parts.pixel_bytes.size(), per_sample, "pixel bytes", shape, source);
  } else if (!parts.packed_offsets.empty()) {
    const std::vector<uint64_t>& offsets = parts.packed_offsets;
    count = offsets.size() - 1;
    bool valid = offsets.front() == 0 && offsets.back() == parts.packed_pixels.size();
    for (size_t i = 0; valid && i < count; ++i) {
      valid = offsets[i] <= offsets[i + 1] && offsets[i + 1] - offsets[i] <= per_sample;
    }
    if (!valid) throw Error(where(source) + "packed pixels do not match their offsets");
  }

  Dataset dataset;
  if (parts.target_size > 0 || !parts.targets.empty()) {
    if (parts.target_size == 0) throw Error(where(source) + "targets given with target_size 0");
    if (!parts.labels.empty() || parts.num_classes != 0) {
      throw Error(where(source) + "samples have either class labels or targets, not both");
    }
    const size_t targeted =
        whole_samples(parts.targets.size(), parts.target_size, "target values", shape, source);
    if (targeted != count) {
      throw Error(where(source) + std::to_string(targeted) + " samples of targets (" +
                  std::to_string(parts.target_size) + " values each) but " +
                  std::to_string(count) + " samples of features (" + shape.text() + " each)");
    }
    check_finite(parts.targets, parts.target_size, "target", source);
  } else if (parts.num_classes > 0) {
    if (parts.labels.size() != count) {
      throw Error(where(source) + std::to_string(parts.labels.size()) + " labels but " +
                  std::to_string(count) + " samples of features (" + shape.text() + " each)");
    }
    if (!parts.class_names.empty() && parts.class_names.size() != size_t(parts.num_classes)) {
      throw Error(where(source) + std::to_string(parts.class_names.size()) +
                  " class names for " + std::to_string(parts.num_classes) + " classes");
    }
    for (size_t i = 0; i < count; ++i) {
      if (parts.labels[i] < 0 || parts.labels[i] >= parts.num_classes) {
        throw Error(where(source) + "sample " + std::to_string(i) + " has label " +
                    std::to_string(parts.labels[i]) + ", outside 0.." +
                    std::to_string(parts.num_classes - 1) + " (" +
                    std::to_string(parts.num_classes) + " classes)");
      }
    }
  } else {
    if (parts.num_classes < 0) {
      throw Error(where(source) + "num_classes must be at least 1, got " +
                  std::to_string(parts.num_classes));
    }
    if (!parts.class_names.empty()) throw Error(where(source) + "class names without labels");
    for (int32_t label : parts.labels) {
      if (label != -1) throw Error(where(source) + "labels given with num_classes 0");
    }
    if (!parts.labels.empty() && parts.labels.size() != count) {
      throw Error(where(source) + std::to_string(parts.labels.size()) + " labels but " +
                  std::to_string(count) + " samples");
    }
    parts.labels.assign(count, -1);
  }
  dataset.source_ = std::move(parts.source);
  dataset.shape_ = shape;
  dataset.count_ = count;
  dataset.num_classes_ = parts.num_classes;
  dataset.class_names_ = std::move(parts.class_names);
  dataset.features_ = std::move(parts.features);
  dataset.pixel_bytes_ = std::move(parts.pixel_bytes);
  dataset.packed_pixels_ = std::move(parts.packed_pixels);
  dataset.packed_offsets_ = std::move(parts.packed_offsets);
  dataset.labels_ = std::move(parts.labels);
  dataset.targets_ = std::move(parts.targets);
  dataset.target_size_ = parts.target_size;
  if ((!parts.sample_names.empty() && parts.sample_names.size() != count) ||
      (!parts.sample_lines.empty() && parts.sample_lines.size() != count)) {
    throw Error(where(source) + "sample names do not match the samples");
  }
  dataset.sample_names_ = std::move(parts.sample_names);
  dataset.sample_lines_ = std::move(parts.sample_lines);
  return dataset;
}

namespace {

// Labelled data needs a class (a zero count would read as unlabelled).
void check_classes(int num_classes, const std::string& source) {
  if (num_classes < 1) {
    throw Error(where(source) + "num_classes must be at least 1, got " +
                std::to_string(num_classes));
  }
}

}  // namespace

Dataset Dataset::with_labels(std::vector<float> features, std::vector<int32_t> labels,
                             SampleShape shape, int num_classes,
                             std::vector<std::string> class_names, std::string source) {
  check_classes(num_classes, source);
  return data::DatasetStorage::assemble({.source = std::move(source),
                                         .shape = shape,
                                         .num_classes = num_classes,
                                         .class_names = std::move(class_names),
                                         .features = std::move(features),
                                         .labels = std::move(labels)});
}

Dataset Dataset::with_targets(std::vector<float> features, std::vector<float> targets,
                              SampleShape shape, size_t target_size, std::string source) {
  if (target_size < 1) throw Error(where(source) + "target_size must be at least 1");
  return data::DatasetStorage::assemble({.source = std::move(source),
                                         .shape = shape,
                                         .features = std::move(features),
                                         .targets = std::move(targets),
                                         .target_size = target_size});
}

Dataset Dataset::with_pixel_bytes(std::vector<uint8_t> pixels, std::vector<int32_t> labels,
                                  SampleShape shape, int num_classes,
                                  std::vector<std::string> class_names, std::string source) {
  check_classes(num_classes, source);
  return data::DatasetStorage::assemble({.source = std::move(source),
                                         .shape = shape,
                                         .num_classes = num_classes,
                                         .class_names = std::move(class_names),
                                         .pixel_bytes = std::move(pixels),
                                         .labels = std::move(labels)});
}

Dataset Dataset::unlabelled(std::vector<float> features, SampleShape shape, std::string source) {
  return data::DatasetStorage::assemble(
      {.source = std::move(source), .shape = shape, .features = std::move(features)});
}

void Dataset::copy_features(size_t index, float* dst) const {
  assert(index < count());
  const size_t size = feature_size(), first = index * size;
  if (!pixel_bytes_.empty()) {
    std::transform(pixel_bytes_.data() + first, pixel_bytes_.data() + first + size, dst,
                   to_feature);
  } else if (!packed_offsets_.empty()) {
    const uint64_t begin = packed_offsets_[index], end = packed_offsets_[index + 1];
    data::unpack_image(packed_pixels_.data() + begin, end - begin, size, dst, to_feature);
  } else {
    std::copy_n(features_.data() + first, size, dst);
  }
}

int32_t Dataset::label(size_t index) const {
  assert(index < count());
  return labels_.empty() ? -1 : labels_[index];
}

void Dataset::copy_target(size_t index, float* dst, size_t size) const {
  if (target_size_ == 0) return BatchProvider::copy_target(index, dst, size);
  if (size != target_size_) return BatchProvider::copy_target(index, dst, size);  // the Error
  std::copy_n(targets_.data() + index * target_size_, target_size_, dst);
}

std::string Dataset::sample_name(size_t index) const {
  if (!sample_names_.empty()) return sample_names_[index];
  if (!sample_lines_.empty()) return source_ + " line " + std::to_string(sample_lines_[index]);
  return source_.empty() ? BatchProvider::sample_name(index)
                         : source_ + " sample " + std::to_string(index);
}

std::vector<float> Dataset::image(size_t index) const {
  std::vector<float> features(feature_size());
  copy_features(index, features.data());
  return features;
}

float Dataset::pixel(size_t flat_index) const {
  if (!pixel_bytes_.empty()) return to_feature(pixel_bytes_[flat_index]);
  if (packed_offsets_.empty()) return features_[flat_index];
  const size_t size = feature_size();
  return image(flat_index / size)[flat_index % size];
}

size_t Dataset::memory_bytes() const {
  return features_.size() * sizeof(float) + pixel_bytes_.size() + packed_pixels_.size() +
         packed_offsets_.size() * sizeof(uint64_t) + labels_.size() * sizeof(int32_t) +
         targets_.size() * sizeof(float);
}

void Dataset::truncate(size_t n) {
  if (n >= count()) return;
  count_ = n;
  labels_.resize(n);
  labels_.shrink_to_fit();
  targets_.resize(n * target_size_);
  targets_.shrink_to_fit();
  if (!sample_names_.empty()) sample_names_.resize(n);
  if (!sample_lines_.empty()) sample_lines_.resize(n);
  if (!pixel_bytes_.empty()) {
    pixel_bytes_.resize(n * feature_size());
    pixel_bytes_.shrink_to_fit();
  } else if (!packed_offsets_.empty()) {
    packed_offsets_.resize(n + 1);
    packed_offsets_.shrink_to_fit();
    packed_pixels_.resize(packed_offsets_.back());
    packed_pixels_.shrink_to_fit();
  } else {
    features_.resize(n * feature_size());
    features_.shrink_to_fit();
  }
  if (n == 0) {  // no storage is left holding samples: an empty Dataset
    packed_offsets_.clear();
  }
}

// ---- SampleView ---------------------------------------------------------------------------------

SampleView::SampleView(const BatchProvider& data, size_t first)
    : data_(data), count_(first == 0 ? data.count() : std::min(first, data.count())) {}

SampleView::SampleView(const BatchProvider& data, std::vector<size_t> indices)
    : data_(data), indices_(std::move(indices)) {
  for (size_t index : indices_) {
    if (index >= data.count()) {
      throw Error("SampleView: index " + std::to_string(index) + " is past the data's " +
                  std::to_string(data.count()) + " samples");
    }
  }
}

void SampleView::copy_features(size_t index, float* dst) const {
  data_.copy_features(at(index), dst);
}

int32_t SampleView::label(size_t index) const { return data_.label(at(index)); }

void SampleView::copy_target(size_t index, float* dst, size_t size) const {
  data_.copy_target(at(index), dst, size);
}

std::string SampleView::sample_name(size_t index) const { return data_.sample_name(at(index)); }

}  // namespace edgetrain
