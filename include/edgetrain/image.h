/**
 * @file image.h
 * @brief Images as model inputs: PNG and JPEG decoding, PNG encoding, resizing to a model's
 * input, and turning a drawing (or a photo) of a digit into MNIST-like input the way MNIST itself
 * was made.
 *
 * @code
 * edgetrain::GrayImage drawing = edgetrain::decode_png_gray(png_bytes, "digit.png");
 * edgetrain::GrayImage input = edgetrain::mnist_style_digit(drawing);  // 28x28, ink bright
 * prediction = predictor.predict(input.pixels);
 * @endcode
 *
 * `edgetrain predict` (for a PNG whose size differs from the model's input, or with --digit) and
 * `edgetrain serve` (every drawing) both go through mnist_style_digit(), so a PNG given to one and
 * the same drawing given to the other become the same input.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edgetrain {

/** A one-channel image, values in [0, 1]. */
struct GrayImage {
  /// Size in pixels.
  ///@{
  int width = 0, height = 0;
  ///@}
  std::vector<float> pixels;  ///< (H, W) row-major.
};

/** The pixels a decoder is asked for: one gray channel, or three in RGB or BGR order. */
enum class ImageColor {
  kGray,  ///< One channel.
  kRGB,   ///< Three channels, red first.
  kBGR    ///< Three channels, blue first (Core ML's BGR images).
};
using PngColor = ImageColor;  ///< The name before JPEG support; the same type.

/** Decoded 8-bit pixels, interleaved. */
struct ImagePixels {
  /// Size in pixels and channels (1 or 3, as the ImageColor asked for).
  ///@{
  int width = 0, height = 0, channels = 1;
  ///@}
  std::vector<uint8_t> bytes;  ///< (H, W, C).
};
using PngPixels = ImagePixels;  ///< The name before JPEG support; the same type.

/** Refused before decoding: larger images would only be a way to make us allocate. */
constexpr size_t kMaxImagePixels = size_t(1) << 24;
constexpr size_t kMaxPngPixels = kMaxImagePixels;  ///< The name before JPEG support.

/**
 * Decodes a PNG file's bytes (any PNG kind: libpng converts it, alpha composed onto black) into
 * 8-bit gray, RGB or BGR pixels. Throws Error naming `source_name` when the bytes are not a PNG
 * image, are corrupt, or the image holds more than `max_pixels` pixels (checked before allocating).
 * @param png         the file's bytes
 * @param source_name names them in error messages (a path, "upload", ...)
 * @param color       the channels wanted
 * @param max_pixels  the largest width x height accepted
 */
PngPixels decode_png(const std::string& png, const std::string& source_name,
                     PngColor color = PngColor::kGray, size_t max_pixels = kMaxPngPixels);
/**
 * Decodes a JPEG file's bytes (baseline or progressive, gray or colour; libjpeg-turbo converts,
 * gray from colour being the JPEG's own luma Y) into 8-bit gray, RGB or BGR pixels. Throws Error
 * naming `source_name` when the bytes are not a JPEG image, are corrupt or end early, the image is
 * CMYK, or it holds more than `max_pixels` pixels (checked before allocating). The parameters are
 * decode_png()'s.
 */
ImagePixels decode_jpeg(const std::string& jpeg, const std::string& source_name,
                        ImageColor color = ImageColor::kGray, size_t max_pixels = kMaxImagePixels);
/** True when `bytes` start with PNG's signature (the first 8 bytes). */
bool is_png(const std::string& bytes);
/** True when `bytes` start with JPEG's start-of-image marker and a segment (FF D8 FF). */
bool is_jpeg(const std::string& bytes);
/**
 * decode_png() or decode_jpeg(), told by the first bytes; Error naming `source_name` for anything
 * else.
 */
ImagePixels decode_image(const std::string& bytes, const std::string& source_name,
                         ImageColor color = ImageColor::kGray, size_t max_pixels = kMaxImagePixels);
/**
 * The image stretched to width x height (scale-to-fill: aspect ratio not kept), each channel
 * resampled with the triangle (bilinear) filter on pixel centres, widened by the scale factor when
 * shrinking so every source pixel counts (as Pillow's BILINEAR resize). The same size gives the
 * image unchanged. Throws Error on an empty image or size.
 */
ImagePixels resize_image(const ImagePixels& image, int width, int height);

/** decode_png() in gray, as values in [0, 1] (byte / 255). */
GrayImage decode_png_gray(const std::string& png, const std::string& source_name);
/**
 * An 8-bit gray PNG of the image (values rounded to the nearest of 0..255). Throws Error on an
 * image whose size does not match its pixels.
 */
std::string encode_png_gray(const GrayImage& image);

/**
 * MNIST's recipe (LeCun et al.): the digit is cropped to its bounding box, scaled into a box of
 * 20/28 of the field keeping its aspect ratio (area averaging, so edges get grey levels), and
 * placed in a field_size x field_size image with its centre of mass at the centre (moved no further
 * than keeps the whole box inside the field); MNIST's centre is the middle of pixel (14, 14). Ink
 * is the bright value, as in MNIST; an image whose border is mostly bright (dark ink on white
 * paper) is inverted first. The bounding box holds the pixels with at least 1/20 of the brightest
 * ink. An image without ink gives an empty (all-zero) field. MNIST's own digits go through
 * unchanged. Throws Error when the image is empty, its size does not match its pixels, or a value
 * is not finite.
 */
GrayImage mnist_style_digit(const GrayImage& drawing, int field_size = 28);

}  // namespace edgetrain
