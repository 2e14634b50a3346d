#include "cli/png_input.h"

#include "base/atomic_file.h"
#include "edgetrain/error.h"
#include "edgetrain/image.h"
#include "nn/shapes.h"

namespace edgetrain::cli {
namespace {

// Larger files are not images anyone means to classify.
constexpr size_t kMaxPngFileBytes = size_t(64) << 20;

}  // namespace

std::vector<float> read_png_input(const std::string& path, const Model& model, bool digit) {
  return png_input(read_whole_file(path, kMaxPngFileBytes), path, model, digit);
}

std::vector<float> png_input(const std::string& png, const std::string& path, const Model& model,
                             bool digit) {
  const Feature& input = model.inputs.at(0);
  const Shape input_shape = feature_shape(input, model);
  if (model.inputs.size() != 1 || input_shape.rank() != 3) {
    throw Error(path + ": a PNG image feeds a model with one input of shape [C, H, W] or [n]; " +
                "this one takes " + std::to_string(model.inputs.size()) + " input(s), the first " +
                input_shape.text());
  }
  int channels = input_shape[0];
  const int height = input_shape[1], width = input_shape[2];
  const std::array<int, 3> shape{channels, height, width};  // (C, H, W)
  const bool flat = height == 1 && width == 1 && input.type != FeatureType::kImage;
  if (flat) channels = 1;  // a flat [n] multiArray: any gray image of n pixels, row by row
  if (channels != 1 && channels != 3) {
    throw Error(path + ": the model input '" + input.name + "' has " + std::to_string(channels) +
                " channels; a PNG image can feed 1 (gray) or 3 (RGB)");
  }
  const bool digit_input = channels == 1 && !flat && height == width;
  if (digit && !digit_input) {
    throw Error(path +
                ": --digit needs a model whose input is one square gray image (as MNIST's "
                "28x28); '" +
                input.name + "' is not");
  }
  const bool bgr = input.type == FeatureType::kImage && input.image.color_space == ColorSpace::kBGR;
  const PngPixels image = decode_png(png, path,
                                     channels == 1 ? PngColor::kGray
                                     : bgr         ? PngColor::kBGR
                                                   : PngColor::kRGB);
  const size_t pixels = size_t(image.width) * size_t(image.height);
  const bool fits =
      flat ? pixels == size_t(shape[0]) : image.width == width && image.height == height;
  if (digit) {
    GrayImage gray{image.width, image.height, std::vector<float>(pixels)};
    for (size_t p = 0; p < pixels; ++p) gray.pixels[p] = image.bytes[p] / 255.0f;
    return mnist_style_digit(gray, width).pixels;
  }
  if (!fits) {
    const std::string takes = flat ? "a gray image of " + std::to_string(shape[0]) + " pixels"
                                   : std::to_string(width) + "x" + std::to_string(height);
    throw Error(path + ": the image is " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + " but the model input '" + input.name + "' takes " +
                takes +
                (digit_input ? " (resize it first, or give --digit for a drawing of a digit)"
                             : " (resize it first)"));
  }
  // Interleaved (H, W, C) bytes → planar (C, H, W) floats in [0, 1].
  std::vector<float> features(pixels * size_t(channels));
  for (size_t p = 0; p < pixels; ++p) {
    for (int c = 0; c < channels; ++c) {
      features[size_t(c) * pixels + p] =
          float(image.bytes[p * size_t(channels) + size_t(c)]) / 255.0f;
    }
  }
  return features;
}

}  // namespace edgetrain::cli
