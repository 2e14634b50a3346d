#include "base/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include "edgetrain/error.h"

namespace edgetrain {

namespace {

// The folder a file goes in; throws when it does not exist.
std::filesystem::path existing_folder(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw Error(path + ": cannot write: the folder '" + folder.string() + "' does not exist");
  }
  return folder;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::filesystem::path folder = existing_folder(path);
  const std::string temporary = path + ".tmp-" + std::to_string(getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path + ": cannot write: " + std::strerror(errno));
  auto fail = [&](const char* step) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    ::unlink(temporary.c_str());
    throw Error(path + ": cannot write (" + step + "): " + reason);
  };
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    written += size_t(n);
  }
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    fd = -1;
    const std::string reason = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw Error(path + ": cannot write (close): " + reason);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw Error(path + ": cannot write (rename): " + reason);
  }
  // Make the rename itself durable.
  int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void check_writable(const std::string& path) {
  existing_folder(path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": cannot write: it is a folder");
  const std::string probe = path + ".probe-" + std::to_string(getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path + ": cannot write: " + std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

std::string read_whole_file(const std::string& path, size_t max_bytes) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat info;
  if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
    std::fclose(file);
    throw Error(path + ": not a regular file");
  }
  if (size_t(info.st_size) > max_bytes) {
    std::fclose(file);
    throw Error(path + ": the file is " + std::to_string(info.st_size) + " bytes, more than the " +
                std::to_string(max_bytes) + " allowed");
  }
  std::string bytes(size_t(info.st_size), '\0');
  size_t got = std::fread(bytes.data(), 1, bytes.size(), file);
  bool failed = std::ferror(file);
  std::fclose(file);
  if (failed || got != bytes.size()) throw Error(path + ": read error");
  return bytes;
}

}  // namespace edgetrain
