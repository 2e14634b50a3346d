// libFuzzer target: the CSV reader (read_csv).
//
// Input: byte 0 picks the image size (bits 0-2: height - 1, bits 3-5: width - 1; both top bits set:
// MNIST's 28x28), byte 1 num_classes (1 + byte), the rest is the file (gzip when it starts 1f 8b).
// Small sizes let short inputs reach whole rows. Only edgetrain::Error may escape; an accepted file
// must give a consistent Dataset.
#include <algorithm>
#include <cstdint>

#include "check_dataset.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static edgetrain::fuzz::MemoryFile file("csv");
  if (size < 2) return 0;
  const bool mnist = (data[0] >> 6) == 3;
  const int height = mnist ? 28 : 1 + (data[0] & 7);
  const int width = mnist ? 28 : 1 + (data[0] >> 3 & 7);
  const int num_classes = 1 + data[1];
  file.assign(data + 2, size - 2);
  try {
    const edgetrain::Dataset dataset = edgetrain::read_csv(file.path(), height, width, num_classes);
    FUZZ_CHECK(dataset.channels == 1 && dataset.height == height && dataset.width == width);
    FUZZ_CHECK(dataset.num_classes == num_classes);
    edgetrain::fuzz::check_dataset(dataset);
    FUZZ_CHECK(std::all_of(dataset.labels.begin(), dataset.labels.end(),
                           [&](int32_t label) { return label >= 0 && label < num_classes; }));
    edgetrain::fuzz::accepted("read_csv");
  } catch (const edgetrain::Error& error) {
    edgetrain::fuzz::refused("read_csv", error);
  }
  return 0;
}
