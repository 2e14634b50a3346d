// JPEG decoding with libjpeg-turbo, from memory. libjpeg reports fatal errors through a callback
// that must not return: ours longjmps back to decode_into, whose frame holds no C++ object, and
// the Error is thrown from there.
#include <csetjmp>
#include <cstddef>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

#include "edgetrain/error.h"
#include "edgetrain/image.h"

namespace edgetrain {
namespace {

struct ErrorManager {
  jpeg_error_mgr base;  // first: libjpeg hands this pointer back
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool ended_early;  // the data ended before the image (libjpeg only warns, filling in gray)
};

[[noreturn]] void on_error(j_common_ptr info) {
  auto* errors = reinterpret_cast<ErrorManager*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

void on_message(j_common_ptr info, int level) {
  auto* errors = reinterpret_cast<ErrorManager*>(info->err);
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) errors->ended_early = true;
}

enum class Outcome { kDecoded, kFailed, kTooLarge, kCmyk };

// Decodes into `out`; returns what happened (the message in `errors`). No C++ object lives in this
// frame, so the longjmp of a fatal libjpeg error skips no destructor.
Outcome decode_into(const std::string& jpeg, ImageColor color, size_t max_pixels,
                    jpeg_decompress_struct& info, ErrorManager& errors, ImagePixels& out) {
  if (setjmp(errors.jump)) return Outcome::kFailed;
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(jpeg.data()),
               static_cast<unsigned long>(jpeg.size()));
  jpeg_read_header(&info, TRUE);
  out.width = int(info.image_width);
  out.height = int(info.image_height);
  if (info.image_width == 0 || info.image_height == 0 ||
      size_t(info.image_width) * info.image_height > max_pixels) {
    return Outcome::kTooLarge;
  }
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) return Outcome::kCmyk;
  info.out_color_space = color == ImageColor::kGray  ? JCS_GRAYSCALE
                         : color == ImageColor::kBGR ? JCS_EXT_BGR
                                                     : JCS_RGB;
  jpeg_start_decompress(&info);
  out.channels = info.output_components;
  const size_t row_bytes = size_t(info.output_width) * size_t(info.output_components);
  out.bytes.assign(row_bytes * info.output_height, 0);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = out.bytes.data() + size_t(info.output_scanline) * row_bytes;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  return Outcome::kDecoded;
}

}  // namespace

bool is_jpeg(const std::string& bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 &&
         static_cast<unsigned char>(bytes[2]) == 0xFF;
}

ImagePixels decode_jpeg(const std::string& jpeg, const std::string& source_name, ImageColor color,
                        size_t max_pixels) {
  if (!is_jpeg(jpeg)) {
    throw Error(source_name + ": cannot read it as a JPEG image (it does not start with FF D8 FF)");
  }
  jpeg_decompress_struct info{};
  ErrorManager errors{};
  info.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = on_error;
  errors.base.emit_message = on_message;
  ImagePixels image;
  const Outcome outcome = decode_into(jpeg, color, max_pixels, info, errors, image);
  jpeg_destroy_decompress(&info);
  switch (outcome) {
    case Outcome::kFailed:
      throw Error(source_name + ": cannot decode the JPEG image (" + errors.message + ")");
    case Outcome::kTooLarge:
      throw Error(source_name + ": the image is " + std::to_string(image.width) + "x" +
                  std::to_string(image.height) + "; at most " + std::to_string(max_pixels) +
                  " pixels are accepted");
    case Outcome::kCmyk:
      throw Error(source_name + ": the JPEG image is CMYK; convert it to RGB or gray first");
    case Outcome::kDecoded:
      break;
  }
  if (errors.ended_early) {
    throw Error(source_name + ": the JPEG data ends before the image does (a truncated file?)");
  }
  return image;
}

ImagePixels decode_image(const std::string& bytes, const std::string& source_name, ImageColor color,
                         size_t max_pixels) {
  if (is_png(bytes)) return decode_png(bytes, source_name, color, max_pixels);
  if (is_jpeg(bytes)) return decode_jpeg(bytes, source_name, color, max_pixels);
  throw Error(source_name + ": neither a PNG nor a JPEG image (by its first bytes)");
}

}  // namespace edgetrain
