// Images as model inputs: PNG decoding and encoding, and turning a drawing (or a photo) of a digit
// into MNIST-like input the way MNIST itself was made.
//
//   edgetrain::GrayImage drawing = edgetrain::decode_png_gray(png_bytes, "digit.png");
//   edgetrain::GrayImage input = edgetrain::mnist_style_digit(drawing);  // 28x28, ink bright
//   prediction = predictor.predict(input.pixels);
//
// `edgetrain predict` (for a PNG whose size differs from the model's input, or with --digit) and
// `edgetrain serve` (every drawing) both go through mnist_style_digit, so a PNG given to one and
// the same drawing given to the other become the same input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edgetrain {

// A one-channel image, values in [0, 1].
struct GrayImage {
  int width = 0, height = 0;
  std::vector<float> pixels;  // (H, W) row-major
};

enum class PngColor { kGray, kRGB, kBGR };

// Decoded 8-bit pixels, interleaved.
struct PngPixels {
  int width = 0, height = 0, channels = 1;
  std::vector<uint8_t> bytes;  // (H, W, C)
};

// Refused before decoding: larger images would only be a way to make us allocate.
constexpr size_t kMaxPngPixels = size_t(1) << 24;

// Decodes a PNG file's bytes (any PNG kind: libpng converts it, alpha composed onto black) into
// 8-bit gray, RGB or BGR pixels. Throws Error naming `source_name` when the bytes are not a PNG
// image, are corrupt, or the image holds more than `max_pixels` pixels (checked before allocating).
PngPixels decode_png(const std::string& png, const std::string& source_name,
                     PngColor color = PngColor::kGray, size_t max_pixels = kMaxPngPixels);
// decode_png in gray, as values in [0, 1] (byte / 255).
GrayImage decode_png_gray(const std::string& png, const std::string& source_name);
// An 8-bit gray PNG of the image (values rounded to the nearest of 0..255). Throws Error on an
// image whose size does not match its pixels.
std::string encode_png_gray(const GrayImage& image);

// MNIST's recipe (LeCun et al.): the digit is cropped to its bounding box, scaled into a box of
// 20/28 of the field keeping its aspect ratio (area averaging, so edges get grey levels), and
// placed in a field_size x field_size image with its centre of mass at the centre (moved no further
// than keeps the whole box inside the field); MNIST's centre is the middle of pixel (14, 14). Ink
// is the bright value, as in MNIST; an image whose border is mostly bright (dark ink on white
// paper) is inverted first. The bounding box holds the pixels with at least 1/20 of the brightest
// ink. An image without ink gives an empty (all-zero) field. MNIST's own digits go through
// unchanged. Throws Error when the image is empty, its size does not match its pixels, or a value
// is not finite.
GrayImage mnist_style_digit(const GrayImage& drawing, int field_size = 28);

}  // namespace edgetrain
