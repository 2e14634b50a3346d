// Chunked reading of raw or gzip files (see input_file.h). zlib's inflate runs in gzip-only mode
// (windowBits 15 + 16), so the gzip header, the CRC-32 and the length trailer are all checked.
#include "data/input_file.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "edgetrain/error.h"

namespace edgetrain::data {

namespace {

constexpr size_t kInputChunk = size_t(1) << 16;

}  // namespace

struct InputFile::Inflater {
  z_stream stream{};
  std::vector<uint8_t> input = std::vector<uint8_t>(kInputChunk);
  uint64_t compressed_read = 0;  // bytes taken from the file so far
  bool input_eof = false;
  bool finished = false;  // the last gzip member ended exactly at the end of the file

  ~Inflater() { inflateEnd(&stream); }
  // Offset in the compressed file of the next byte inflate will look at.
  uint64_t compressed_offset() const { return compressed_read - stream.avail_in; }
};

InputFile::InputFile(const std::string& path) : path_(path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) throw Error(path + ": no such file");
  if (!std::filesystem::is_regular_file(status)) throw Error(path + ": not a regular file");
  file_size_ = std::filesystem::file_size(path, error);
  if (error) throw Error(path + ": cannot read its size: " + error.message());
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw Error(path + ": cannot open: " + std::strerror(errno));

  uint8_t magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, file_);
  if (std::ferror(file_)) fail(std::string("read error: ") + std::strerror(errno));
  gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (std::fseek(file_, 0, SEEK_SET) != 0)
    fail(std::string("cannot seek: ") + std::strerror(errno));
  if (gzip_) {
    inflater_ = std::make_unique<Inflater>();
    if (inflateInit2(&inflater_->stream, 15 + 16) != Z_OK) fail("zlib could not start inflating");
  }
}

InputFile::~InputFile() {
  if (file_) std::fclose(file_);
}

void InputFile::fail(const std::string& what) const {
  throw Error(path_ + ": " + what);
}

size_t InputFile::read(uint8_t* dst, size_t n) {
  const size_t got = gzip_ ? read_gzip(dst, n) : read_raw(dst, n);
  position_ += got;
  return got;
}

size_t InputFile::read_full(uint8_t* dst, size_t n) {
  size_t total = 0;
  while (total < n) {
    const size_t got = read(dst + total, n - total);
    if (got == 0) break;
    total += got;
  }
  return total;
}

size_t InputFile::read_raw(uint8_t* dst, size_t n) {
  const size_t got = std::fread(dst, 1, n, file_);
  if (got < n && std::ferror(file_)) fail(std::string("read error: ") + std::strerror(errno));
  return got;
}

size_t InputFile::read_gzip(uint8_t* dst, size_t n) {
  Inflater& z = *inflater_;
  z_stream& stream = z.stream;
  // Tops up the input buffer until it holds at least `wanted` bytes or the file ends.
  auto refill = [&](size_t wanted) {
    if (stream.avail_in > 0 && stream.next_in != z.input.data()) {
      std::memmove(z.input.data(), stream.next_in, stream.avail_in);
    }
    stream.next_in = z.input.data();
    while (stream.avail_in < wanted && !z.input_eof) {
      const size_t got =
          std::fread(z.input.data() + stream.avail_in, 1, z.input.size() - stream.avail_in, file_);
      if (std::ferror(file_)) fail(std::string("read error: ") + std::strerror(errno));
      if (got == 0) z.input_eof = true;
      stream.avail_in += unsigned(got);
      z.compressed_read += got;
    }
  };

  stream.next_out = dst;
  stream.avail_out = unsigned(std::min<size_t>(n, size_t(1) << 30));
  const unsigned out_wanted = stream.avail_out;
  while (stream.avail_out > 0 && !z.finished) {
    if (stream.avail_in == 0) refill(1);
    if (stream.avail_in == 0) {
      fail("gzip stream is truncated: it stops after " + std::to_string(z.compressed_read) +
           " compressed bytes without its end marker (an interrupted download?)");
    }
    const int rc = inflate(&stream, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members form one stream (as gunzip reads them); anything else after
      // the end of the stream is refused rather than silently ignored.
      refill(2);
      if (stream.avail_in == 0) {
        z.finished = true;
      } else if (stream.avail_in >= 2 && stream.next_in[0] == 0x1f && stream.next_in[1] == 0x8b) {
        inflateReset(&stream);
      } else {
        fail("unexpected bytes after the end of the gzip stream, at compressed byte " +
             std::to_string(z.compressed_offset()) + " of " + std::to_string(file_size_));
      }
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      fail("corrupt gzip stream near compressed byte " + std::to_string(z.compressed_offset()) +
           ": " + (stream.msg ? stream.msg : "zlib error " + std::to_string(rc)));
    }
  }
  return out_wanted - stream.avail_out;
}

std::string read_whole_file(const std::string& path, uint64_t max_bytes) {
  InputFile in(path);
  const auto too_big = [&] {
    return Error(path + ": more than " + std::to_string(max_bytes) + " bytes" +
                 (in.gzip() ? " after decompression" : "") + "; refusing to read it");
  };
  std::string text;
  if (!in.gzip()) {
    if (in.file_size() > max_bytes) throw too_big();
    text.resize(in.file_size());
    text.resize(in.read_full(reinterpret_cast<uint8_t*>(text.data()), text.size()));
    return text;
  }
  // The decompressed size is unknown until the stream ends: grow with the data actually present.
  std::vector<uint8_t> chunk(size_t(1) << 20);
  while (const size_t got = in.read(chunk.data(), chunk.size())) {
    if (text.size() + got > max_bytes) throw too_big();
    text.append(reinterpret_cast<const char*>(chunk.data()), got);
  }
  return text;
}

}  // namespace edgetrain::data
