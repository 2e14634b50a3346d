// The personal samples: PNG files under <folder>/<label>/<name>.png, so the CLI reads them too
// (`edgetrain predict model.mlmodel samples/7/*.png`). Each is the 28x28 input the model saw, ink
// bright as in MNIST, written atomically (temporary file, fsync, rename).
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "edgetrain/image.h"

namespace edgetrain::web {

struct Sample {
  int label = 0;
  std::string name;  // without ".png"
};

struct LoadedSample {
  Sample sample;
  std::vector<float> features;  // field x field, in [0, 1]
};

class SampleStore {
 public:
  explicit SampleStore(std::string folder) : folder_(std::move(folder)) {}
  const std::string& folder() const { return folder_; }

  // Sorted by label, then name. Files whose names break the rules below are not samples.
  std::vector<Sample> list() const;
  // Stores the image under a new name (or `name`, which must be free). Throws Error on a bad label
  // or name (HttpError 409 when the name is taken), or when the file cannot be written.
  Sample add(int label, int classes, const GrayImage& image, const std::string& name = "");
  // False when there is no such sample.
  bool remove(int label, const std::string& name);
  // The PNG file's bytes; throws HttpError 404 when there is no such sample.
  std::string png(int label, const std::string& name) const;
  // Every sample as a field x field input (other sizes made MNIST-like). Throws Error naming a
  // file that is not a readable PNG.
  std::vector<LoadedSample> load(int field_size) const;

  // Names: 1-64 of A-Z a-z 0-9 _ -, so never a path. Labels: a class index below `classes`.
  // Both throw Error naming the value.
  static void check_name(const std::string& name);
  static int parse_label(const std::string& text, int classes);

 private:
  std::string path_of(int label, const std::string& name) const;
  const std::string folder_;
  mutable std::mutex mutex_;  // one writer or reader of the folder at a time
  std::atomic<uint64_t> counter_{0};
};

}  // namespace edgetrain::web
