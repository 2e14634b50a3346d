// The .npy codec: NumPy's format (numpy/lib/format.py, NEP 1). A file is the magic "\x93NUMPY",
// the format version (2 bytes), the header length (uint16 LE for 1.0, uint32 LE for 2.0 and 3.0),
// the header (a Python dict literal: 'descr', 'fortran_order', 'shape'; padded with spaces and a
// final newline so the data starts at a multiple of 64 bytes), then the array's bytes.
#include <cstring>

#include "edgetrain/error.h"
#include "edgetrain/fed.h"

namespace edgetrain::fed {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kAlignment = 64;
// NumPy >= 1.24 leaves room for the first axis to grow to this many digits
// (GROWTH_AXIS_MAX_DIGITS).
constexpr size_t kGrowthDigits = 21;
// Bigger headers than this are not something numpy.save writes for a float array.
constexpr size_t kMaxHeader = 16384;

std::string shape_literal(const std::vector<int64_t>& shape) {
  if (shape.empty()) return "()";
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

std::string header_text(const std::vector<int64_t>& shape) {
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_literal(shape) + ", }";
  if (!shape.empty()) {
    const size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthDigits) header.append(kGrowthDigits - digits, ' ');
  }
  // magic + version + uint16 length + header + '\n' rounded up to the alignment.
  const size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1;
  header.append((kAlignment - unpadded % kAlignment) % kAlignment, ' ');
  header += '\n';
  return header;
}

bool little_endian() {
  const uint16_t probe = 1;
  uint8_t first;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

// A strict reader of the header's dict literal: exactly the keys 'descr', 'fortran_order' and
// 'shape', string / bool / tuple-of-int values, as numpy.save writes them.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<int64_t>& shape) {
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_spaces();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr" && !seen_descr) {
        descr = string_literal();
        seen_descr = true;
      } else if (key == "fortran_order" && !seen_order) {
        fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape" && !seen_shape) {
        shape = tuple();
        seen_shape = true;
      } else {
        fail("unexpected or repeated key '" + key + "'");
      }
      skip_spaces();
      if (peek() == ',') {
        ++position_;
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    ++position_;
    skip_spaces();
    if (position_ != text_.size()) fail("text after the closing '}'");
    if (!seen_descr || !seen_order || !seen_shape) {
      fail("the header needs 'descr', 'fortran_order' and 'shape'");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(".npy header: " + what + " at character " + std::to_string(position_));
  }
  char peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }
  void skip_spaces() {
    while (peek() == ' ' || peek() == '\n' || peek() == '\t') ++position_;
  }
  void expect(char c) {
    skip_spaces();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++position_;
  }
  std::string string_literal() {
    skip_spaces();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const size_t end = text_.find(quote, position_ + 1);
    if (end == std::string_view::npos || end - position_ > 64) fail("unterminated string");
    std::string value(text_.substr(position_ + 1, end - position_ - 1));
    position_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_spaces();
    if (text_.substr(position_, 4) == "True") return position_ += 4, true;
    if (text_.substr(position_, 5) == "False") return position_ += 5, false;
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> values;
    while (true) {
      skip_spaces();
      if (peek() == ')') break;
      if (values.size() >= 32) fail("more than 32 dimensions");
      int64_t value = 0;
      size_t digits = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (++digits > 18) fail("a dimension with more than 18 digits");
        value = value * 10 + (peek() - '0');
        ++position_;
      }
      if (digits == 0) fail("expected a non-negative whole number");
      if (peek() == 'L') ++position_;  // Python 2's long suffix
      values.push_back(value);
      skip_spaces();
      if (peek() == ',') {
        ++position_;
      } else if (peek() != ')') {
        fail("expected ',' or ')'");
      }
    }
    ++position_;
    return values;
  }

  std::string_view text_;
  size_t position_ = 0;
};

uint32_t read_le(std::string_view bytes, size_t offset, size_t width) {
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i) value |= uint32_t(uint8_t(bytes[offset + i])) << (8 * i);
  return value;
}

}  // namespace

size_t npy_size(const std::vector<int64_t>& shape) {
  return kMagicSize + 4 + header_text(shape).size() + element_count(shape) * sizeof(float);
}

std::string encode_npy(const Tensor& tensor) {
  if (element_count(tensor.shape) != tensor.values.size()) {
    throw Error("encode_npy: the tensor holds " + std::to_string(tensor.values.size()) +
                " values, its shape says " + std::to_string(element_count(tensor.shape)));
  }
  const std::string header = header_text(tensor.shape);
  std::string bytes(kMagic, kMagicSize);
  bytes += '\x01';
  bytes += '\x00';
  bytes += char(header.size() & 0xff);
  bytes += char(header.size() >> 8);
  bytes += header;
  const size_t data_offset = bytes.size();
  bytes.resize(data_offset + tensor.values.size() * sizeof(float));
  char* data = bytes.data() + data_offset;
  if (little_endian()) {
    // An empty tensor's data() may be null, which memcpy must not get (UBSan), even for 0 bytes.
    if (!tensor.values.empty()) {
      std::memcpy(data, tensor.values.data(), tensor.values.size() * sizeof(float));
    }
  } else {
    for (size_t i = 0; i < tensor.values.size(); ++i) {
      uint32_t word;
      std::memcpy(&word, &tensor.values[i], 4);
      for (int b = 0; b < 4; ++b) data[4 * i + size_t(b)] = char(word >> (8 * b));
    }
  }
  return bytes;
}

Tensor decode_npy(std::string_view bytes) {
  if (bytes.size() < kMagicSize + 4 ||
      bytes.substr(0, kMagicSize) != std::string_view(kMagic, kMagicSize)) {
    throw Error("not a .npy array: the bytes do not start with \\x93NUMPY");
  }
  const int major = uint8_t(bytes[6]), minor = uint8_t(bytes[7]);
  if (minor != 0 || major < 1 || major > 3) {
    throw Error(".npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                " is not one NumPy writes (1.0, 2.0, 3.0)");
  }
  const size_t length_width = major == 1 ? 2 : 4;
  const size_t header_offset = kMagicSize + 2 + length_width;
  if (bytes.size() < header_offset) throw Error(".npy array truncated in its header length");
  const size_t header_size = read_le(bytes, kMagicSize + 2, length_width);
  if (header_size > kMaxHeader || header_size > bytes.size() - header_offset) {
    throw Error(".npy header of " + std::to_string(header_size) + " bytes does not fit in " +
                std::to_string(bytes.size()) + " bytes");
  }
  std::string descr;
  bool fortran_order = false;
  Tensor tensor;
  HeaderParser(bytes.substr(header_offset, header_size)).parse(descr, fortran_order, tensor.shape);
  if (descr != "<f4") {
    throw Error(".npy dtype '" + descr +
                "' refused: only little-endian float32 ('<f4') is accepted");
  }
  if (fortran_order && tensor.shape.size() > 1) {
    throw Error(".npy array in Fortran order refused: only C order is accepted");
  }
  const std::string_view data = bytes.substr(header_offset + header_size);
  size_t count = 0;
  try {
    count = element_count(tensor.shape);
  } catch (const Error&) {
    throw Error(".npy shape is too large");
  }
  if (count > data.size() / sizeof(float) || data.size() != count * sizeof(float)) {
    throw Error(".npy shape holds " + std::to_string(count) + " float32 values (" +
                std::to_string(count) + " x 4 bytes) but " + std::to_string(data.size()) +
                " data bytes follow");
  }
  tensor.values.resize(count);
  if (little_endian()) {
    if (count > 0) std::memcpy(tensor.values.data(), data.data(), data.size());  // null when empty
  } else {
    for (size_t i = 0; i < count; ++i) {
      const uint32_t word = read_le(data, 4 * i, 4);
      std::memcpy(&tensor.values[i], &word, 4);
    }
  }
  return tensor;
}

}  // namespace edgetrain::fed
