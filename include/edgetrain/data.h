// Training and test data: an in-memory image dataset, the batch-provider interface the trainer reads
// (Core ML's MLBatchProvider), and readers for MNIST IDX files and the seed's CSV format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edgetrain {

// What the trainer reads: `count()` samples, each a float feature block of `feature_size()` values
// laid out (C, H, W), and a class-index label.
class BatchProvider {
 public:
  virtual ~BatchProvider() = default;
  virtual size_t count() const = 0;
  virtual size_t feature_size() const = 0;
  // Copies sample `index`'s features into dst (feature_size() floats).
  virtual void copy_features(size_t index, float* dst) const = 0;
  virtual int32_t label(size_t index) const = 0;
  // The regression target of a mean-squared-error loss (`size` floats); by default the one-hot
  // encoding of the label.
  virtual void copy_target(size_t index, float* dst, size_t size) const {
    for (size_t i = 0; i < size; ++i) dst[i] = 0.0f;
    int32_t class_index = label(index);
    if (class_index >= 0 && size_t(class_index) < size) dst[class_index] = 1.0f;
  }
};

// How a reader keeps whole-number (0-255) pixels.
enum class PixelStorage {
  kBytes,   // pixel_bytes: one byte a pixel (MNIST's 60,000 training images take 47 MB)
  kPacked,  // packed_pixels: runs of zeros coded per image (the same images take 12.1 MB)
};

// Images with class labels. The readers keep whole-number pixels as their raw bytes (a quarter of
// the memory of floats), or packed (PixelStorage::kPacked, what `edgetrain` uses); a dataset built
// in code, or a CSV with fractional values, holds floats. Exactly one storage is used; whichever
// it is, the trainer sees the same features in [0, 1] (value / 255).
struct Dataset : BatchProvider {
  std::string source;  // where it was read from, for messages and reports
  int channels = 1, height = 28, width = 28;
  int num_classes = 10;
  std::vector<float> pixels;         // (N, C, H, W) in [0, 1], or empty when another storage is used
  std::vector<uint8_t> pixel_bytes;  // (N, C, H, W) raw 0-255
  // Packed: image i is packed_pixels[packed_offsets[i], packed_offsets[i + 1]), either its
  // feature_size() raw bytes or, when shorter, pairs (zero count, nonzero count) each followed by
  // that many nonzero bytes (src/data/packed_pixels.h). Empty offsets: not packed.
  std::vector<uint8_t> packed_pixels;
  std::vector<uint64_t> packed_offsets;  // (N + 1), from 0
  std::vector<int32_t> labels;           // (N)

  size_t count() const override { return labels.size(); }
  size_t feature_size() const override { return size_t(channels) * height * width; }
  void copy_features(size_t index, float* dst) const override;
  int32_t label(size_t index) const override { return labels[index]; }
  // One image's features in [0, 1].
  std::vector<float> image(size_t index) const;
  // Value `flat_index` of the (N, C, H, W) block, in [0, 1] (decodes its image when packed).
  float pixel(size_t flat_index) const;
  // Keeps the first n samples (no-op when n >= count()).
  void truncate(size_t n);
};

// Reads an IDX image file (magic 2051, uint8 pixels) and its IDX label file (magic 2049), each raw
// or gzip-compressed (detected from the bytes, not the name), in 1 MB pieces, so the memory it
// takes is the dataset's own, whichever the storage. Labels must be < num_classes.
// Errors name the file and the byte offset or field at fault.
Dataset read_idx(const std::string& images_path, const std::string& labels_path,
                 int num_classes = 10, PixelStorage storage = PixelStorage::kBytes);

// Reads an IDX image file alone (for prediction): every label is -1 (unknown).
Dataset read_idx_images(const std::string& images_path,
                        PixelStorage storage = PixelStorage::kBytes);

// Reads the seed's CSV format: one image per line, the label then height*width pixel values 0-255,
// comma-separated; an optional header line (first field not a number) is skipped; blank lines are
// ignored. Errors name the file, the line and the column.
Dataset read_csv(const std::string& path, int height = 28, int width = 28, int num_classes = 10);

// The four MNIST-layout files in a folder: train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] (also accepts the '.idx3-ubyte' dotted
// spelling). `split` is "train" or "t10k". Throws naming the folder and the files it looked for.
Dataset read_idx_folder(const std::string& folder, const std::string& split, int num_classes = 10,
                        PixelStorage storage = PixelStorage::kBytes);
// True when the folder holds all four files in any accepted spelling.
bool idx_folder_complete(const std::string& folder);

}  // namespace edgetrain
