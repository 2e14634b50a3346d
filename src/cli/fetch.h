// Downloading MNIST (`edgetrain fetch-data mnist [--mirror URL] [--data-dir DIR]`).
//
// Each file is downloaded with libcurl into `<name>.part`, resumed with an HTTP Range request when
// a `.part` is left from an interrupted run, checked against its published MD5, and only then
// renamed to its final name. A final file already present with the right MD5 is not downloaded
// again. Every failure is an edgetrain::Error naming the URL or file and the reason.
//
//   edgetrain::FetchOptions options;
//   options.data_dir = "data/mnist";
//   for (const auto& result : edgetrain::fetch_mnist(options)) std::puts(result.path.c_str());
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace edgetrain {

struct FetchOptions {
  // Base URL the file names are appended to; a trailing '/' is optional. http and https only.
  std::string mirror = "https://ossci-datasets.s3.amazonaws.com/mnist/";
  std::string data_dir = "data/mnist";  // created when missing
  // Called as data arrives: the file name, the bytes of it on disk so far (a resumed download
  // starts at the size of its .part) and its full size (0 while the server has not said).
  std::function<void(const std::string& file, uint64_t done, uint64_t total)> progress;
  long connect_timeout_seconds = 15;
  // A transfer slower than low_speed_bytes per second for low_speed_seconds is abandoned.
  long low_speed_bytes = 1024;
  long low_speed_seconds = 30;
};

struct FetchResult {
  std::string path;               // the verified file
  bool already_present = false;   // it was there with the right MD5; nothing was downloaded
  uint64_t bytes = 0;             // its size
  uint64_t bytes_downloaded = 0;  // bytes transferred by this call
  uint64_t resumed_from = 0;      // bytes reused from an earlier .part (0: downloaded in full)
};

// A file of a dataset and the MD5 its publisher gives for it.
struct PublishedFile {
  std::string name;
  std::string md5;  // lowercase hex
};

// The four MNIST .gz files, in download order: train images, train labels, t10k images, labels.
const std::vector<PublishedFile>& mnist_files();

// Downloads the four MNIST files into options.data_dir; one result per file, in mnist_files()
// order. Stops at the first failure (files finished before it stay in place).
std::vector<FetchResult> fetch_mnist(const FetchOptions& options);

// Downloads `url` to `path` (via `path.part`, resumed when present) and verifies it against
// `expected_md5`; skips the download when `path` already has that MD5. On an MD5 mismatch the .part
// is deleted and the Error names the file, both MD5s and the URL.
FetchResult fetch_verified(const std::string& url, const std::string& path,
                           const std::string& expected_md5, const FetchOptions& options);

// The MD5 of a file's bytes, lowercase hex (OpenSSL EVP).
std::string md5_file(const std::string& path);

}  // namespace edgetrain
