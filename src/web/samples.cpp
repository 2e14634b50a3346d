#include "web/samples.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "base/atomic_file.h"
#include "edgetrain/error.h"
#include "web/http_util.h"

namespace edgetrain::web {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxSampleFileBytes = size_t(1) << 20;

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= kMaxNameLength &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
         });
}

// A name or label as an error message quotes it: bytes that are not printable ASCII become '?'.
std::string printable(const std::string& text, size_t length) {
  std::string shown = text.substr(0, length);
  for (char& c : shown) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return shown;
}

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() <= 4 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

void SampleStore::check_name(const std::string& name) {
  if (!valid_name(name)) {
    throw Error("sample name '" + printable(name, kMaxNameLength + 1) +
                "' is not allowed: use 1 to 64 letters, digits, '_' or '-'");
  }
}

int SampleStore::parse_label(const std::string& text, int classes) {
  if (!all_digits(text) || std::stoi(text) >= classes) {
    throw Error("label '" + printable(text, 16) + "' is not a class of the model (0 to " +
                std::to_string(classes - 1) + ")");
  }
  return std::stoi(text);
}

std::string SampleStore::path_of(int label, const std::string& name) const {
  return (fs::path(folder_) / std::to_string(label) / (name + ".png")).string();
}

std::vector<Sample> SampleStore::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Sample> samples;
  std::error_code error;
  for (const fs::directory_entry& label_dir : fs::directory_iterator(folder_, error)) {
    const std::string label = label_dir.path().filename().string();
    if (!all_digits(label) || !label_dir.is_directory(error)) continue;
    for (const fs::directory_entry& file : fs::directory_iterator(label_dir.path(), error)) {
      const fs::path path = file.path();
      if (path.extension() != ".png" || !file.is_regular_file(error)) continue;
      const std::string name = path.stem().string();
      if (valid_name(name)) samples.push_back({std::stoi(label), name});
    }
  }
  std::sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) {
    return a.label != b.label ? a.label < b.label : a.name < b.name;
  });
  return samples;
}

Sample SampleStore::add(int label, int classes, const GrayImage& image, const std::string& name) {
  parse_label(std::to_string(label), classes);
  if (!name.empty()) check_name(name);
  const std::string png = encode_png_gray(image);
  std::lock_guard<std::mutex> lock(mutex_);
  const fs::path folder = fs::path(folder_) / std::to_string(label);
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) throw Error(folder.string() + ": cannot create the folder: " + error.message());
  Sample sample{label, name};
  if (name.empty()) {
    // Time-ordered names, so the list shows them in the order they were drawn.
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const long long millis = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
    do {
      // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) about "s" + to_string().
      sample.name = std::to_string(millis);
      sample.name.insert(sample.name.begin(), 's');
      sample.name += '-';
      sample.name += std::to_string(++counter_);
    } while (fs::exists(path_of(label, sample.name), error));
  } else if (fs::exists(path_of(label, name), error)) {
    throw HttpError(409, "sample " + std::to_string(label) + "/" + name + " exists already");
  }
  write_file_atomically(path_of(label, sample.name), png);
  return sample;
}

bool SampleStore::remove(int label, const std::string& name) {
  check_name(name);
  std::lock_guard<std::mutex> lock(mutex_);
  std::error_code error;
  return fs::remove(path_of(label, name), error);
}

std::string SampleStore::png(int label, const std::string& name) const {
  check_name(name);
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string path = path_of(label, name);
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    throw HttpError(404, "no sample " + std::to_string(label) + "/" + name);
  }
  return read_whole_file(path, kMaxSampleFileBytes);
}

std::vector<LoadedSample> SampleStore::load(int field_size) const {
  std::vector<LoadedSample> loaded;
  for (const Sample& sample : list()) {
    std::string bytes;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::error_code error;
      if (!fs::is_regular_file(path_of(sample.label, sample.name), error)) continue;  // deleted
      bytes = read_whole_file(path_of(sample.label, sample.name), kMaxSampleFileBytes);
    }
    GrayImage image = decode_png_gray(bytes, path_of(sample.label, sample.name));
    if (image.width != field_size || image.height != field_size) {
      image = mnist_style_digit(image, field_size);
    }
    loaded.push_back({sample, std::move(image.pixels)});
  }
  return loaded;
}

}  // namespace edgetrain::web
