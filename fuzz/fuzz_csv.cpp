// libFuzzer target: the CSV readers (read_csv, and read_csv_table with CsvTableStream).
//
// Input: byte 0 0xFF: a table (byte 1: bit 0 a class target, else a real one; the target column is
// "y"); otherwise byte 0 picks the image size of the seed's digit format (bits 0-2: height - 1,
// bits 3-5: width - 1; both top bits set: MNIST's 28x28) and byte 1 num_classes (1 + byte). The
// rest is the file (gzip when it starts 1f 8b). Small sizes let short inputs reach whole rows. Only
// edgetrain::Error may escape; an accepted file must give a consistent Dataset, and a table read
// from disk row by row the same samples as in memory.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "check_dataset.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"
#include "fuzz_util.h"

namespace {

// read_csv_table and CsvTableStream on the same file: both refuse it, or both give these samples.
void fuzz_table(const std::string& path, bool classes) {
  using namespace edgetrain;
  const CsvTableOptions options{.target = "y",
                                .target_kind = classes ? TargetKind::kClass : TargetKind::kReal};
  std::string refused;
  Dataset table;
  try {
    table = read_csv_table(path, options);
  } catch (const Error& error) {
    refused = error.what();
    fuzz::refused("read_csv_table", error);
  }
  try {
    const CsvTableStream stream(path, options);
    FUZZ_CHECK(refused.empty());
    FUZZ_CHECK(stream.count() == table.count() && stream.feature_size() == table.feature_size());
    FUZZ_CHECK(stream.class_names() == table.class_names());
    std::vector<float> streamed(stream.feature_size());
    for (size_t i = 0; i < stream.count(); ++i) {
      stream.copy_features(i, streamed.data());
      FUZZ_CHECK(streamed == table.image(i));
      FUZZ_CHECK(stream.label(i) == table.label(i));
    }
  } catch (const Error& error) {
    // Refused alike, or refused only because a compressed table cannot be streamed.
    FUZZ_CHECK(!refused.empty() ||
               std::string(error.what()).find("compressed") != std::string::npos);
  }
  if (!refused.empty()) return;
  FUZZ_CHECK(table.count() >= 1 && table.feature_size() >= 1);
  for (size_t i = 0; i < table.count(); ++i) {
    for (float value : table.image(i)) FUZZ_CHECK(std::isfinite(value));
    if (classes) {
      FUZZ_CHECK(table.label(i) >= 0 && size_t(table.label(i)) < table.class_names().size());
    } else {
      float target = 0;
      table.copy_target(i, &target, 1);
      FUZZ_CHECK(std::isfinite(target));
    }
  }
  fuzz::accepted("read_csv_table");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static edgetrain::fuzz::MemoryFile file("csv");
  if (size < 2) return 0;
  if (data[0] == 0xFF) {
    file.assign(data + 2, size - 2);
    fuzz_table(file.path(), data[1] & 1);
    return 0;
  }
  const bool mnist = (data[0] >> 6) == 3;
  const int height = mnist ? 28 : 1 + (data[0] & 7);
  const int width = mnist ? 28 : 1 + (data[0] >> 3 & 7);
  const int num_classes = 1 + data[1];
  file.assign(data + 2, size - 2);
  try {
    const edgetrain::Dataset dataset = edgetrain::read_csv(file.path(), height, width, num_classes);
    FUZZ_CHECK(dataset.shape() == (edgetrain::SampleShape{1, height, width}));
    FUZZ_CHECK(dataset.num_classes() == num_classes);
    edgetrain::fuzz::check_dataset(dataset);
    FUZZ_CHECK(std::all_of(dataset.labels().begin(), dataset.labels().end(),
                           [&](int32_t label) { return label >= 0 && label < num_classes; }));
    edgetrain::fuzz::accepted("read_csv");
  } catch (const edgetrain::Error& error) {
    edgetrain::fuzz::refused("read_csv", error);
  }
  return 0;
}
