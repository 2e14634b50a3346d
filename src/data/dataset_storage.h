// How the readers (src/data) build a Dataset from the storages they fill: every part moved in,
// then checked as the public factories check (Error naming the part and the sizes at fault).
#pragma once

#include <string>
#include <vector>

#include "edgetrain/data.h"

namespace edgetrain::data {

struct DatasetParts {
  std::string source;
  SampleShape shape;
  int num_classes = 0;  // 0: unlabelled (labels empty or all -1)
  std::vector<std::string> class_names;
  std::vector<float> features;
  std::vector<uint8_t> pixel_bytes;
  std::vector<uint8_t> packed_pixels;
  std::vector<uint64_t> packed_offsets;
  std::vector<int32_t> labels;
  std::vector<float> targets;
  size_t target_size = 0;
  // For messages (sample_name), when known: each sample's name, or the line it was read from.
  std::vector<std::string> sample_names;
  std::vector<uint32_t> sample_lines;
};

struct DatasetStorage {
  static Dataset assemble(DatasetParts parts);
};

}  // namespace edgetrain::data
