// Shared by the fuzz targets: an in-memory file (memfd) the readers open by path, and the check
// that turns a broken invariant into a crash libFuzzer records.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace edgetrain::fuzz {

// A file that lives in memory for the whole run: the readers take paths, and /proc/self/fd/N of a
// memfd is one (a regular file of exactly the bytes written) without touching a disk.
class MemoryFile {
 public:
  explicit MemoryFile(const char* name) : fd_(memfd_create(name, 0)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Replaces the content with `size` bytes.
  void assign(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0) fail("ftruncate");
    size_t written = 0;
    while (written < size) {
      const ssize_t got = pwrite(fd_, data + written, size - written, off_t(written));
      if (got <= 0) fail("pwrite");
      written += size_t(got);
    }
  }
  const std::string& path() const { return path_; }

 private:
  [[noreturn]] static void fail(const char* what) {
    std::perror(what);
    std::abort();
  }
  int fd_;
  std::string path_;
};

// Called with every Error a target catches. Silent while fuzzing; with EDGETRAIN_FUZZ_VERBOSE=1
// in the environment it prints the message, to see why a seed or crash input is refused:
//   EDGETRAIN_FUZZ_VERBOSE=1 build-fuzz/fuzz/fuzz_csv fuzz/corpus/fuzz_csv/*
inline void refused(const char* what, const std::exception& error) {
  static const bool verbose = std::getenv("EDGETRAIN_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "%s refused: %s\n", what, error.what());
}
inline void accepted(const char* what) {
  static const bool verbose = std::getenv("EDGETRAIN_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "%s accepted\n", what);
}

}  // namespace edgetrain::fuzz

// A property every accepted input must have; a failure is a bug, so it crashes like one.
#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
