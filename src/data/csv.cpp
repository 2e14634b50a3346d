// The seed's CSV format: one image per line, `label,p1,...,pN` with N = height * width pixel values
// 0-255 (integers or decimals). An optional header line (first field not a number) is skipped,
// blank lines are ignored and CRLF line ends are accepted. The file may be gzip-compressed.
// Fields are parsed with std::from_chars on the whole file in memory: 60,000 MNIST lines
// (~110 MB) take well under a second.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "data/csv_fields.h"
#include "data/dataset_storage.h"
#include "data/input_file.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"

namespace edgetrain {

namespace {

using data::parse_number;
using data::quote;
using data::trim;

class CsvParser {
 public:
  CsvParser(const std::string& path, int height, int width, int num_classes)
      : path_(path),
        height_(height),
        width_(width),
        num_classes_(num_classes),
        pixels_per_row_(size_t(height) * width) {}

  Dataset parse(const std::string& text);

 private:
  void parse_row(std::string_view line, data::DatasetParts& dataset);
  [[noreturn]] void fail_at(size_t column, const std::string& what) const {
    throw Error(path_ + ": line " + std::to_string(line_number_) + ", column " +
                std::to_string(column) + ": " + what);
  }

  const std::string& path_;
  const int height_, width_, num_classes_;
  const size_t pixels_per_row_;
  size_t line_number_ = 0;
};

Dataset CsvParser::parse(const std::string& text) {
  data::DatasetParts dataset;
  dataset.source = path_;
  dataset.shape = {.channels = 1, .height = height_, .width = width_};
  dataset.num_classes = num_classes_;
  // Every value takes at least two characters (a digit and a comma or line end), which bounds
  // the row count by the file size: reserving this much can never exceed what the file backs.
  const size_t max_rows = text.size() / (2 * (pixels_per_row_ + 1)) + 1;
  dataset.labels.reserve(max_rows);
  dataset.pixel_bytes.reserve(max_rows * pixels_per_row_);

  size_t header_line = 0;
  bool seen_content = false;
  size_t position = 0;
  while (position < text.size()) {
    const char* start = text.data() + position;
    const void* newline = std::memchr(start, '\n', text.size() - position);
    const size_t length =
        newline ? size_t(static_cast<const char*>(newline) - start) : text.size() - position;
    std::string_view line(start, length);
    position += length + 1;
    ++line_number_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    if (!seen_content) {
      seen_content = true;
      double ignored;
      if (!parse_number(line.substr(0, line.find(',')), ignored)) {
        header_line = line_number_;
        continue;
      }
    }
    parse_row(line, dataset);
  }

  if (!seen_content) {
    throw Error(path_ + ": empty file; expected one image per line: label,p1,...,p" +
                std::to_string(pixels_per_row_));
  }
  if (dataset.labels.empty()) {
    throw Error(path_ + ": no data rows, only the header on line " + std::to_string(header_line));
  }
  return data::DatasetStorage::assemble(std::move(dataset));
}

void CsvParser::parse_row(std::string_view line, data::DatasetParts& dataset) {
  const size_t values = size_t(std::count(line.begin(), line.end(), ',')) + 1;
  if (values != pixels_per_row_ + 1) {
    throw Error(path_ + ": line " + std::to_string(line_number_) + " has " +
                std::to_string(values - 1) + " pixel values after the label, expected " +
                std::to_string(pixels_per_row_) + " (" + std::to_string(height_) + "x" +
                std::to_string(width_) + "; a table with a header row is read with --target)");
  }

  size_t field_start = 0;
  auto next_field = [&] {
    const size_t comma = std::min(line.find(',', field_start), line.size());
    const std::string_view field = line.substr(field_start, comma - field_start);
    field_start = comma + 1;
    return field;
  };

  const std::string_view label_field = next_field();
  double label = 0;
  if (!parse_number(label_field, label)) {
    fail_at(1, "label " + quote(label_field) + " is not a number");
  }
  if (!(label >= 0 && label < num_classes_) || label != std::floor(label)) {
    fail_at(1, "label " + quote(trim(label_field)) + " is not an integer in [0, " +
                   std::to_string(num_classes_) + ")");
  }
  dataset.labels.push_back(int32_t(label));

  for (size_t pixel = 0; pixel < pixels_per_row_; ++pixel) {
    const std::string_view field = next_field();
    double value = 0;
    if (!parse_number(field, value)) fail_at(pixel + 2, quote(field) + " is not a number");
    if (!(value >= 0 && value <= 255)) {
      fail_at(pixel + 2, "pixel " + std::to_string(pixel) + " is " + std::string(trim(field)) +
                             ", outside 0..255");
    }
    // Whole numbers stay bytes, as the IDX reader keeps them; the first fractional value turns
    // the dataset to floats (value / 255 either way, so both give identical features).
    if (dataset.features.empty() && value == std::floor(value)) {
      dataset.pixel_bytes.push_back(uint8_t(value));
      continue;
    }
    if (dataset.features.empty()) {
      dataset.features.reserve(dataset.pixel_bytes.capacity());
      for (uint8_t byte : dataset.pixel_bytes) dataset.features.push_back(float(byte) / 255.0f);
      dataset.pixel_bytes = {};
    }
    dataset.features.push_back(float(value) / 255.0f);
  }
}

}  // namespace

Dataset read_csv(const std::string& path, int height, int width, int num_classes) {
  if (height < 1 || width < 1 || int64_t(height) * width > (int64_t(1) << 24)) {
    throw Error("read_csv: image size " + std::to_string(height) + "x" + std::to_string(width) +
                " is not valid (each side >= 1, at most 16M pixels)");
  }
  if (num_classes < 1) {
    throw Error("read_csv: num_classes must be >= 1, got " + std::to_string(num_classes));
  }
  const std::string text = data::read_whole_file(path);
  return CsvParser(path, height, width, num_classes).parse(text);
}

}  // namespace edgetrain
