// libFuzzer target: PNG images as a model input (read_png_input, src/cli/png_input.cpp, on
// libpng).
//
// Input: byte 0 picks the model input the image must feed (modulo 5: a gray [1, H, W] multiArray,
// a grayscale / RGB / BGR image feature, a flat [H*W] multiArray) and, for the two gray ones when
// byte 0 / 5 is odd, `predict --digit`: any image made MNIST-like for a 28x28 input
// (mnist_style_digit); the rest is the PNG file. Otherwise H and W are the image's own (from its
// IHDR chunk, when they are 1..512; else 28x28), so most inputs get past the size check into
// decoding. Only edgetrain::Error may escape.
#include <cstdint>
#include <string>

#include "cli/png_input.h"
#include "edgetrain/error.h"
#include "edgetrain/model.h"
#include "fuzz_util.h"

namespace {

uint32_t big_endian(const uint8_t* bytes) {
  return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | bytes[3];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgetrain;
  static fuzz::MemoryFile file("png");
  if (size < 1) return 0;
  const int kind = data[0] % 5;
  const bool digit = (kind == 0 || kind == 1) && (data[0] / 5) % 2 == 1;
  const uint8_t* png = data + 1;
  const size_t png_size = size - 1;
  int64_t width = 28, height = 28;
  if (png_size >= 24) {  // 8-byte signature, chunk length and type, then IHDR's width and height
    const uint32_t w = big_endian(png + 16), h = big_endian(png + 20);
    if (w >= 1 && w <= 512 && h >= 1 && h <= 512) width = w, height = h;
  }
  if (digit) width = height = 28;
  Feature input{.name = "image"};
  switch (kind) {
    case 0:
      input.shape = {1, height, width};
      break;
    case 4:
      input.shape = {height * width};
      break;
    default:
      input.type = FeatureType::kImage;
      input.image = {.color_space = kind == 1   ? ColorSpace::kGrayscale
                                    : kind == 2 ? ColorSpace::kRGB
                                                : ColorSpace::kBGR,
                     .width = width,
                     .height = height};
  }
  Model model;
  model.inputs = {input};
  file.assign(png, png_size);
  try {
    const std::vector<float> features = cli::read_png_input(file.path(), model, digit);
    const size_t channels = kind == 2 || kind == 3 ? 3 : 1;
    FUZZ_CHECK(features.size() == channels * size_t(width) * size_t(height));
    for (float value : features) FUZZ_CHECK(value >= 0.0f && value <= 1.0f);
    fuzz::accepted("read_png_input");
  } catch (const Error& error) {
    fuzz::refused("read_png_input", error);
  }
  return 0;
}
