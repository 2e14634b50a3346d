// IDX reader: the real MNIST files (gzip and raw, both name spellings) and every kind of damaged
// file, each error checked for the file name and the problem it reports.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "data/test_files.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"

namespace edgetrain {
namespace {

using test::error_message;
using test::expect_mentions;
using test::kMnistDir;
using test::ScratchDir;
using test::write_file;

std::string big_endian(uint32_t value) {
  return {char(value >> 24), char(value >> 16), char(value >> 8), char(value)};
}

std::string idx_images(uint32_t count, uint32_t rows, uint32_t columns, size_t pixel_bytes) {
  std::string bytes = big_endian(2051) + big_endian(count) + big_endian(rows) + big_endian(columns);
  for (size_t i = 0; i < pixel_bytes; ++i) bytes += char(i * 37 % 256);
  return bytes;
}

std::string idx_labels(uint32_t count, const std::vector<uint8_t>& labels) {
  std::string bytes = big_endian(2049) + big_endian(count);
  for (uint8_t label : labels) bytes += char(label);
  return bytes;
}

// A scratch folder holding a valid 3-image 2x2 set; tests overwrite one of the two files.
struct SmallIdx {
  ScratchDir dir;
  std::string images = dir.path("images-idx3-ubyte");
  std::string labels = dir.path("labels-idx1-ubyte");
  SmallIdx() {
    write_file(images, idx_images(3, 2, 2, 12));
    write_file(labels, idx_labels(3, {0, 9, 4}));
  }
};

TEST(IdxRead, SmallValidFile) {
  SmallIdx files;
  const Dataset dataset = read_idx(files.images, files.labels);
  ASSERT_EQ(dataset.count(), 3u);
  EXPECT_EQ(dataset.shape().height, 2);
  EXPECT_EQ(dataset.shape().width, 2);
  EXPECT_EQ(dataset.feature_size(), 4u);
  EXPECT_EQ(dataset.labels(), (std::vector<int32_t>{0, 9, 4}));
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(dataset.pixel(i), float(i * 37 % 256) / 255.0f);
}

TEST(IdxRead, ImagesAloneHaveUnknownLabels) {
  SmallIdx files;
  const Dataset dataset = read_idx_images(files.images);
  ASSERT_EQ(dataset.count(), 3u);
  EXPECT_EQ(dataset.labels(), (std::vector<int32_t>{-1, -1, -1}));
  EXPECT_EQ(dataset.pixel_bytes(), read_idx(files.images, files.labels).pixel_bytes());
  expect_mentions(error_message([&] { read_idx_images(files.labels); }),
                  {files.labels, "magic number 2049", "swapped"});
}

TEST(IdxRead, RealGzipAndRawFilesGiveTheSameData) {
  ScratchDir dir;
  for (const char* split : {"train", "t10k"}) {
    const std::string images_gz = kMnistDir + "/" + split + "-images-idx3-ubyte.gz";
    const std::string labels_gz = kMnistDir + "/" + split + "-labels-idx1-ubyte.gz";
    const std::string images_raw = dir.path(std::string(split) + "-images-idx3-ubyte");
    const std::string labels_raw = dir.path(std::string(split) + "-labels-idx1-ubyte");
    write_file(images_raw, test::gunzip_file(images_gz));
    write_file(labels_raw, test::gunzip_file(labels_gz));

    const Dataset from_gzip = read_idx(images_gz, labels_gz);
    const Dataset from_raw = read_idx(images_raw, labels_raw);
    const size_t expected = std::string(split) == "train" ? 60000 : 10000;
    ASSERT_EQ(from_gzip.count(), expected);
    EXPECT_EQ(from_gzip.shape().height, 28);
    EXPECT_EQ(from_gzip.shape().width, 28);
    EXPECT_EQ(from_gzip.shape().channels, 1);
    EXPECT_EQ(from_gzip.pixel_bytes().size(), expected * 784);
    EXPECT_TRUE(from_gzip.features().empty()) << "IDX pixels stay bytes";
    EXPECT_EQ(from_gzip.labels(), from_raw.labels());
    EXPECT_TRUE(from_gzip.pixel_bytes() == from_raw.pixel_bytes()) << split << ": pixels differ";
    EXPECT_EQ(from_gzip.source(), images_gz);
    float low = 1, high = 0;
    for (size_t i = 0; i < from_gzip.pixel_bytes().size(); ++i) {
      low = std::min(low, from_gzip.pixel(i)), high = std::max(high, from_gzip.pixel(i));
    }
    EXPECT_EQ(low, 0.0f);
    EXPECT_EQ(high, 1.0f);
  }
}

TEST(IdxRead, FirstTrainLabelIsFive) {
  const Dataset train = read_idx_folder(kMnistDir, "train");
  ASSERT_EQ(train.count(), 60000u);
  EXPECT_EQ(train.label(0), 5);
  EXPECT_EQ(train.label(1), 0);
  std::vector<int> per_class(10, 0);
  for (int32_t label : train.labels()) ++per_class[label];
  EXPECT_EQ(per_class,
            (std::vector<int>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}));
}

TEST(IdxFolder, AcceptsBothSpellingsRawAndGzip) {
  ScratchDir dashed_raw, dotted_gzip;
  for (const char* split : {"train", "t10k"}) {
    for (const char* kind : {"images-idx3-ubyte", "labels-idx1-ubyte"}) {
      const std::string source = kMnistDir + "/" + split + "-" + kind + ".gz";
      std::string dotted = std::string(split) + "-" + kind;
      dotted[dotted.find('-', dotted.find('-') + 1)] = '.';  // train-images.idx3-ubyte
      std::filesystem::copy_file(source, dotted_gzip.path(dotted + ".gz"));
      write_file(dashed_raw.path(std::string(split) + "-" + kind), test::gunzip_file(source));
    }
  }
  EXPECT_TRUE(idx_folder_complete(dashed_raw.path()));
  EXPECT_TRUE(idx_folder_complete(dotted_gzip.path()));
  EXPECT_TRUE(idx_folder_complete(kMnistDir));
  const Dataset raw = read_idx_folder(dashed_raw.path(), "t10k");
  const Dataset gzip = read_idx_folder(dotted_gzip.path(), "t10k");
  ASSERT_EQ(raw.count(), 10000u);
  EXPECT_EQ(raw.labels(), gzip.labels());
  EXPECT_TRUE(raw.pixel_bytes() == gzip.pixel_bytes());
}

TEST(IdxFolder, MissingFilesNameTheFolderAndTheNamesTried) {
  ScratchDir dir;
  std::filesystem::copy_file(kMnistDir + "/t10k-images-idx3-ubyte.gz",
                             dir.path("t10k-images-idx3-ubyte.gz"));
  EXPECT_FALSE(idx_folder_complete(dir.path()));
  const std::string message = error_message([&] { read_idx_folder(dir.path(), "t10k"); });
  expect_mentions(message,
                  {dir.path(), "t10k labels", "t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz",
                   "t10k-labels.idx1-ubyte", "t10k-labels.idx1-ubyte.gz", "fetch-data"});
  expect_mentions(error_message([&] { read_idx_folder(dir.path("nowhere"), "train"); }),
                  {dir.path("nowhere"), "no such folder", "train-images-idx3-ubyte"});
  expect_mentions(error_message([&] { read_idx_folder(kMnistDir, "test"); }),
                  {"\"train\" or \"t10k\"", "\"test\""});
}

TEST(IdxErrors, TruncatedImages) {
  SmallIdx files;
  write_file(files.images, idx_images(3, 2, 2, 10));
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.images, "truncated", "3 images of 2x2", "28 bytes", "holds 26 bytes"});
}

TEST(IdxErrors, TruncatedLabels) {
  SmallIdx files;
  write_file(files.labels, idx_labels(3, {1, 2}));
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.labels, "truncated", "3 labels", "11 bytes", "holds 10 bytes"});
}

TEST(IdxErrors, TruncatedInsideGzip) {
  SmallIdx files;
  write_file(files.images, test::gzip_bytes(idx_images(3, 2, 2, 7)));
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.images, "truncated", "28 bytes (decompressed)", "holds 23 bytes"});
}

TEST(IdxErrors, TruncatedHeader) {
  SmallIdx files;
  write_file(files.images, idx_images(3, 2, 2, 0).substr(0, 10));
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.images, "truncated IDX header", "10 bytes", "needs 16"});
}

TEST(IdxErrors, DeclaredCountLargerThanData) {
  SmallIdx files;
  write_file(files.images, idx_images(1000000, 28, 28, 784));
  expect_mentions(
      error_message([&] { read_idx_images(files.images); }),
      {files.images, "truncated", "1000000 images of 28x28", "784000016 bytes", "holds 800 bytes"});
  // Far past the 2 GiB cap: refused from the header alone, before any allocation.
  write_file(files.images, idx_images(4000000000u, 28, 28, 784));
  expect_mentions(error_message([&] { read_idx_images(files.images); }), {files.images, "2 GiB"});
  write_file(files.images, test::gzip_bytes(idx_images(2000000, 28, 28, 784)));
  expect_mentions(error_message([&] { read_idx_images(files.images); }),
                  {files.images, "truncated", "(decompressed)"});
}

TEST(IdxErrors, MoreDataThanDeclared) {
  SmallIdx files;
  write_file(files.images, idx_images(3, 2, 2, 13));
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.images, "more data than declared", "28 bytes", "holds 29 bytes"});
}

TEST(IdxErrors, WrongMagic) {
  SmallIdx files;
  expect_mentions(error_message([&] { read_idx(files.labels, files.images); }),
                  {files.labels, "magic number 2049", "expected 2051", "swapped"});
  write_file(files.images, "GIF89a" + std::string(100, '\0'));
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.images, "byte 0", "magic number", "not an IDX file"});
  std::string floats = idx_images(3, 2, 2, 12);
  floats[2] = 0x0d;
  write_file(files.images, floats);
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.images, "element type 0x0d"});
}

TEST(IdxErrors, ZeroSizedDimension) {
  SmallIdx files;
  write_file(files.images, idx_images(3, 0, 2, 0));
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.images, "byte 8", "rows is 0"});
}

TEST(IdxErrors, CountMismatchNamesBothFiles) {
  SmallIdx files;
  write_file(files.labels, idx_labels(2, {1, 2}));
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.images, files.labels, "3 images", "2 labels"});
}

TEST(IdxErrors, LabelOutOfRange) {
  SmallIdx files;
  write_file(files.labels, idx_labels(3, {1, 2, 12}));
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.labels, "label 2", "byte offset 10", "is 12", "0..9"});
  // Allowed with more classes.
  EXPECT_EQ(read_idx(files.images, files.labels, 13).label(2), 12);
  expect_mentions(error_message([&] { read_idx(files.images, files.labels, 0); }), {"num_classes"});
}

TEST(IdxErrors, EmptyAndMissingFiles) {
  SmallIdx files;
  write_file(files.labels, "");
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.labels, "empty file"});
  const std::string missing = files.dir.path("missing-idx3-ubyte");
  expect_mentions(error_message([&] { read_idx(missing, files.labels); }),
                  {missing, "no such file"});
}

TEST(IdxErrors, CorruptGzip) {
  SmallIdx files;
  std::string compressed = test::gzip_bytes(test::read_file(files.images));
  compressed[compressed.size() - 6] ^= 0x55;  // inside the CRC-32 trailer
  write_file(files.images, compressed);
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.images, "corrupt gzip"});

  // A damaged deflate block in the real labels file.
  std::string labels = test::read_file(kMnistDir + "/t10k-labels-idx1-ubyte.gz");
  for (size_t i = 100; i < 140; ++i) labels[i] = char(0xff);
  write_file(files.labels, labels);
  expect_mentions(
      error_message([&] { read_idx(kMnistDir + "/t10k-images-idx3-ubyte.gz", files.labels); }),
      {files.labels, "corrupt gzip"});

  // A gzip stream cut short, as an interrupted download leaves it.
  write_file(files.labels,
             test::read_file(kMnistDir + "/t10k-labels-idx1-ubyte.gz").substr(0, 2000));
  expect_mentions(
      error_message([&] { read_idx(kMnistDir + "/t10k-images-idx3-ubyte.gz", files.labels); }),
      {files.labels, "gzip stream is truncated"});

  // Only the two magic bytes.
  write_file(files.labels, "\x1f\x8b");
  expect_mentions(error_message([&] { read_idx(files.images, files.labels); }),
                  {files.labels, "gzip"});
}

TEST(IdxDataset, CopyFeaturesAndTruncate) {
  SmallIdx files;
  Dataset dataset = read_idx(files.images, files.labels);
  std::vector<float> features(dataset.feature_size());
  dataset.copy_features(1, features.data());
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(features[i], dataset.pixel(4 + i));

  dataset.truncate(5);  // no-op past the end
  EXPECT_EQ(dataset.count(), 3u);
  dataset.truncate(2);
  EXPECT_EQ(dataset.count(), 2u);
  EXPECT_EQ(dataset.pixel_bytes().size(), 8u);
  EXPECT_EQ(dataset.labels(), (std::vector<int32_t>{0, 9}));
  dataset.truncate(0);
  EXPECT_EQ(dataset.count(), 0u);
  EXPECT_TRUE(dataset.pixel_bytes().empty());
}

// Packed storage (what the CLI reads): the same features, labels and errors as bytes.
TEST(IdxPacked, MnistFeaturesEqualTheBytesInAQuarterOfTheMemory) {
  ScratchDir dir;
  const std::string images_raw = dir.path("t10k-images-idx3-ubyte");
  write_file(images_raw, test::gunzip_file(kMnistDir + "/t10k-images-idx3-ubyte.gz"));
  for (const char* split : {"train", "t10k"}) {
    const Dataset bytes = read_idx_folder(kMnistDir, split);
    const Dataset packed = read_idx_folder(kMnistDir, split, 10, PixelStorage::kPacked);
    ASSERT_EQ(packed.count(), bytes.count());
    EXPECT_EQ(packed.labels(), bytes.labels());
    EXPECT_EQ(packed.source(), bytes.source());
    EXPECT_EQ(packed.feature_size(), 784u);
    EXPECT_TRUE(packed.pixel_bytes().empty() && packed.features().empty());
    ASSERT_EQ(packed.packed_offsets().size(), packed.count() + 1);
    EXPECT_EQ(packed.packed_offsets().back(), packed.packed_pixels().size());
    EXPECT_LT(packed.packed_pixels().size(), bytes.pixel_bytes().size() / 3) << split;
    std::vector<float> want(784), got(784);
    size_t differ = 0;
    for (size_t i = 0; i < bytes.count(); ++i) {
      bytes.copy_features(i, want.data());
      packed.copy_features(i, got.data());
      differ += std::memcmp(want.data(), got.data(), sizeof(float) * 784) != 0;
    }
    EXPECT_EQ(differ, 0u) << split << ": images whose features differ";
    if (std::string(split) == "t10k") {
      const Dataset raw = read_idx_images(images_raw, PixelStorage::kPacked);
      EXPECT_TRUE(raw.packed_pixels() == packed.packed_pixels()) << "raw and gzip files differ";
      EXPECT_EQ(raw.packed_offsets(), packed.packed_offsets());
      EXPECT_EQ(raw.labels(), std::vector<int32_t>(10000, -1));
    }
  }
}

TEST(IdxPacked, PixelAndTruncate) {
  SmallIdx files;
  // 0 0 0 9 packs to (3, 1) 9; 1 2 3 4 would grow, so stays as is; 0 0 0 0 packs to (4, 0).
  write_file(files.images, big_endian(2051) + big_endian(3) + big_endian(2) + big_endian(2) +
                               std::string("\0\0\0\x09\x01\x02\x03\x04\0\0\0\0", 12));
  const Dataset bytes = read_idx(files.images, files.labels);
  Dataset packed = read_idx(files.images, files.labels, 10, PixelStorage::kPacked);
  EXPECT_EQ(packed.packed_offsets(), (std::vector<uint64_t>{0, 3, 7, 9}));
  EXPECT_EQ(packed.packed_pixels(), (std::vector<uint8_t>{3, 1, 9, 1, 2, 3, 4, 4, 0}));
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(packed.pixel(i), bytes.pixel(i)) << i;
  EXPECT_EQ(packed.image(0), bytes.image(0));

  packed.truncate(2);
  EXPECT_EQ(packed.count(), 2u);
  EXPECT_EQ(packed.packed_offsets(), (std::vector<uint64_t>{0, 3, 7}));
  EXPECT_EQ(packed.packed_pixels().size(), 7u);
  EXPECT_EQ(packed.image(1), bytes.image(1));
  packed.truncate(0);
  EXPECT_EQ(packed.count(), 0u);
  EXPECT_TRUE(packed.packed_pixels().empty());
}

TEST(IdxPacked, DamagedFilesGiveTheSameErrors) {
  SmallIdx files;
  const std::vector<std::string> damaged = {
      idx_images(3, 2, 2, 10),                                // truncated
      idx_images(3, 2, 2, 13),                                // more data than declared
      test::gzip_bytes(idx_images(3, 2, 2, 7)),               // truncated inside gzip
      test::gzip_bytes(idx_images(3, 2, 2, 12) + "extra"),    // more inside gzip
      test::gzip_bytes(idx_images(2000000, 28, 28, 784)),     // a huge count, little data
      test::read_file(kMnistDir + "/t10k-images-idx3-ubyte.gz").substr(0, 100000),  // cut short
  };
  for (const std::string& content : damaged) {
    write_file(files.images, content);
    const std::string as_bytes = error_message([&] { read_idx(files.images, files.labels); });
    EXPECT_FALSE(as_bytes.empty());
    EXPECT_EQ(error_message([&] {
                read_idx(files.images, files.labels, 10, PixelStorage::kPacked);
              }),
              as_bytes);
  }
}

}  // namespace
}  // namespace edgetrain
