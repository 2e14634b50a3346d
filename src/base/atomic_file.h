// Whole-file reads and crash-safe writes.
#pragma once

#include <string>

namespace edgetrain {

// Writes `bytes` to a temporary file beside `path`, flushes it to disk and renames it over `path`:
// readers see the old file or the new one, never a mix. Throws Error naming the path and the cause
// (missing folder, permission, disk full); the previous file is left untouched on failure.
void write_file_atomically(const std::string& path, const std::string& bytes);
// Checks, before long work, that write_file_atomically(path, ...) can create its temporary file
// beside `path`: throws the same Error it would (missing folder, permission, read-only disk).
void check_writable(const std::string& path);
// Throws Error naming the file when it cannot be opened or read, or is larger than `max_bytes`.
std::string read_whole_file(const std::string& path, size_t max_bytes = size_t(4) << 30);

}  // namespace edgetrain
