// MNIST-style digit preprocessing (mnist_style_digit) and PNG decoding and encoding.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/image.h"
#include "edgetrain/inference.h"
#include "mnist_test_set.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

using test_data::mnist_test_set;

GrayImage blank(int width, int height, float value = 0.0f) {
  return {width, height, std::vector<float>(size_t(width) * size_t(height), value)};
}

void fill(GrayImage& image, int left, int top, int width, int height, float value) {
  for (int y = top; y < top + height; ++y) {
    for (int x = left; x < left + width; ++x) image.pixels[size_t(y) * image.width + x] = value;
  }
}

struct Ink {
  double mass = 0, centre_x = 0, centre_y = 0;
  int left = 1 << 30, top = 1 << 30, right = -1, bottom = -1;  // of pixels > 0
};
Ink ink_of(const GrayImage& image) {
  Ink ink;
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const float v = image.pixels[size_t(y) * image.width + x];
      ink.mass += v, ink.centre_x += v * (x + 0.5), ink.centre_y += v * (y + 0.5);
      if (v > 0) {
        ink.left = std::min(ink.left, x), ink.right = std::max(ink.right, x);
        ink.top = std::min(ink.top, y), ink.bottom = std::max(ink.bottom, y);
      }
    }
  }
  ink.centre_x /= ink.mass, ink.centre_y /= ink.mass;
  return ink;
}

// MNIST test image `index`, `scale` times larger (each pixel a scale x scale block), placed at
// (left, top) in a width x height canvas, dark ink on white paper when `paper`.
GrayImage drawn_digit(size_t index, int scale, int width, int height, int left, int top,
                      bool paper) {
  const std::vector<float> digit = mnist_test_set().image(index);
  GrayImage canvas = blank(width, height, paper ? 1.0f : 0.0f);
  for (int y = 0; y < 28 * scale; ++y) {
    for (int x = 0; x < 28 * scale; ++x) {
      const float v = digit[size_t(y / scale) * 28 + size_t(x / scale)];
      canvas.pixels[size_t(top + y) * width + left + x] = paper ? 1.0f - v : v;
    }
  }
  return canvas;
}

TEST(DigitImage, ARectangleIsScaledIntoTheBoxKeepingItsShapeAndCentred) {
  GrayImage drawing = blank(200, 100);
  fill(drawing, 17, 9, 40, 80, 1.0f);  // 40 wide, 80 high: 10 x 20 once scaled
  const GrayImage field = mnist_style_digit(drawing);
  ASSERT_EQ(field.width, 28);
  ASSERT_EQ(field.height, 28);
  const Ink ink = ink_of(field);
  EXPECT_EQ(ink.right - ink.left + 1, 10);
  EXPECT_EQ(ink.bottom - ink.top + 1, 20);
  EXPECT_NEAR(ink.mass, 200.0, 1e-3);    // area averaging keeps the ink
  EXPECT_NEAR(ink.centre_x, 14.5, 0.5);  // the middle of pixel 14, as MNIST
  EXPECT_NEAR(ink.centre_y, 14.5, 0.5);
  for (float v : field.pixels) EXPECT_TRUE(v == 0.0f || std::abs(v - 1.0f) < 1e-5f) << v;
}

TEST(DigitImage, AreaAveragingGivesGreyLevels) {
  // A 40x40 checkerboard of single pixels: every output pixel covers two by two of them.
  GrayImage drawing = blank(40, 40);
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 40; ++x) drawing.pixels[size_t(y) * 40 + x] = float((x + y) % 2);
  }
  const GrayImage field = mnist_style_digit(drawing);
  const Ink ink = ink_of(field);
  EXPECT_EQ(ink.right - ink.left + 1, 20);
  EXPECT_EQ(ink.bottom - ink.top + 1, 20);
  for (float v : field.pixels) EXPECT_TRUE(v == 0.0f || std::abs(v - 0.5f) < 1e-5f) << v;
}

TEST(DigitImage, WhereAndHowLargeTheDigitIsDrawnDoesNotMatter) {
  const GrayImage small = mnist_style_digit(drawn_digit(0, 2, 120, 90, 10, 20, false));
  const GrayImage moved = mnist_style_digit(drawn_digit(0, 2, 120, 90, 60, 30, false));
  EXPECT_EQ(small.pixels, moved.pixels) << "a translation changes nothing";
  // Dark ink on white paper is the same digit.
  const GrayImage paper = mnist_style_digit(drawn_digit(0, 2, 120, 90, 10, 20, true));
  for (size_t i = 0; i < small.pixels.size(); ++i)
    EXPECT_NEAR(paper.pixels[i], small.pixels[i], 1e-6f);
  // Four times larger: the same to within the rounding of the box's sides.
  const GrayImage large = mnist_style_digit(drawn_digit(0, 8, 300, 300, 40, 7, false));
  double difference = 0;
  for (size_t i = 0; i < large.pixels.size(); ++i) {
    difference += std::abs(large.pixels[i] - small.pixels[i]);
  }
  EXPECT_LT(difference / double(ink_of(small).mass), 0.05);
}

// MNIST's own digits were made this way: redrawn five times larger (on white paper, or ink on
// black), they come out as they were, and a trained network reads them as well as the originals.
TEST(DigitImage, RedrawnMnistDigitsComeOutAsThemselves) {
  const Model model =
      read_mlmodel(test_paths::source("../shared/coreml-models/mnist-cnn-image-input.mlmodel"));
  Predictor predictor(model);
  const Dataset& test = mnist_test_set();
  size_t original = 0, redrawn = 0, same = 0;
  const size_t count = 300;
  for (size_t i = 0; i < count; ++i) {
    const std::vector<float> digit = test.image(i);
    original += predictor.predict(digit).label == test.labels[i];
    const GrayImage input =
        mnist_style_digit(drawn_digit(i, 5, 190, 170, int(i % 40), 15, i % 2 == 0));
    redrawn += predictor.predict(input.pixels).label == test.labels[i];
    float difference = 0;
    for (size_t p = 0; p < 784; ++p)
      difference = std::max(difference, std::abs(input.pixels[p] - digit[p]));
    same += difference < 1e-5f;
  }
  // The others have edge pixels fainter than 1/20 of their ink, left out of the bounding box.
  EXPECT_GE(same, 270u) << "of " << count;
  EXPECT_GE(original, 295u);
  EXPECT_GE(redrawn + 1, original)
      << original << " originals and " << redrawn << " redrawn digits read right, of " << count;
}

TEST(DigitImage, EmptyAndBadImages) {
  const GrayImage empty = mnist_style_digit(blank(50, 50));
  EXPECT_EQ(empty.pixels, std::vector<float>(784, 0.0f));
  EXPECT_EQ(mnist_style_digit(blank(50, 50, 1.0f)).pixels, std::vector<float>(784, 0.0f))
      << "white paper without ink";
  GrayImage dot = blank(1, 1, 0.0f);
  dot.pixels[0] = 0.3f;  // one pixel, its border: not bright enough to be paper
  const Ink ink = ink_of(mnist_style_digit(dot));
  EXPECT_EQ(ink.right - ink.left + 1, 20);
  EXPECT_THROW(mnist_style_digit(GrayImage{0, 5, {}}), Error);
  EXPECT_THROW(mnist_style_digit(GrayImage{3, 3, std::vector<float>(8)}), Error);
  GrayImage bad = blank(4, 4);
  bad.pixels[5] = NAN;
  EXPECT_THROW(mnist_style_digit(bad), Error);
  EXPECT_THROW(mnist_style_digit(blank(4, 4), 1), Error);
}

TEST(DigitImage, OtherFieldSizes) {
  GrayImage drawing = blank(30, 30);
  fill(drawing, 5, 5, 10, 20, 1.0f);
  const GrayImage field = mnist_style_digit(drawing, 56);  // box 40
  ASSERT_EQ(field.pixels.size(), 56u * 56u);
  const Ink ink = ink_of(field);
  EXPECT_EQ(ink.bottom - ink.top + 1, 40);
  EXPECT_EQ(ink.right - ink.left + 1, 20);
}

TEST(PngImage, EncodesAndDecodesGrayImages) {
  GrayImage image = blank(5, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = float(i) / 14.0f;
  const std::string png = encode_png_gray(image);
  ASSERT_EQ(png.compare(0, 4, "\x89PNG"), 0);
  const GrayImage back = decode_png_gray(png, "five-by-three.png");
  ASSERT_EQ(back.width, 5);
  ASSERT_EQ(back.height, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    EXPECT_NEAR(back.pixels[i], image.pixels[i], 0.5f / 255.0f + 1e-6f);
  }
  const PngPixels rgb = decode_png(png, "five-by-three.png", PngColor::kRGB);
  EXPECT_EQ(rgb.channels, 3);
  EXPECT_EQ(rgb.bytes.size(), 45u);
  EXPECT_EQ(rgb.bytes[3 * 14], rgb.bytes[3 * 14 + 2]);  // gray: every channel alike
}

TEST(PngImage, RefusesWhatIsNotAPngOrTooLarge) {
  try {
    decode_png("not a png", "bad.png");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.png: cannot read it as a PNG image"),
              std::string::npos)
        << e.what();
  }
  const std::string png = encode_png_gray(blank(40, 30));
  EXPECT_THROW(decode_png(png.substr(0, png.size() / 2), "half.png"), Error);
  try {
    decode_png(png, "big.png", PngColor::kGray, 1000);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the image is 40x30; at most 1000 pixels"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(encode_png_gray(GrayImage{2, 2, std::vector<float>(3)}), Error);
}

}  // namespace
}  // namespace edgetrain
