// MNIST download with libcurl, resumable through `.part` files and HTTP Range, verified by MD5
// (OpenSSL EVP). See fetch.h for the contract.
//
// The Range header is sent with CURLOPT_RANGE rather than CURLOPT_RESUME_FROM so that a server
// ignoring it (200 instead of 206) is handled here, by restarting the .part from zero, instead of
// failing inside libcurl.
#include "cli/fetch.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <strings.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "edgetrain/error.h"

namespace edgetrain {

namespace fs = std::filesystem;

namespace {

void init_curl_once() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    throw Error(std::string("libcurl failed to initialise: ") + curl_easy_strerror(result));
  }
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

bool starts_with_ignore_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         strncasecmp(text.data(), prefix.data(), prefix.size()) == 0;
}

std::string_view trim_header_value(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  return value;
}

// One HTTP GET into a .part file, appending when the server honours the Range request.
struct Transfer {
  std::string name;  // file name, for progress reports
  std::string part_path;
  uint64_t resume_from = 0;  // bytes already in the .part, asked to be skipped
  const FetchOptions* options = nullptr;
  CURL* curl = nullptr;

  // From the headers of the latest response (redirects reset them).
  std::optional<uint64_t> content_length, range_start, range_total;

  std::FILE* file = nullptr;
  bool started = false;
  bool appended = false;        // the server answered 206 and the .part was extended
  bool range_mismatch = false;  // a 206 answer that does not start where the .part ends
  uint64_t file_bytes = 0;      // bytes of the .part on disk
  uint64_t downloaded = 0;      // bytes received by this transfer
  std::string failure;          // why a callback stopped the transfer
  std::exception_ptr progress_exception;

  ~Transfer() {
    if (file) std::fclose(file);
  }

  void on_header(std::string_view line) {
    if (starts_with_ignore_case(line, "HTTP/")) {
      content_length.reset();
      range_start.reset();
      range_total.reset();
    } else if (starts_with_ignore_case(line, "content-length:")) {
      content_length = parse_u64(trim_header_value(line.substr(15)));
    } else if (starts_with_ignore_case(line, "content-range:")) {
      // "bytes START-END/TOTAL"
      std::string_view value = trim_header_value(line.substr(14));
      if (starts_with_ignore_case(value, "bytes ")) value.remove_prefix(6);
      range_start = parse_u64(value.substr(0, value.find('-')));
      const size_t slash = value.find('/');
      if (slash != std::string_view::npos) range_total = parse_u64(value.substr(slash + 1));
    }
  }

  // Opens the .part on the first body bytes, once the status says whether the range was honoured.
  bool start() {
    started = true;
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    appended = status == 206;
    if (appended && range_start != resume_from) {
      range_mismatch = true;
      failure = "asked for bytes from " + std::to_string(resume_from) +
                " but the server's 206 answer starts at " +
                (range_start ? std::to_string(*range_start) : "an unstated offset");
      return false;
    }
    file = std::fopen(part_path.c_str(), appended ? "ab" : "wb");
    if (!file) {
      failure = "cannot write " + part_path + ": " + std::strerror(errno);
      return false;
    }
    file_bytes = appended ? resume_from : 0;
    return true;
  }

  bool on_body(const char* data, size_t size) {
    if (!started && !start()) return false;
    if (std::fwrite(data, 1, size, file) != size) {
      failure = "cannot write " + part_path + ": " + std::strerror(errno);
      return false;
    }
    file_bytes += size;
    downloaded += size;
    if (options->progress) {
      const uint64_t total = appended ? range_total.value_or(0) : content_length.value_or(0);
      try {
        options->progress(name, file_bytes, total);
      } catch (...) {  // never let an exception cross libcurl's C frames
        progress_exception = std::current_exception();
        return false;
      }
    }
    return true;
  }

  // Closes the .part; a 200 with an empty body still leaves an (empty) .part behind.
  void finish() {
    if (!started && !start()) throw Error(failure);
    if (std::fclose(file) != 0) {
      file = nullptr;
      throw Error("cannot write " + part_path + ": " + std::strerror(errno));
    }
    file = nullptr;
  }
};

size_t write_callback(char* data, size_t size, size_t count, void* user) {
  return static_cast<Transfer*>(user)->on_body(data, size * count) ? size * count : 0;
}

size_t header_callback(char* data, size_t size, size_t count, void* user) {
  static_cast<Transfer*>(user)->on_header(std::string_view(data, size * count));
  return size * count;
}

enum class TransferOutcome { kDone, kRangeNotSatisfiable, kRangeMismatch };

// GETs `url` into transfer.part_path, asking for the bytes after transfer.resume_from when > 0.
TransferOutcome run_transfer(const std::string& url, Transfer& transfer) {
  init_curl_once();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error("libcurl could not create a handle for " + url);
  transfer.curl = curl.get();
  const FetchOptions& options = *transfer.options;
  char error_buffer[CURL_ERROR_SIZE] = "";
  const std::string range = std::to_string(transfer.resume_from) + "-";

  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(handle, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(handle, CURLOPT_FAILONERROR, 1L);  // status >= 400 is an error, body unread
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "edgetrain/0.1");
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_seconds);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, options.low_speed_seconds);
  if (transfer.resume_from > 0) curl_easy_setopt(handle, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, write_callback);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, header_callback);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);

  const CURLcode result = curl_easy_perform(handle);
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  if (transfer.progress_exception) std::rethrow_exception(transfer.progress_exception);
  if (result == CURLE_WRITE_ERROR && transfer.range_mismatch) {
    return TransferOutcome::kRangeMismatch;
  }
  if (result == CURLE_WRITE_ERROR && !transfer.failure.empty()) {
    throw Error("download of " + url + " failed: " + transfer.failure);
  }
  if (result == CURLE_HTTP_RETURNED_ERROR && status == 416 && transfer.resume_from > 0) {
    return TransferOutcome::kRangeNotSatisfiable;  // the .part may already be complete
  }
  if (result != CURLE_OK) {
    const std::string reason = result == CURLE_HTTP_RETURNED_ERROR
                                   ? "HTTP status " + std::to_string(status)
                               : error_buffer[0] ? std::string(error_buffer)
                                                 : curl_easy_strerror(result);
    throw Error("download of " + url + " failed: " + reason);
  }
  if (status < 200 || status >= 300) {
    throw Error("download of " + url + " failed: unexpected HTTP status " + std::to_string(status));
  }
  transfer.finish();
  return TransferOutcome::kDone;
}

uint64_t size_or_zero(const std::string& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return 0;
  const uint64_t size = fs::file_size(path, error);
  return error ? 0 : size;
}

void remove_quietly(const std::string& path) {
  std::error_code ignored;
  fs::remove(path, ignored);
}

}  // namespace

std::string md5_file(const std::string& path) {
  std::unique_ptr<std::FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "rb"),
                                                          std::fclose);
  if (!file) throw Error(path + ": cannot open to compute its MD5: " + std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_md5(), nullptr) != 1) {
    throw Error(path + ": OpenSSL could not start an MD5 digest");
  }
  std::vector<unsigned char> buffer(size_t(1) << 20);
  while (const size_t got = std::fread(buffer.data(), 1, buffer.size(), file.get())) {
    EVP_DigestUpdate(context.get(), buffer.data(), got);
  }
  if (std::ferror(file.get())) throw Error(path + ": read error: " + std::strerror(errno));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1) {
    throw Error(path + ": OpenSSL could not finish the MD5 digest");
  }
  static const char hex[] = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    text += hex[digest[i] >> 4];
    text += hex[digest[i] & 0xf];
  }
  return text;
}

const std::vector<PublishedFile>& mnist_files() {
  static const std::vector<PublishedFile> files = {
      {"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
      {"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"},
      {"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"},
      {"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"},
  };
  return files;
}

FetchResult fetch_verified(const std::string& url, const std::string& path,
                           const std::string& expected_md5, const FetchOptions& options) {
  FetchResult result;
  result.path = path;
  std::error_code error;
  if (fs::is_regular_file(path, error) && md5_file(path) == expected_md5) {
    result.already_present = true;
    result.bytes = size_or_zero(path);
    return result;
  }

  const std::string part_path = path + ".part";
  // A resumed .part whose MD5 fails may hold bad bytes from an earlier run: one retry from zero.
  for (int attempt = 0;; ++attempt) {
    Transfer transfer;
    transfer.name = fs::path(path).filename().string();
    transfer.part_path = part_path;
    transfer.resume_from = size_or_zero(part_path);
    transfer.options = &options;
    const TransferOutcome outcome = run_transfer(url, transfer);
    if (outcome == TransferOutcome::kRangeMismatch) {
      remove_quietly(part_path);  // its bytes cannot be continued: start over
      if (attempt == 0) continue;
      throw Error("download of " + url + " failed: " + transfer.failure);
    }
    result.bytes_downloaded += transfer.downloaded;
    const bool resumed = outcome == TransferOutcome::kRangeNotSatisfiable || transfer.appended;
    result.resumed_from = resumed ? transfer.resume_from : 0;

    const std::string actual_md5 = md5_file(part_path);
    if (actual_md5 == expected_md5) {
      fs::rename(part_path, path, error);
      if (error) {
        throw Error("cannot rename " + part_path + " to " + path + ": " + error.message());
      }
      result.bytes = size_or_zero(path);
      return result;
    }
    const uint64_t part_bytes = size_or_zero(part_path);
    remove_quietly(part_path);
    if (resumed && attempt == 0) continue;
    throw Error(path + ": MD5 mismatch: expected " + expected_md5 + ", got " + actual_md5 +
                " for the " + std::to_string(part_bytes) + " bytes downloaded from " + url +
                "; deleted " + part_path +
                ". The mirror serves a different or damaged file; try again or use another "
                "--mirror.");
  }
}

std::vector<FetchResult> fetch_mnist(const FetchOptions& options) {
  if (options.mirror.empty()) throw Error("fetch-data: the mirror URL is empty");
  const std::string base = options.mirror.back() == '/' ? options.mirror : options.mirror + "/";
  std::error_code error;
  fs::create_directories(options.data_dir, error);
  if (error || !fs::is_directory(options.data_dir)) {
    throw Error(options.data_dir + ": cannot create the data folder" +
                (error ? ": " + error.message() : std::string()));
  }
  std::vector<FetchResult> results;
  for (const PublishedFile& file : mnist_files()) {
    const std::string path = (fs::path(options.data_dir) / file.name).string();
    results.push_back(fetch_verified(base + file.name, path, file.md5, options));
  }
  return results;
}

}  // namespace edgetrain
