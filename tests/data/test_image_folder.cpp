// Images as training data: JPEG decoding, the scale-to-fill resize, and folders of one subfolder
// per class read into memory or decoded from disk as asked.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "data/image_files.h"
#include "data/test_files.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"
#include "edgetrain/image.h"

namespace edgetrain {
namespace {

namespace fs = std::filesystem;

using test::error_message;  // the Error's message (a test failure when none is thrown)

// A width x height image of one colour (gray: the first value).
ImagePixels flat(int width, int height, std::vector<uint8_t> color) {
  ImagePixels image{width, height, int(color.size()), {}};
  for (int p = 0; p < width * height; ++p)
    image.bytes.insert(image.bytes.end(), color.begin(), color.end());
  return image;
}

TEST(ResizeImage, EnlargingInterpolatesBetweenPixelCentres) {
  // Output centres 0.25, 0.75, 1.25, 1.75 of 2 source pixels (centres 0.5, 1.5): the outer two
  // clamp to the edge values, the inner two are 1/4 and 3/4 of the way: 63.75 and 191.25.
  const ImagePixels wide = resize_image({2, 1, 1, {0, 255}}, 4, 1);
  EXPECT_EQ(wide.bytes, (std::vector<uint8_t>{0, 64, 191, 255}));
  const ImagePixels tall = resize_image({1, 2, 1, {0, 255}}, 1, 4);
  EXPECT_EQ(tall.bytes, wide.bytes);
}

TEST(ResizeImage, ShrinkingWeighsEverySourcePixelUnderTheWidenedFilter) {
  // 6 -> 3: scale 2, so the triangle is 2 pixels wide each side. Output 0 (centre 1) weighs source
  // pixels 0, 1, 2 by 0.75, 0.75, 0.25: (7.5 + 15 + 7.5) / 1.75 = 17.14; output 1 (centre 3)
  // weighs 1..4 by 0.25, 0.75, 0.75, 0.25: 70 / 2 = 35; output 2: 92.5 / 1.75 = 52.86.
  const ImagePixels small = resize_image({6, 1, 1, {10, 20, 30, 40, 50, 60}}, 3, 1);
  EXPECT_EQ(small.bytes, (std::vector<uint8_t>{17, 35, 53}));
  // Channels are resampled apart; a flat image stays flat at any size.
  const ImagePixels colour = resize_image(flat(7, 5, {200, 10, 99}), 3, 11);
  EXPECT_EQ(colour.width, 3);
  EXPECT_EQ(colour.height, 11);
  EXPECT_EQ(colour.bytes, flat(3, 11, {200, 10, 99}).bytes);
  // The same size is the image itself.
  const ImagePixels same{3, 1, 1, {1, 2, 3}};
  EXPECT_EQ(resize_image(same, 3, 1).bytes, same.bytes);
  EXPECT_NE(error_message([] {
              resize_image({2, 2, 1, {1, 2, 3}}, 1, 1);
            }).find("holds 3 bytes"),
            std::string::npos);
}

TEST(DecodeJpeg, ColourAndGrayImagesComeBackCloseToWhatWasEncoded) {
  ImagePixels halves = flat(16, 16, {230, 20, 20});
  for (int y = 8; y < 16; ++y) {
    for (int x = 0; x < 16; ++x) {
      uint8_t* p = halves.bytes.data() + size_t(y * 16 + x) * 3;
      p[0] = 20, p[1] = 20, p[2] = 230;
    }
  }
  const std::string jpeg = test_images::encode_jpeg(halves);
  EXPECT_TRUE(is_jpeg(jpeg));
  EXPECT_FALSE(is_png(jpeg));
  const ImagePixels rgb = decode_image(jpeg, "halves.jpg", ImageColor::kRGB);
  ASSERT_EQ(rgb.width, 16);
  ASSERT_EQ(rgb.channels, 3);
  // Far from the edge between the halves (JPEG blurs colour across 8x8 blocks at most).
  EXPECT_NEAR(rgb.bytes[0], 230, 8);
  EXPECT_NEAR(rgb.bytes[2], 20, 8);
  EXPECT_NEAR(rgb.bytes[(15 * 16 + 15) * 3 + 2], 230, 8);
  const ImagePixels bgr = decode_jpeg(jpeg, "halves.jpg", ImageColor::kBGR);
  EXPECT_EQ(bgr.bytes[0], rgb.bytes[2]);
  const ImagePixels gray = decode_jpeg(jpeg, "halves.jpg", ImageColor::kGray);
  EXPECT_EQ(gray.channels, 1);
  EXPECT_NEAR(gray.bytes[0], 0.299 * 230 + 0.587 * 20 + 0.114 * 20, 8);  // the JPEG's luma
  const ImagePixels gray_source = decode_jpeg(test_images::encode_jpeg(flat(8, 8, {77})), "g.jpg");
  EXPECT_NEAR(gray_source.bytes[5], 77, 1);
}

TEST(DecodeJpeg, BrokenFilesAreRefusedNamingThem) {
  ImagePixels noise = flat(64, 64, {0, 0, 0});
  for (size_t i = 0; i < noise.bytes.size(); ++i) noise.bytes[i] = uint8_t(i * 7919 % 251);
  const std::string jpeg = test_images::encode_jpeg(noise);
  // Cut in its entropy-coded data, well past the headers.
  const std::string cut =
      error_message([&] { decode_jpeg(jpeg.substr(0, jpeg.size() * 3 / 4), "cut.jpg"); });
  EXPECT_NE(cut.find("cut.jpg: the JPEG data ends before the image does"), std::string::npos)
      << cut;
  EXPECT_NE(error_message([&] {
              decode_jpeg(jpeg.substr(0, 40), "header.jpg");
            }).find("header.jpg: cannot decode the JPEG image"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              decode_jpeg(jpeg, "big.jpg", ImageColor::kGray, 1000);
            }).find("big.jpg: the image is 64x64; at most 1000 pixels"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              decode_image("GIF89a....", "x.gif");
            }).find("x.gif: neither a PNG nor a JPEG image"),
            std::string::npos);
}

class ImageFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder = fs::temp_directory_path() /
             ("edgetrain-images-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(folder);
  }
  void TearDown() override { fs::remove_all(folder); }
  void write(const std::string& name, const std::string& bytes) const {
    fs::create_directories((folder / name).parent_path());
    std::ofstream((folder / name).string(), std::ios::binary) << bytes;
  }
  fs::path folder;
};

TEST_F(ImageFolderTest, ClassesAreSubfoldersAndImagesAreResizedToTheInput) {
  write("red/a.png", test_images::encode_png(flat(10, 6, {255, 0, 0})));
  write("red/b.PNG", test_images::encode_png(flat(3, 3, {250, 0, 0})));
  write("blue/c.jpg", test_images::encode_jpeg(flat(16, 16, {0, 0, 255})));
  write("blue/notes.txt", "not an image");
  write("blue/.hidden.png", "ignored");
  write(".cache/d.png", "ignored");
  const ImageFolderOptions rgb{.width = 4, .height = 4, .color = ImageColor::kRGB};
  const Dataset data = read_image_folder(folder.string(), rgb);
  ASSERT_EQ(data.count(), 3u);
  EXPECT_EQ(data.class_names(), (std::vector<std::string>{"blue", "red"}));
  EXPECT_EQ(data.labels(), (std::vector<int32_t>{0, 1, 1}));
  EXPECT_EQ(data.shape(), (SampleShape{.channels = 3, .height = 4, .width = 4}));
  const std::vector<float> red = data.image(1);  // (C, H, W): 16 reds, 16 greens, 16 blues
  EXPECT_EQ(red[0], 1.0f);
  EXPECT_EQ(red[16], 0.0f);
  EXPECT_NEAR(data.image(0)[32], 1.0f, 3 / 255.0f);  // the JPEG's blue
  EXPECT_TRUE(is_image_folder(folder.string()));

  // Decoded from disk as asked: the same samples.
  const ImageFolder streamed(folder.string(), rgb);
  ASSERT_EQ(streamed.count(), 3u);
  EXPECT_EQ(streamed.class_names(), data.class_names());
  EXPECT_EQ(streamed.sample_name(2), "red/b.PNG");
  EXPECT_EQ(data.sample_name(2), "red/b.PNG");
  std::vector<float> features(streamed.feature_size());
  for (size_t i = 0; i < 3; ++i) {
    streamed.copy_features(i, features.data());
    EXPECT_EQ(features, data.image(i)) << i;
    EXPECT_EQ(streamed.label(i), data.label(i));
  }
  const Dataset gray =
      read_image_folder(folder.string(), {.width = 2, .height = 3, .color = ImageColor::kGray});
  EXPECT_EQ(gray.shape(), (SampleShape{.channels = 1, .height = 3, .width = 2}));
}

TEST_F(ImageFolderTest, BadFoldersAndFilesAreNamed) {
  const ImageFolderOptions options{.width = 4, .height = 4};
  write("loose.png", test_images::encode_png(flat(2, 2, {9})));
  EXPECT_NE(error_message([&] {
              read_image_folder(folder.string(), options);
            }).find(": no class subfolders; an image folder holds one subfolder per class"),
            std::string::npos);
  EXPECT_FALSE(is_image_folder(folder.string()));
  write("cats/readme.txt", "no images here");
  EXPECT_NE(error_message([&] {
              read_image_folder(folder.string(), options);
            }).find("cats: the class folder holds no image (.png, .jpg or .jpeg)"),
            std::string::npos);
  write("cats/a.png", test_images::encode_png(flat(2, 2, {9})));
  write("cats/b.jpg", "\xff\xd8\xff truncated");
  const std::string bad = (folder / "cats" / "b.jpg").string();
  EXPECT_NE(error_message([&] {
              read_image_folder(folder.string(), options);
            }).find(bad + ": cannot decode the JPEG image"),
            std::string::npos);
  write("cats/c.png", "plain text");
  const std::string text = (folder / "cats" / "c.png").string();
  EXPECT_NE(error_message([&] {
              ImageFolder(folder.string(), options);
            }).find(text + ": neither a PNG nor a JPEG image"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              read_image_folder((folder / "missing").string(), options);
            }).find("missing: no such folder"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              read_image_folder(folder.string(), {.width = 0, .height = 4});
            }).find("cannot resize images to 0x4"),
            std::string::npos);
}

}  // namespace
}  // namespace edgetrain
