#include "cli/datasets.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "edgetrain/error.h"

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

}  // namespace

LoadedData load_data(const DataRequest& request, bool need_train) {
  LoadedData data;
  std::string folder;
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
    if (need_train) data.train = read_csv(request.dataset);
    if (request.test_csv.empty()) {
      if (!need_train) data.test = read_csv(request.dataset);
    } else {
      data.test = read_csv(request.test_csv);
    }
    return data;
  } else {
    throw Error("--dataset '" + request.dataset +
                "' is neither mnist, fashion-mnist, a folder of IDX files nor a CSV file");
  }
  // Packed pixels: MNIST's images take a quarter of the memory, and the features are the same.
  if (need_train) data.train = read_idx_folder(folder, "train", 10, PixelStorage::kPacked);
  data.test = read_idx_folder(folder, "t10k", 10, PixelStorage::kPacked);
  return data;
}

}  // namespace edgetrain::cli
