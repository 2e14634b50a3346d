// PNG decoding and encoding with libpng's simplified API, from and to memory.
#include <png.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "edgetrain/error.h"
#include "edgetrain/image.h"

namespace edgetrain {

PngPixels decode_png(const std::string& png, const std::string& source_name, PngColor color,
                     size_t max_pixels) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, png.data(), png.size())) {
    throw Error(source_name + ": cannot read it as a PNG image (" + image.message + ")");
  }
  // Frees libpng's state on every path out (a no-op after png_image_finish_read).
  std::unique_ptr<png_image, void (*)(png_image*)> guard(&image, png_image_free);
  const size_t pixels = size_t(image.width) * image.height;
  if (image.width == 0 || image.height == 0 || pixels > max_pixels) {
    throw Error(source_name + ": the image is " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + "; at most " + std::to_string(max_pixels) +
                " pixels are accepted");
  }
  image.format = color == PngColor::kGray  ? PNG_FORMAT_GRAY
                 : color == PngColor::kBGR ? PNG_FORMAT_BGR
                                           : PNG_FORMAT_RGB;
  PngPixels result;
  result.width = int(image.width);
  result.height = int(image.height);
  result.channels = color == PngColor::kGray ? 1 : 3;
  result.bytes.assign(PNG_IMAGE_SIZE(image), 0);  // zero: alpha composes onto black
  if (!png_image_finish_read(&image, nullptr, result.bytes.data(), 0, nullptr)) {
    throw Error(source_name + ": cannot decode the PNG image (" + image.message + ")");
  }
  return result;
}

GrayImage decode_png_gray(const std::string& png, const std::string& source_name) {
  const PngPixels decoded = decode_png(png, source_name, PngColor::kGray);
  GrayImage image{decoded.width, decoded.height, std::vector<float>(decoded.bytes.size())};
  for (size_t i = 0; i < decoded.bytes.size(); ++i) image.pixels[i] = decoded.bytes[i] / 255.0f;
  return image;
}

std::string encode_png_gray(const GrayImage& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != size_t(image.width) * size_t(image.height)) {
    throw Error("cannot encode a " + std::to_string(image.width) + "x" +
                std::to_string(image.height) + " image holding " +
                std::to_string(image.pixels.size()) + " pixels as PNG");
  }
  std::vector<png_byte> bytes(image.pixels.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    const float value = std::isfinite(image.pixels[i]) ? image.pixels[i] : 0.0f;
    bytes[i] = png_byte(std::lround(std::clamp(value, 0.0f, 1.0f) * 255.0f));
  }
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = png_uint_32(image.width);
  png.height = png_uint_32(image.height);
  png.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&png, nullptr, &size, 0, bytes.data(), 0, nullptr)) {
    throw Error(std::string("cannot encode the image as PNG (") + png.message + ")");
  }
  std::string encoded(size, '\0');
  if (!png_image_write_to_memory(&png, encoded.data(), &size, 0, bytes.data(), 0, nullptr)) {
    throw Error(std::string("cannot encode the image as PNG (") + png.message + ")");
  }
  encoded.resize(size);
  return encoded;
}

}  // namespace edgetrain
