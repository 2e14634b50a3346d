// A file read in chunks that may be gzip-compressed. Compression is detected from the first two
// bytes (1f 8b), never from the name, and the gzip stream is checked to its end (CRC and length)
// by zlib. Every error is an edgetrain::Error naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace edgetrain::data {

// The most decompressed bytes any reader accepts from one file.
inline constexpr uint64_t kMaxFileBytes = uint64_t(2) << 30;  // 2 GiB

class InputFile {
 public:
  // Opens the file; throws when it is missing, not a regular file or unreadable.
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Reads up to n (decompressed) bytes into dst; returns fewer only at the end of the data.
  size_t read(uint8_t* dst, size_t n);
  // Reads exactly n bytes unless the data ends first; returns how many were read.
  size_t read_full(uint8_t* dst, size_t n);

  const std::string& path() const { return path_; }
  bool gzip() const { return gzip_; }
  // Size on disk (compressed size for gzip files).
  uint64_t file_size() const { return file_size_; }
  // Decompressed bytes handed out so far.
  uint64_t position() const { return position_; }

 private:
  size_t read_raw(uint8_t* dst, size_t n);
  size_t read_gzip(uint8_t* dst, size_t n);
  [[noreturn]] void fail(const std::string& what) const;

  struct Inflater;
  std::string path_;
  std::FILE* file_ = nullptr;
  bool gzip_ = false;
  uint64_t file_size_ = 0;
  uint64_t position_ = 0;
  std::unique_ptr<Inflater> inflater_;
};

// The whole (decompressed) content of a file; throws when it exceeds max_bytes.
std::string read_whole_file(const std::string& path, uint64_t max_bytes = kMaxFileBytes);

}  // namespace edgetrain::data
