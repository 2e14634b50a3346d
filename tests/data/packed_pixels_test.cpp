// The zero-run packer (PixelStorage::kPacked) on hand-made images: blank, without zeros,
// alternating, runs past 255 either way, 1-pixel images, each handed over in pieces of every size.
#include "data/packed_pixels.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace edgetrain::data {
namespace {

struct Packed {
  std::vector<uint8_t> bytes;
  std::vector<uint64_t> offsets{0};
};

// Packs `images` (whole images of `size` bytes, back to back) in pieces of `piece` bytes.
Packed pack(const std::vector<uint8_t>& images, size_t size, size_t piece) {
  Packed packed;
  PixelPacker packer(packed.bytes, packed.offsets, size);
  for (size_t at = 0; at < images.size(); at += piece) {
    packer.add(images.data() + at, std::min(piece, images.size() - at));
  }
  EXPECT_TRUE(packer.at_image_boundary());
  return packed;
}

std::vector<uint8_t> unpack_all(const Packed& packed, size_t size) {
  std::vector<uint8_t> images((packed.offsets.size() - 1) * size);
  for (size_t i = 0; i + 1 < packed.offsets.size(); ++i) {
    const uint64_t begin = packed.offsets[i], end = packed.offsets[i + 1];
    unpack_image(packed.bytes.data() + begin, end - begin, size, images.data() + i * size,
                 [](uint8_t v) { return v; });
  }
  return images;
}

TEST(PixelPacker, RoundTripsEveryKindOfImageInPiecesOfAnySize) {
  const size_t size = 40 * 40;  // long enough for runs past 255 of zeros and of nonzero bytes
  std::vector<std::vector<uint8_t>> images(6, std::vector<uint8_t>(size, 0));
  // images[0] stays blank.
  std::fill(images[1].begin(), images[1].end(), 255);                 // no zero at all
  for (size_t i = 0; i < size; i += 2) images[2][i + 1] = 7;          // 0, 7, 0, 7, ...
  for (size_t i = 600; i < 900; ++i) images[3][i] = uint8_t(1 + i % 255);  // a long stroke
  images[4].front() = images[4].back() = 9;  // nonzero at both ends, zeros between
  for (size_t i = 0; i < size; ++i) {
    images[5][i] = (i * 2654435761u) % 5 == 0 ? uint8_t(i % 251 + 1) : 0;  // sparse noise
  }
  std::vector<uint8_t> all;
  for (const auto& image : images) all.insert(all.end(), image.begin(), image.end());

  const Packed whole = pack(all, size, all.size());
  ASSERT_EQ(whole.offsets.size(), images.size() + 1);
  std::vector<size_t> stored;
  for (size_t i = 0; i < images.size(); ++i) {
    stored.push_back(whole.offsets[i + 1] - whole.offsets[i]);
    EXPECT_LE(stored[i], size) << "image " << i << " grew";
  }
  EXPECT_EQ(stored[0], 14u) << "1600 zeros: 7 pairs of at most 255";
  EXPECT_EQ(stored[1], size) << "no zeros: kept as is";
  EXPECT_EQ(stored[2], size) << "pairs would take 1.5x: kept as is";
  // Pairs (255, 0) (255, 0) (90, 255) (0, 45) (255, 0) (255, 0) (190, 0) and the 300 literals.
  EXPECT_EQ(stored[3], 7u * 2 + 300);
  // Pairs (0, 1) (255, 0) x6 (68, 1) and the two 9s.
  EXPECT_EQ(stored[4], 8u * 2 + 2);
  EXPECT_LT(stored[5], size) << "a fifth of the pixels, scattered: about 3 bytes each";
  EXPECT_EQ(unpack_all(whole, size), all);

  for (size_t piece : {size_t(1), size_t(3), size_t(784), size - 1, size + 1}) {
    const Packed split = pack(all, size, piece);
    EXPECT_EQ(split.bytes, whole.bytes) << "pieces of " << piece;
    EXPECT_EQ(split.offsets, whole.offsets) << "pieces of " << piece;
  }
}

TEST(PixelPacker, OnePixelImagesAreKeptAsIs) {
  const std::vector<uint8_t> all = {0, 5, 0, 255};
  const Packed packed = pack(all, 1, 3);
  EXPECT_EQ(packed.bytes, all);
  EXPECT_EQ(packed.offsets, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(unpack_all(packed, 1), all);
}

}  // namespace
}  // namespace edgetrain::data
