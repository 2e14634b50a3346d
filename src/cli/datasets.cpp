#include "cli/datasets.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "base/machine.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "nn/shapes.h"

namespace edgetrain::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFashionFolder = "/usr/share/datasets/fashion-mnist";

// Candidate folders for a named dataset, in the order they are tried, each with how it was found.
std::vector<std::pair<std::string, std::string>> candidates(const std::string& name,
                                                            const std::string& data_dir) {
  std::vector<std::pair<std::string, std::string>> places;
  auto add_base = [&](const std::string& base, const std::string& how) {
    places.push_back({base, how});
    places.push_back({(fs::path(base) / name).string(), how});
  };
  if (!data_dir.empty()) add_base(data_dir, "--data-dir");
  if (const char* env = std::getenv("EDGETRAIN_DATA"); env && *env) add_base(env, "$EDGETRAIN_DATA");
  places.push_back({(fs::path("data") / name).string(), "the default"});
  if (name == "fashion-mnist") places.push_back({kFashionFolder, "the Debian package"});
  return places;
}

std::string find_named(const std::string& name, const std::string& data_dir) {
  for (const auto& [folder, how] : candidates(name, data_dir)) {
    if (idx_folder_complete(folder)) return folder;
  }
  return "";
}

[[noreturn]] void missing(const std::string& name, const std::string& data_dir) {
  std::string message = "cannot find the " + name + " data set. Looked for its four IDX files in:";
  for (const auto& [folder, how] : candidates(name, data_dir)) {
    message += "\n  " + folder + " (" + how + ")";
  }
  if (data_dir.empty()) message += "\n  (--data-dir not given)";
  if (!std::getenv("EDGETRAIN_DATA")) message += "\n  ($EDGETRAIN_DATA not set)";
  if (name == "mnist") {
    message += "\nGet it with `edgetrain fetch-data mnist` (downloads into ./data/mnist), or point "
               "--data-dir at a folder holding train-images-idx3-ubyte.gz and the other three files.";
  } else {
    message += "\nGet it with `apt-get install dataset-fashion-mnist` (installs into " +
               std::string(kFashionFolder) + "), or point --data-dir at a folder holding its files.";
  }
  throw Error(message);
}

bool is_csv(const std::string& path) {
  return fs::path(path).extension() == ".csv" || fs::is_regular_file(path);
}

std::shared_ptr<const BatchProvider> empty_data() { return std::make_shared<const Dataset>(); }

// Memory the samples may take before they are read from disk as needed instead: half of what this
// process may still allocate, so the run's own buffers keep room.
bool fits_in_memory(double bytes) { return bytes <= memory_budget().bytes / 2; }

// The model's one input an image folder feeds: its size and colour. Error saying why not.
ImageFolderOptions image_options(const Model& model, const std::string& folder) {
  if (model.inputs.size() != 1) {
    throw Error(folder + ": an image folder feeds a model with one input; this one takes " +
                std::to_string(model.inputs.size()));
  }
  const Feature& input = model.inputs[0];
  const Shape shape = feature_shape(input, model);
  const bool planes = shape.rank() == 3 && (shape[0] == 1 || shape[0] == 3) &&
                      (shape[1] > 1 || shape[2] > 1);
  if (!planes) {
    throw Error(folder + ": an image folder feeds an image input or a [C, H, W] array of 1 or 3 "
                "channels; the model input '" + input.name + "' is " + shape.text());
  }
  ImageFolderOptions options{.width = shape[2], .height = shape[1]};
  if (shape[0] == 3) {
    const bool bgr =
        input.type == FeatureType::kImage && input.image.color_space == ColorSpace::kBGR;
    options.color = bgr ? ImageColor::kBGR : ImageColor::kRGB;
  }
  return options;
}

std::shared_ptr<const BatchProvider> open_image_folder(const std::string& folder,
                                                       const Model& model, bool stream,
                                                       bool& streamed) {
  const ImageFolderOptions options = image_options(model, folder);
  auto on_disk = std::make_shared<const ImageFolder>(folder, options);
  streamed = stream || !fits_in_memory(double(on_disk->count()) * double(on_disk->feature_size()));
  if (streamed) return on_disk;
  return std::make_shared<const Dataset>(read_image_folder(folder, options));
}

// How a model's inputs read a table: its feature columns (empty: every column but the target, in
// order) and whether the target is a class or a number.
CsvTableOptions table_options(const Model& model, const std::string& target,
                              const std::string& path) {
  CsvTableOptions options;
  options.target = target;
  switch (output_kind(model)) {
    case OutputKind::kClassification: options.target_kind = TargetKind::kClass; break;
    case OutputKind::kRegression: options.target_kind = TargetKind::kReal; break;
    case OutputKind::kValues:
      throw Error(path + ": --target names what the model is trained or scored against, but its "
                  "output '" + network_output_name(model) + "' is neither class probabilities "
                  "nor a regression");
  }
  if (model.inputs.size() > 1) {
    // Several inputs: each takes the column named after it, or name_0 .. name_{n-1} for n values.
    for (const Feature& input : model.inputs) {
      const int64_t values = feature_shape(input, model).count();
      if (values == 1) {
        options.features.push_back(input.name);
        continue;
      }
      for (int64_t v = 0; v < values; ++v) {
        options.features.push_back(input.name + "_" + std::to_string(v));
      }
    }
  }
  return options;
}

std::shared_ptr<const BatchProvider> open_table(const std::string& path, const Model& model,
                                                const std::string& target, bool stream,
                                                bool& streamed) {
  const CsvTableOptions options = table_options(model, target, path);
  std::error_code error;
  const double file_bytes = double(fs::file_size(path, error));
  // Floats take at most twice the text they are read from (every value is 2 bytes or more).
  streamed = stream || (!error && !fits_in_memory(2 * file_bytes));
  std::shared_ptr<const BatchProvider> table;
  if (streamed) {
    table = std::make_shared<const CsvTableStream>(path, options);
  } else {
    table = std::make_shared<const Dataset>(read_csv_table(path, options));
  }
  const size_t takes = size_t(feature_shape(model.inputs.at(0), model).count());
  if (model.inputs.size() == 1 && table->feature_size() != takes) {
    throw Error(path + ": the table has " + std::to_string(table->feature_size()) +
                " feature columns besides the target '" + target + "', but the model input '" +
                model.inputs[0].name + "' takes " + std::to_string(takes) + " values");
  }
  return table;
}

}  // namespace

LoadedData load_data(const DataRequest& request, const Model* model, bool need_train) {
  LoadedData data;
  data.train = empty_data();
  data.test = empty_data();
  std::string folder;
  auto need_model = [&](const char* what) -> const Model& {
    if (!model) throw Error(request.dataset + ": " + what + " needs a model to read it for");
    return *model;
  };
  if (!request.target.empty()) {
    // A CSV table: the training set, and --test-csv a second table of the same columns.
    if (!is_csv(request.dataset)) {
      throw Error("--target names a column of a CSV table, but --dataset '" + request.dataset +
                  "' is not a file");
    }
    const Model& table_model = need_model("a table");
    data.name = request.dataset;
    data.samples_word = "rows";
    const std::string& test = request.test_csv;
    if (need_train) {
      data.train =
          open_table(request.dataset, table_model, request.target, request.stream, data.streamed);
    }
    if (!test.empty() || !need_train) {
      bool streamed = false;
      data.test = open_table(test.empty() ? request.dataset : test, table_model, request.target,
                             request.stream, streamed);
      data.streamed = data.streamed || streamed;
    }
    return data;
  }
  if (!request.dataset.empty() && fs::is_directory(request.dataset) &&
      !idx_folder_complete(request.dataset) && is_image_folder(request.dataset)) {
    // One subfolder of images per class: the training set (or, to evaluate, the test set).
    data.name = request.dataset;
    auto images = open_image_folder(request.dataset, need_model("an image folder"), request.stream,
                                    data.streamed);
    (need_train ? data.train : data.test) = images;
    return data;
  }
  if (request.dataset.empty()) {
    folder = find_named("mnist", request.data_dir);
    data.name = "mnist";
    if (folder.empty()) {
      folder = find_named("fashion-mnist", request.data_dir);
      data.name = "fashion-mnist";
      if (folder.empty()) missing("mnist", request.data_dir);
      data.note = "MNIST not found; using Fashion-MNIST from " + folder;
    } else {
      data.note = "using MNIST from " + folder;
    }
  } else if (request.dataset == "mnist" || request.dataset == "fashion-mnist") {
    data.name = request.dataset;
    folder = find_named(request.dataset, request.data_dir);
    if (folder.empty()) missing(request.dataset, request.data_dir);
  } else if (fs::is_directory(request.dataset)) {
    data.name = request.dataset;
    folder = request.dataset;
  } else if (is_csv(request.dataset)) {
    data.name = request.dataset;
    auto read = [](const std::string& path) {
      return std::make_shared<const Dataset>(read_csv(path));
    };
    if (need_train) data.train = read(request.dataset);
    if (request.test_csv.empty()) {
      if (!need_train) data.test = read(request.dataset);
    } else {
      data.test = read(request.test_csv);
    }
    return data;
  } else {
    throw Error("--dataset '" + request.dataset +
                "' is neither mnist, fashion-mnist, a folder of IDX files, a folder of images in "
                "one subfolder per class, nor a CSV file");
  }
  if (!idx_folder_complete(folder) && fs::is_directory(folder)) {
    throw Error(folder + ": neither MNIST's four IDX files nor an image folder (one subfolder per "
                "class holding .png, .jpg or .jpeg images)");
  }
  // Packed pixels: MNIST's images take a quarter of the memory, and the features are the same.
  if (need_train) {
    data.train = std::make_shared<const Dataset>(
        read_idx_folder(folder, "train", 10, PixelStorage::kPacked));
  }
  data.test =
      std::make_shared<const Dataset>(read_idx_folder(folder, "t10k", 10, PixelStorage::kPacked));
  return data;
}

namespace {

// `set` becomes a view of its first `limit` samples (0, or at least its count: unchanged). The view
// keeps the whole set alive: it is what the trainer or the evaluator reads.
void keep_first(std::shared_ptr<const BatchProvider>& set, size_t limit) {
  if (limit == 0 || limit >= set->count()) return;
  struct Limited : SampleView {
    Limited(std::shared_ptr<const BatchProvider> data, size_t first)
        : SampleView(*data, first), keep(std::move(data)) {}
    std::shared_ptr<const BatchProvider> keep;
  };
  set = std::make_shared<const Limited>(set, limit);
}

}  // namespace

void limit_training(LoadedData& data, size_t limit) { keep_first(data.train, limit); }
void limit_test(LoadedData& data, size_t limit) { keep_first(data.test, limit); }

}  // namespace edgetrain::cli
