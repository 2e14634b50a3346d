/**
 * @file data.h
 * @brief Training and test data. One interface, BatchProvider (Core ML's MLBatchProvider), is what
 * the trainer, the evaluator and the command line read; every source implements it:
 *
 * - Dataset: samples in memory, checked when made: Dataset::with_labels() and
 *   Dataset::with_targets() for features of your own, or a reader below
 * - read_idx(), read_idx_folder(): MNIST's IDX files
 * - read_csv(): the seed's CSV of 28x28 digits (label, then the pixels)
 * - read_csv_table(): a CSV table with a header: feature columns and a class or real target
 * - read_image_folder(): one subfolder of PNG / JPEG images per class, each resized to a size
 * - ImageFolder, CsvTableStream: the same two read from disk as training asks for each sample, for
 *   data that does not fit in memory
 * - SampleView: some samples of another provider
 *
 * @code
 * Dataset data = Dataset::with_targets(features, targets, {.channels = 13}, 1);  // 13 -> 1
 * UpdateTask task(model, data);
 * task.run();
 * @endcode
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgetrain/image.h"

namespace edgetrain {

/**
 * The layout of one sample's features, as Core ML lays out an array input: (C, H, W); a vector
 * of n values is {n, 1, 1}.
 */
struct SampleShape {
  /// (C, H, W), each at least 1.
  ///@{
  int channels = 1, height = 1, width = 1;
  ///@}
  /** Values in one sample: C x H x W. */
  size_t size() const { return size_t(channels) * size_t(height) * size_t(width); }
  std::string text() const;                             ///< "[3, 32, 32]", for messages.
  bool operator==(const SampleShape&) const = default;  ///< Every dimension equal.
};

/**
 * What the trainer, the evaluator and the command line read: `count()` samples, each a float
 * feature block of `feature_size()` values (every model input's values in turn, in the model's
 * input order), with a class label or real-valued targets. Calls for different samples may come
 * from several threads at once: implementations are safe for concurrent const use.
 */
class BatchProvider {
 public:
  virtual ~BatchProvider() = default;       ///< Providers are used through this interface.
  virtual size_t count() const = 0;         ///< Samples, indexed from 0.
  virtual size_t feature_size() const = 0;  ///< Float values in one sample's features.
  /**
   * Copies sample `index`'s features into dst (feature_size() floats). A source read from disk
   * throws Error naming the file when it cannot.
   */
  virtual void copy_features(size_t index, float* dst) const = 0;
  /** The sample's class, from 0; -1 when it has none (real-valued targets, or unknown). */
  virtual int32_t label(size_t index) const = 0;
  /** Real-valued targets per sample (a regression's), or 0 when the samples have class labels. */
  virtual size_t target_size() const { return 0; }
  /**
   * Copies `size` target values: the sample's targets (Error unless size == target_size()), or,
   * for class labels, the label's one-hot encoding (a mean-squared-error loss on classes).
   */
  virtual void copy_target(size_t index, float* dst, size_t size) const;
  /**
   * The names of the classes when the data names them (an image folder's subfolders, a CSV's class
   * column of names): label k is class_names()[k], matched by name to a classifier's class labels.
   * Empty: a label is the class index itself (MNIST's digits).
   */
  virtual std::vector<std::string> class_names() const { return {}; }
  /**
   * Where a sample comes from, for messages: "sample 7" unless the source knows better
   * ("cats/003.png", "table.csv line 9").
   */
  virtual std::string sample_name(size_t index) const;
};

/** How a reader keeps whole-number (0-255) pixels. */
enum class PixelStorage {
  kBytes,   ///< One byte a pixel (MNIST's 60,000 training images take 47 MB).
  kPacked,  ///< Runs of zeros coded per image (the same images take 12.1 MB).
};

namespace data {
struct DatasetStorage;  // the readers' access to the storages (src/data)
}

/**
 * Samples in memory. A Dataset is consistent by construction: the factories and readers check
 * the sizes (features = count x shape), the shape, the labels (in [0, num_classes)) and that every
 * value is finite, and throw Error saying which and where; its contents cannot be changed
 * afterwards except by truncate(). Features are floats, or 0-255 bytes that read as byte / 255
 * (images: a reader's bytes, or packed), so every storage gives the trainer the same features.
 */
class Dataset : public BatchProvider {
 public:
  Dataset() = default;  ///< No samples.

  /**
   * Features (count, shape.size()) with class labels in [0, num_classes). `class_names`, when
   * given, names them (num_classes of them). `source` names the data in messages.
   */
  static Dataset with_labels(std::vector<float> features, std::vector<int32_t> labels,
                             SampleShape shape, int num_classes,
                             std::vector<std::string> class_names = {}, std::string source = "");
  /** Features (count, shape.size()) with real-valued targets (count, target_size). */
  static Dataset with_targets(std::vector<float> features, std::vector<float> targets,
                              SampleShape shape, size_t target_size = 1, std::string source = "");
  /** Images as 0-255 bytes (count, C, H, W) with class labels; the features are byte / 255. */
  static Dataset with_pixel_bytes(std::vector<uint8_t> pixels, std::vector<int32_t> labels,
                                  SampleShape shape, int num_classes,
                                  std::vector<std::string> class_names = {},
                                  std::string source = "");
  /** Features to predict on, without labels (label() is -1). */
  static Dataset unlabelled(std::vector<float> features, SampleShape shape, std::string source = "");

  size_t count() const override { return count_; }
  size_t feature_size() const override { return shape_.size(); }
  void copy_features(size_t index, float* dst) const override;
  int32_t label(size_t index) const override;
  size_t target_size() const override { return target_size_; }
  void copy_target(size_t index, float* dst, size_t size) const override;
  std::vector<std::string> class_names() const override { return class_names_; }
  std::string sample_name(size_t index) const override;

  const SampleShape& shape() const { return shape_; }  ///< One sample's (C, H, W).
  int num_classes() const { return num_classes_; }     ///< 0 without class labels.
  /** Every label (count values, -1 when unlabelled); empty for targets. */
  const std::vector<int32_t>& labels() const { return labels_; }
  const std::string& source() const { return source_; }  ///< What names the data in messages.
  /** One sample's features. */
  std::vector<float> image(size_t index) const;
  /** Value `flat_index` of the (count, feature_size) block (decodes its image when packed). */
  float pixel(size_t flat_index) const;
  /** Bytes the samples take in memory. */
  size_t memory_bytes() const;
  /// The storages, read-only: exactly one holds the samples (all are empty without samples).
  /// features: (count, feature_size) floats; pixel_bytes: (count, feature_size) raw 0-255;
  /// packed_pixels: every sample packed in turn, sample i from packed_offsets[i] to
  /// packed_offsets[i + 1] (count + 1 offsets).
  ///@{
  const std::vector<float>& features() const { return features_; }
  const std::vector<uint8_t>& pixel_bytes() const { return pixel_bytes_; }
  const std::vector<uint8_t>& packed_pixels() const { return packed_pixels_; }
  const std::vector<uint64_t>& packed_offsets() const { return packed_offsets_; }
  ///@}
  /** Keeps the first n samples (no-op when n >= count()). */
  void truncate(size_t n);

 private:
  friend struct data::DatasetStorage;
  void check_labels() const;

  std::string source_;
  SampleShape shape_;
  size_t count_ = 0;
  int num_classes_ = 0;
  std::vector<std::string> class_names_;
  // Exactly one feature storage holds the samples.
  std::vector<float> features_;      // (count, feature_size)
  std::vector<uint8_t> pixel_bytes_;  // (count, feature_size), raw 0-255
  // Packed: sample i is packed_pixels_[packed_offsets_[i], packed_offsets_[i + 1]), either its
  // feature_size() raw bytes or, when shorter, pairs (zero count, nonzero count) each followed by
  // that many nonzero bytes (src/data/packed_pixels.h).
  std::vector<uint8_t> packed_pixels_;
  std::vector<uint64_t> packed_offsets_;  // (count + 1), from 0; empty: not packed
  std::vector<int32_t> labels_;           // (count), or empty with targets
  std::vector<float> targets_;            // (count, target_size)
  size_t target_size_ = 0;
  std::vector<std::string> sample_names_;  // (count) or empty: an image folder's "class/file"
  std::vector<uint32_t> sample_lines_;     // (count) or empty: a table's line of each row
};

/**
 * Some samples of another provider, in the order given; the provider must outlive the view.
 * Forwards everything else (targets, class names, sample names).
 */
class SampleView : public BatchProvider {
 public:
  /** The first `first` samples (0, or more than there are: all of them). */
  SampleView(const BatchProvider& data, size_t first);
  /** The samples at `indices` (each below data.count(), else Error). */
  SampleView(const BatchProvider& data, std::vector<size_t> indices);
  /// A view of a temporary would dangle: refused at compile time.
  ///@{
  SampleView(const BatchProvider&&, size_t) = delete;
  SampleView(const BatchProvider&&, std::vector<size_t>) = delete;
  ///@}

  size_t count() const override { return indices_.empty() ? count_ : indices_.size(); }
  size_t feature_size() const override { return data_.feature_size(); }
  void copy_features(size_t index, float* dst) const override;
  int32_t label(size_t index) const override;
  size_t target_size() const override { return data_.target_size(); }
  void copy_target(size_t index, float* dst, size_t size) const override;
  std::vector<std::string> class_names() const override { return data_.class_names(); }
  std::string sample_name(size_t index) const override;

 private:
  size_t at(size_t index) const { return indices_.empty() ? index : indices_[index]; }
  const BatchProvider& data_;
  size_t count_ = 0;
  std::vector<size_t> indices_;
};

// ---- MNIST's IDX files and the seed's CSV -------------------------------------------------------

/**
 * Reads an IDX image file (magic 2051, uint8 pixels) and its IDX label file (magic 2049), each raw
 * or gzip-compressed (detected from the bytes, not the name), in 1 MB pieces, so the memory it
 * takes is the dataset's own, whichever the storage. Labels must be < num_classes.
 * Errors name the file and the byte offset or field at fault.
 */
Dataset read_idx(const std::string& images_path, const std::string& labels_path,
                 int num_classes = 10, PixelStorage storage = PixelStorage::kBytes);

/** Reads an IDX image file alone (for prediction): every label is -1 (unknown). */
Dataset read_idx_images(const std::string& images_path,
                        PixelStorage storage = PixelStorage::kBytes);

/**
 * Reads the seed's CSV format: one image per line, the label then height*width pixel values 0-255,
 * comma-separated; an optional header line (first field not a number) is skipped; blank lines are
 * ignored. Errors name the file, the line and the column.
 */
Dataset read_csv(const std::string& path, int height = 28, int width = 28, int num_classes = 10);

/**
 * The four MNIST-layout files in a folder: train-images-idx3-ubyte[.gz],
 * train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] (also
 * accepts the '.idx3-ubyte' dotted spelling). `split` is "train" or "t10k". Throws naming the
 * folder and the files it looked for.
 */
Dataset read_idx_folder(const std::string& folder, const std::string& split, int num_classes = 10,
                        PixelStorage storage = PixelStorage::kBytes);
/** True when the folder holds all four files in any accepted spelling. */
bool idx_folder_complete(const std::string& folder);

// ---- CSV tables ---------------------------------------------------------------------------------

/** What a CSV table's target column holds. */
enum class TargetKind {
  kReal,   ///< The target column holds numbers: a regression's targets.
  kClass,  ///< It holds class labels, numbers or names (class_names() lists them, sorted).
  kNone,   ///< No target (prediction).
};

/** Which columns of a CSV table are read, and how. */
struct CsvTableOptions {
  /** The target column's name (by the header); unused with TargetKind::kNone. */
  std::string target;
  TargetKind target_kind = TargetKind::kReal;  ///< What the target column holds.
  /**
   * The feature columns, by name, in the order they fill the features. Empty: every column but the
   * target, in the file's order.
   */
  std::vector<std::string> features;
};

/**
 * A CSV table: a header row naming the columns, then one sample per row, comma-separated, numbers
 * in every feature column (surrounding blanks allowed; a field may be quoted). Blank lines are
 * ignored, CRLF line ends accepted, the file may be gzip-compressed. Every row must have the
 * header's number of fields. Errors name the file, the line, the column (number and name) and the
 * problem: a value that is not a number, a row with too few or too many fields, a missing target
 * or feature column.
 */
Dataset read_csv_table(const std::string& path, const CsvTableOptions& options);

/**
 * read_csv_table() read from disk as each sample is asked for, for a table that does not fit in
 * memory: one pass checks every row (the same errors as read_csv_table) and keeps each row's place
 * in the file and its target (20 bytes a row); each sample's features are read again and parsed
 * when asked for. The file must not be compressed, and must not change while it is read.
 */
class CsvTableStream : public BatchProvider {
 public:
  /** Opens and checks the table (the pass above); Error as read_csv_table(). */
  CsvTableStream(const std::string& path, const CsvTableOptions& options);
  ~CsvTableStream() override;  ///< Closes the file.
  /// Owns its open file: not copyable; share one by reference (concurrent const use is safe).
  ///@{
  CsvTableStream(const CsvTableStream&) = delete;
  CsvTableStream& operator=(const CsvTableStream&) = delete;
  ///@}

  size_t count() const override;
  size_t feature_size() const override;
  void copy_features(size_t index, float* dst) const override;
  int32_t label(size_t index) const override;
  size_t target_size() const override;
  void copy_target(size_t index, float* dst, size_t size) const override;
  std::vector<std::string> class_names() const override;
  std::string sample_name(size_t index) const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---- Image folders ------------------------------------------------------------------------------

/**
 * How an image folder's pictures become features: every image is decoded (PNG or JPEG, told by its
 * first bytes), converted to `color` and resized to width x height, then laid out (C, H, W) as
 * byte / 255. The resize is scale-to-fill (Vision's VNImageCropAndScaleOption.scaleFill: the whole
 * image stretched to the size, aspect ratio not kept) with bilinear interpolation, antialiased
 * when shrinking (the triangle filter widened by the scale factor, as Pillow's BILINEAR).
 */
struct ImageFolderOptions {
  /// The size every image is resized to (the model's input), each at least 1.
  ///@{
  int width = 0, height = 0;
  ///@}
  ImageColor color = ImageColor::kGray;  ///< 1 channel, or 3 in RGB or BGR order.
};

/**
 * A folder with one subfolder per class, named after it, holding that class's images (.png, .jpg,
 * .jpeg in any letter case; other files are ignored, as are hidden files and folders). Classes are
 * the subfolder names in byte order; class_names() lists them. Throws Error naming the folder when
 * it has no class subfolder or no image, and naming the file when one cannot be decoded.
 */
Dataset read_image_folder(const std::string& folder, const ImageFolderOptions& options);

/**
 * read_image_folder() decoded from disk as each sample is asked for, for folders that do not fit
 * in memory. Opening lists the files and checks each one's header; a file that cannot be decoded
 * later is an Error naming it.
 */
class ImageFolder : public BatchProvider {
 public:
  /** Lists the images and checks each one's header; Error as read_image_folder(). */
  ImageFolder(const std::string& folder, const ImageFolderOptions& options);
  ~ImageFolder() override;  ///< Frees the file listing.
  /// Not copyable: share one by reference (concurrent const use is safe).
  ///@{
  ImageFolder(const ImageFolder&) = delete;
  ImageFolder& operator=(const ImageFolder&) = delete;
  ///@}

  size_t count() const override;
  size_t feature_size() const override;
  void copy_features(size_t index, float* dst) const override;
  int32_t label(size_t index) const override;
  std::vector<std::string> class_names() const override;
  std::string sample_name(size_t index) const override;
  const std::string& path(size_t index) const;  ///< The image file of sample `index`.

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/**
 * True when `folder` has at least one subfolder holding an image file (read_image_folder()'s
 * layout).
 */
bool is_image_folder(const std::string& folder);

}  // namespace edgetrain
