// CSV reader: good files (header or not, CRLF, blank lines, decimals, gzip), agreement with the IDX
// reader on the full training set, and one test per error, checking the line and column named.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/test_files.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"

namespace edgetrain {
namespace {

using test::error_message;
using test::expect_mentions;
using test::ScratchDir;
using test::write_file;

// "label,p1,...,pN" with pixel i = (i * step) % 256.
std::string csv_row(int label, size_t pixels, int step = 1) {
  std::string row = std::to_string(label);
  for (size_t i = 0; i < pixels; ++i) {
    row += ',';
    row += std::to_string(i * step % 256);
  }
  return row;
}

std::string header_row(size_t pixels) {
  std::string row = "label";
  for (size_t i = 1; i <= pixels; ++i) row += ",pixel" + std::to_string(i);
  return row;
}

TEST(CsvRead, WithAndWithoutHeader) {
  ScratchDir dir;
  const std::string rows = csv_row(7, 784) + "\n" + csv_row(0, 784, 3) + "\n";
  write_file(dir.path("plain.csv"), rows);
  write_file(dir.path("header.csv"), header_row(784) + "\n" + rows);
  for (const char* name : {"plain.csv", "header.csv"}) {
    const Dataset dataset = read_csv(dir.path(name));
    ASSERT_EQ(dataset.count(), 2u) << name;
    EXPECT_EQ(dataset.labels, (std::vector<int32_t>{7, 0}));
    EXPECT_EQ(dataset.height, 28);
    EXPECT_EQ(dataset.width, 28);
    EXPECT_EQ(dataset.source, dir.path(name));
    EXPECT_EQ(dataset.pixel_bytes.size(), 2u * 784);
    EXPECT_EQ(dataset.image(0)[255], 1.0f);
    EXPECT_EQ(dataset.image(1)[5], 15.0f / 255.0f);
  }
}

TEST(CsvRead, CrlfBlankLinesDecimalsAndSpaces) {
  ScratchDir dir;
  const std::string path = dir.path("small.csv");
  write_file(path,
             "label,a,b,c,d\r\n\r\n3, 0,127.5,255 ,1e1\r\n   \r\n1,0,0,0,0");  // no final newline
  const Dataset dataset = read_csv(path, 2, 2, 4);
  ASSERT_EQ(dataset.count(), 2u);
  EXPECT_EQ(dataset.labels, (std::vector<int32_t>{3, 1}));
  EXPECT_TRUE(dataset.pixel_bytes.empty()) << "a fractional value turns the CSV to floats";
  EXPECT_EQ(dataset.pixels[1], 127.5f / 255.0f);
  EXPECT_EQ(dataset.pixels[2], 1.0f);
  EXPECT_EQ(dataset.pixels[3], 10.0f / 255.0f);
}

TEST(CsvRead, GzipCompressedCsv) {
  ScratchDir dir;
  const std::string path = dir.path("small.csv.gz");
  write_file(path, test::gzip_bytes("2,1,2,3,4\n"));
  const Dataset dataset = read_csv(path, 2, 2);
  ASSERT_EQ(dataset.count(), 1u);
  EXPECT_EQ(dataset.pixel(3), 4.0f / 255.0f);
}

// The whole training set written as CSV reads back equal to the IDX files. (How fast it reads is
// measured in bench/bench_data.cpp, not judged here: a test's verdict never rests on the clock.)
TEST(CsvRead, FullTrainSetMatchesIdx) {
  const Dataset idx = read_idx_folder(test::kMnistDir, "train");
  ScratchDir dir;
  const std::string path = dir.path("train.csv");
  {
    std::string text = header_row(784) + "\r\n";
    text.reserve(size_t(120) << 20);
    for (size_t n = 0; n < idx.count(); ++n) {
      text += std::to_string(idx.label(n));
      for (size_t i = 0; i < 784; ++i) {
        text += ',';
        text += std::to_string(int(idx.pixel_bytes[n * 784 + i]));
      }
      text += "\r\n";
    }
    write_file(path, text);
  }
  const Dataset csv = read_csv(path);
  ASSERT_EQ(csv.count(), 60000u);
  EXPECT_EQ(csv.labels, idx.labels);
  EXPECT_TRUE(csv.pixel_bytes == idx.pixel_bytes) << "CSV and IDX pixels differ";
}

TEST(CsvErrors, WrongNumberOfValues) {
  ScratchDir dir;
  const std::string path = dir.path("short.csv");
  write_file(path, header_row(784) + "\n" + csv_row(1, 784) + "\n" + csv_row(2, 783) + "\n");
  expect_mentions(error_message([&] { read_csv(path); }),
                  {path, "line 3 has 783 pixel values", "expected 784", "28x28"});
  write_file(path, csv_row(1, 784) + "\n\n" + csv_row(2, 785) + "\n");
  expect_mentions(error_message([&] { read_csv(path); }), {path, "line 3 has 785 pixel values"});
}

TEST(CsvErrors, NonNumericFieldIsQuoted) {
  ScratchDir dir;
  const std::string path = dir.path("text.csv");
  write_file(path, "1,0,0,0,0\n2,0,0,abc,0\n");
  expect_mentions(error_message([&] { read_csv(path, 2, 2); }),
                  {path, "line 2, column 4", "\"abc\" is not a number"});
  write_file(path, "1,0,0,0,0\n2,0,,0,0\n");
  expect_mentions(error_message([&] { read_csv(path, 2, 2); }),
                  {path, "line 2, column 3", "\"\" is not a number"});
  // Past the first line a non-numeric label is an error, not a header.
  write_file(path, "1,0,0,0,0\nseven,0,0,0,0\n");
  expect_mentions(error_message([&] { read_csv(path, 2, 2); }),
                  {path, "line 2, column 1", "\"seven\" is not a number"});
}

TEST(CsvErrors, LabelOutOfRangeOrNotInteger) {
  ScratchDir dir;
  const std::string path = dir.path("labels.csv");
  write_file(path, "1,0,0,0,0\n10,0,0,0,0\n");
  expect_mentions(error_message([&] { read_csv(path, 2, 2); }),
                  {path, "line 2, column 1", "label \"10\"", "[0, 10)"});
  write_file(path, "-1,0,0,0,0\n");
  expect_mentions(error_message([&] { read_csv(path, 2, 2); }),
                  {path, "line 1, column 1", "label \"-1\""});
  write_file(path, "2.5,0,0,0,0\n");
  expect_mentions(error_message([&] { read_csv(path, 2, 2); }),
                  {path, "line 1, column 1", "\"2.5\" is not an integer"});
}

TEST(CsvErrors, PixelOutOfRange) {
  ScratchDir dir;
  const std::string path = dir.path("pixels.csv");
  write_file(path, "h,a,b,c,d\n1,0,0,0,0\n1,0,256,0,0\n");
  expect_mentions(error_message([&] { read_csv(path, 2, 2); }),
                  {path, "line 3, column 3", "pixel 1 is 256", "outside 0..255"});
  write_file(path, "1,0,-0.5,0,0\n");
  expect_mentions(error_message([&] { read_csv(path, 2, 2); }),
                  {path, "line 1, column 3", "-0.5", "outside 0..255"});
  write_file(path, "1,0,nan,0,0\n");
  expect_mentions(error_message([&] { read_csv(path, 2, 2); }), {path, "line 1, column 3"});
}

TEST(CsvErrors, EmptyFileAndHeaderOnly) {
  ScratchDir dir;
  const std::string path = dir.path("empty.csv");
  write_file(path, "");
  expect_mentions(error_message([&] { read_csv(path); }), {path, "empty file", "label,p1"});
  write_file(path, "\n\r\n  \n");
  expect_mentions(error_message([&] { read_csv(path); }), {path, "empty file"});
  write_file(path, std::string("\n") + header_row(784) + "\n\n");
  expect_mentions(error_message([&] { read_csv(path); }),
                  {path, "no data rows", "header on line 2"});
  expect_mentions(error_message([&] { read_csv(dir.path("missing.csv")); }),
                  {dir.path("missing.csv"), "no such file"});
}

}  // namespace
}  // namespace edgetrain
