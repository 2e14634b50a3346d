#include "cli/png_input.h"

#include <png.h>

#include <memory>

#include "edgetrain/error.h"
#include "nn/shapes.h"

namespace edgetrain::cli {

std::vector<float> read_png_input(const std::string& path, const Model& model) {
  const Feature& input = model.inputs.at(0);
  const Shape input_shape = feature_shape(input, model);
  if (model.inputs.size() != 1 || input_shape.rank() != 3) {
    throw Error(path + ": a PNG image feeds a model with one input of shape [C, H, W] or [n]; " +
                "this one takes " + std::to_string(model.inputs.size()) + " input(s), the first " +
                input_shape.text());
  }
  const std::array<int, 3> shape{input_shape[0], input_shape[1], input_shape[2]};  // (C, H, W)
  int channels = shape[0], height = shape[1], width = shape[2];
  if (height == 1 && width == 1 && input.type != FeatureType::kImage) {
    channels = 1;  // a flat [n] multiArray: any gray image of n pixels, row by row
  }
  if (channels != 1 && channels != 3) {
    throw Error(path + ": the model input '" + input.name + "' has " + std::to_string(channels) +
                " channels; a PNG image can feed 1 (gray) or 3 (RGB)");
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    throw Error(path + ": cannot read it as a PNG image (" + image.message + ")");
  }
  // Frees libpng's state on every path out (a no-op after png_image_finish_read).
  std::unique_ptr<png_image, void (*)(png_image*)> guard(&image, png_image_free);
  const size_t pixels = size_t(image.width) * image.height;
  const bool flat = shape[1] == 1 && shape[2] == 1 && input.type != FeatureType::kImage;
  const bool fits = flat ? pixels == size_t(shape[0])
                         : image.width == png_uint_32(width) && image.height == png_uint_32(height);
  if (!fits) {
    const std::string takes = flat ? "a gray image of " + std::to_string(shape[0]) + " pixels"
                                   : std::to_string(width) + "x" + std::to_string(height);
    throw Error(path + ": the image is " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + " but the model input '" + input.name + "' takes " +
                takes + " (resize it first)");
  }
  const bool bgr = input.type == FeatureType::kImage && input.image.color_space == ColorSpace::kBGR;
  image.format = channels == 1 ? PNG_FORMAT_GRAY : bgr ? PNG_FORMAT_BGR : PNG_FORMAT_RGB;
  std::vector<png_byte> buffer(PNG_IMAGE_SIZE(image), 0);  // zero: alpha composes onto black
  if (!png_image_finish_read(&image, nullptr, buffer.data(), 0, nullptr)) {
    throw Error(path + ": cannot decode the PNG image (" + image.message + ")");
  }
  // Interleaved (H, W, C) bytes → planar (C, H, W) floats in [0, 1].
  std::vector<float> features(pixels * size_t(channels));
  for (size_t p = 0; p < pixels; ++p) {
    for (int c = 0; c < channels; ++c) {
      features[size_t(c) * pixels + p] = float(buffer[p * size_t(channels) + size_t(c)]) / 255.0f;
    }
  }
  return features;
}

}  // namespace edgetrain::cli
