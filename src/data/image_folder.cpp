// Image folders: <folder>/<class>/<image>.{png,jpg,jpeg}, read into memory (read_image_folder) or
// decoded as each sample is asked for (ImageFolder). Both list the files the same way and turn
// an image into features the same way, so they give identical samples.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include "base/atomic_file.h"
#include "base/thread_pool.h"
#include "data/dataset_storage.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"
#include "edgetrain/image.h"

namespace edgetrain {
namespace {

namespace fs = std::filesystem;

// Larger files are not pictures anyone means to train on (a 16-megapixel JPEG is ~5 MB).
constexpr size_t kMaxImageFileBytes = size_t(64) << 20;

bool hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.empty() || name[0] == '.';
}

bool image_extension(const fs::path& path) {
  std::string extension = path.extension().string();
  for (char& c : extension) c = char(std::tolower(static_cast<unsigned char>(c)));
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg";
}

// Entries of a folder, sorted by name; Error naming the folder when it cannot be listed.
std::vector<fs::path> sorted_entries(const fs::path& folder) {
  std::vector<fs::path> entries;
  std::error_code error;
  fs::directory_iterator it(folder, error);
  if (error) throw Error(folder.string() + ": cannot list the folder (" + error.message() + ")");
  for (const fs::directory_entry& entry : it) {
    if (!hidden(entry.path())) entries.push_back(entry.path());
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

struct Listing {
  std::vector<std::string> classes;  // subfolder names, sorted
  std::vector<std::string> paths;    // every image, class by class, sorted within a class
  std::vector<int32_t> labels;       // (paths)
  std::vector<std::string> names;    // "<class>/<file>", for messages
};

Listing list_images(const std::string& folder) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) throw Error(folder + ": no such folder");
  Listing listing;
  for (const fs::path& sub : sorted_entries(folder)) {
    if (!fs::is_directory(sub, error)) continue;
    const int32_t label = int32_t(listing.classes.size());
    const std::string name = sub.filename().string();
    size_t images = 0;
    for (const fs::path& file : sorted_entries(sub)) {
      if (!image_extension(file) || !fs::is_regular_file(file, error)) continue;
      listing.paths.push_back(file.string());
      listing.labels.push_back(label);
      listing.names.push_back(name + "/" + file.filename().string());
      ++images;
    }
    if (images == 0) {
      throw Error(sub.string() + ": the class folder holds no image (.png, .jpg or .jpeg)");
    }
    listing.classes.push_back(name);
  }
  if (listing.classes.empty()) {
    throw Error(folder +
                ": no class subfolders; an image folder holds one subfolder per class, "
                "named after it, with that class's images: " +
                folder + "/<class>/<image>.png");
  }
  return listing;
}

int color_channels(ImageColor color) {
  return color == ImageColor::kGray ? 1 : 3;
}

void check_options(const ImageFolderOptions& options, const std::string& folder) {
  if (options.width < 1 || options.height < 1 ||
      size_t(options.width) * size_t(options.height) > kMaxImagePixels) {
    throw Error(folder + ": cannot resize images to " + std::to_string(options.width) + "x" +
                std::to_string(options.height));
  }
}

// One image file as (C, H, W) bytes of the options' size.
void load_image(const std::string& path, const ImageFolderOptions& options, uint8_t* dst) {
  const ImagePixels decoded =
      decode_image(read_whole_file(path, kMaxImageFileBytes), path, options.color);
  const ImagePixels image = resize_image(decoded, options.width, options.height);
  const size_t pixels = size_t(image.width) * size_t(image.height);
  const size_t channels = size_t(image.channels);
  // Interleaved (H, W, C) -> planar (C, H, W).
  for (size_t p = 0; p < pixels; ++p) {
    for (size_t c = 0; c < channels; ++c) dst[c * pixels + p] = image.bytes[p * channels + c];
  }
}

SampleShape shape_of(const ImageFolderOptions& options) {
  return {
      .channels = color_channels(options.color), .height = options.height, .width = options.width};
}

}  // namespace

bool is_image_folder(const std::string& folder) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) return false;
  for (const fs::directory_entry& sub : fs::directory_iterator(folder, error)) {
    if (hidden(sub.path()) || !sub.is_directory(error)) continue;
    for (const fs::directory_entry& file : fs::directory_iterator(sub.path(), error)) {
      if (!hidden(file.path()) && image_extension(file.path())) return true;
    }
  }
  return false;
}

Dataset read_image_folder(const std::string& folder, const ImageFolderOptions& options) {
  check_options(options, folder);
  Listing listing = list_images(folder);
  const SampleShape shape = shape_of(options);
  const size_t size = shape.size(), count = listing.paths.size();
  std::vector<uint8_t> pixels(count * size);
  // Decoded in parallel; the error reported is the first file's in listing order, whatever the
  // threads' timing.
  std::vector<std::optional<std::string>> errors(count);
  ThreadPool pool(0);
  pool.parallel_for(count, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      try {
        load_image(listing.paths[i], options, pixels.data() + i * size);
      } catch (const Error& e) {
        errors[i] = e.what();
      }
    }
  });
  for (const std::optional<std::string>& error : errors) {
    if (error) throw Error(*error);
  }
  data::DatasetParts parts;
  parts.source = folder;
  parts.shape = shape;
  parts.num_classes = int(listing.classes.size());
  parts.class_names = std::move(listing.classes);
  parts.pixel_bytes = std::move(pixels);
  parts.labels = std::move(listing.labels);
  parts.sample_names = std::move(listing.names);
  return data::DatasetStorage::assemble(std::move(parts));
}

// ---- ImageFolder: decoded on demand -----------------------------------------------------------

struct ImageFolder::State {
  ImageFolderOptions options;
  SampleShape shape;
  Listing listing;
};

ImageFolder::ImageFolder(const std::string& folder, const ImageFolderOptions& options)
    : state_(std::make_unique<State>()) {
  check_options(options, folder);
  state_->options = options;
  state_->shape = shape_of(options);
  state_->listing = list_images(folder);
  // Every file is opened once: it must start as a PNG or a JPEG does (decoding waits for its turn).
  for (const std::string& path : state_->listing.paths) {
    std::ifstream file(path, std::ios::binary);
    std::string start(8, '\0');
    file.read(start.data(), std::streamsize(start.size()));
    start.resize(size_t(std::max<std::streamsize>(file.gcount(), 0)));
    if (!file.good() && !file.eof()) throw Error(path + ": cannot read the file");
    if (!is_png(start) && !is_jpeg(start)) {
      throw Error(path + ": neither a PNG nor a JPEG image (by its first bytes)");
    }
  }
}

ImageFolder::~ImageFolder() = default;

size_t ImageFolder::count() const {
  return state_->listing.paths.size();
}
size_t ImageFolder::feature_size() const {
  return state_->shape.size();
}

void ImageFolder::copy_features(size_t index, float* dst) const {
  std::vector<uint8_t> bytes(feature_size());
  load_image(state_->listing.paths[index], state_->options, bytes.data());
  for (size_t i = 0; i < bytes.size(); ++i) dst[i] = float(bytes[i]) / 255.0f;
}

int32_t ImageFolder::label(size_t index) const {
  return state_->listing.labels[index];
}
std::vector<std::string> ImageFolder::class_names() const {
  return state_->listing.classes;
}
std::string ImageFolder::sample_name(size_t index) const {
  return state_->listing.names[index];
}
const std::string& ImageFolder::path(size_t index) const {
  return state_->listing.paths[index];
}

}  // namespace edgetrain
