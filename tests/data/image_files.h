// Image files the tests make: RGB PNGs (libpng's simplified API) and JPEGs (libjpeg-turbo), from
// interleaved (H, W, C) bytes.
#pragma once

#include <png.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include "edgetrain/image.h"

namespace edgetrain::test_images {

inline std::string encode_png(const ImagePixels& image) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = png_uint_32(image.width);
  png.height = png_uint_32(image.height);
  png.format = image.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&png, nullptr, &size, 0, image.bytes.data(), 0, nullptr)) {
    throw std::runtime_error(png.message);
  }
  std::string encoded(size, '\0');
  if (!png_image_write_to_memory(&png, encoded.data(), &size, 0, image.bytes.data(), 0, nullptr)) {
    throw std::runtime_error(png.message);
  }
  encoded.resize(size);
  return encoded;
}

// Baseline JPEG at `quality` (100: the least loss; JPEG never keeps every byte).
inline std::string encode_jpeg(const ImagePixels& image, int quality = 100) {
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);  // the test's own images: libjpeg's exit on error is fine
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = JDIMENSION(image.width);
  info.image_height = JDIMENSION(image.height);
  info.input_components = image.channels;
  info.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  const size_t row_bytes = size_t(image.width) * size_t(image.channels);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image.bytes.data() + info.next_scanline * row_bytes);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::string encoded(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return encoded;
}

}  // namespace edgetrain::test_images
