// libFuzzer target: the IDX reader (read_idx_images, read_idx) on raw and gzip files, keeping
// pixels as bytes and packed (PixelStorage::kPacked, what the command line uses).
//
// Input: byte 0 picks num_classes (1 + byte), bytes 1-2 are the big-endian length L of the label
// file (cut to what is left), the next L bytes are the label file and the rest the image file.
// A file whose bytes start 1f 8b is gzip, as the reader decides for real files.
// Only edgetrain::Error may escape; an accepted file must give a consistent Dataset, and both
// storages must accept the same files, refuse the same ones with the same message, and give the
// same features.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "check_dataset.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using edgetrain::Dataset;
  using edgetrain::fuzz::check_dataset;
  static edgetrain::fuzz::MemoryFile images("idx-images"), labels("idx-labels");
  if (size < 3) return 0;
  const int num_classes = 1 + data[0];
  const size_t labels_size = std::min(size - 3, size_t(data[1]) << 8 | data[2]);
  labels.assign(data + 3, labels_size);
  images.assign(data + 3 + labels_size, size - 3 - labels_size);

  bool images_ok = false;
  Dataset alone;
  std::string alone_error;
  try {
    alone = edgetrain::read_idx_images(images.path());
    images_ok = true;
    check_dataset(alone);
    FUZZ_CHECK(std::all_of(alone.labels().begin(), alone.labels().end(),
                           [](int32_t label) { return label == -1; }));
    edgetrain::fuzz::accepted("read_idx_images");
  } catch (const edgetrain::Error& error) {
    alone_error = error.what();
    edgetrain::fuzz::refused("read_idx_images", error);
  }
  std::string packed_error;
  try {
    const Dataset packed =
        edgetrain::read_idx_images(images.path(), edgetrain::PixelStorage::kPacked);
    FUZZ_CHECK(images_ok);
    check_dataset(packed);
    FUZZ_CHECK(packed.count() == alone.count() && packed.feature_size() == alone.feature_size());
    std::vector<float> ours(alone.feature_size()), theirs(alone.feature_size());
    for (size_t i = 0; i < alone.count(); ++i) {
      alone.copy_features(i, ours.data());
      packed.copy_features(i, theirs.data());
      FUZZ_CHECK(ours == theirs);
    }
  } catch (const edgetrain::Error& error) {
    packed_error = error.what();
    FUZZ_CHECK(!images_ok && packed_error == alone_error);
  }
  try {
    const Dataset dataset = edgetrain::read_idx(images.path(), labels.path(), num_classes);
    check_dataset(dataset);
    FUZZ_CHECK(dataset.num_classes() == num_classes);
    FUZZ_CHECK(std::all_of(dataset.labels().begin(), dataset.labels().end(),
                           [&](int32_t label) { return label >= 0 && label < num_classes; }));
    // The same image file read with or without labels gives the same pixels.
    FUZZ_CHECK(images_ok && dataset.features() == alone.features() &&
               dataset.pixel_bytes() == alone.pixel_bytes());
    edgetrain::fuzz::accepted("read_idx");
  } catch (const edgetrain::Error& error) {
    edgetrain::fuzz::refused("read_idx", error);
  }
  return 0;
}
