// `edgetrain validate`, `make-updatable` and `convert`: Core ML's rules, turning a model made
// elsewhere into an updatable one, and the lossless .mlmodel <-> .json text form.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/model_text.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/io.h"
#include "base/atomic_file.h"

namespace edgetrain::cli {
namespace {

std::string extension_of(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return extension;
}

}  // namespace

int run_validate(const ValidateOptions& options) {
  const Model model = load_model(options.model);
  const ValidationReport report = validate_coreml(model);
  for (const std::string& error : report.errors) std::printf("%s\n", error.c_str());
  for (const std::string& warning : report.warnings) std::printf("warning: %s\n", warning.c_str());
  if (!report.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %zu of Core ML's rules broken\n", options.model.c_str(),
                 report.errors.size());
    return 1;
  }
  std::printf("%s: valid (updatable: %s)\n", options.model.c_str(), model.update ? "yes" : "no");
  return 0;
}

int run_make_updatable(const MakeUpdatableCommand& options) {
  const Model model = load_model(options.model);
  MakeUpdatableOptions settings;
  settings.layers = options.layers;
  if (options.loss == "cross-entropy") {
    settings.loss = LossType::kCategoricalCrossEntropy;
  } else if (options.loss == "mse") {
    settings.loss = LossType::kMeanSquaredError;
  } else {
    throw Error("--loss is cross-entropy or mse, not '" + options.loss + "'");
  }
  if (options.optimizer != "adam" && options.optimizer != "sgd") {
    throw Error("--optimizer is adam or sgd, not '" + options.optimizer + "'");
  }
  settings.optimizer = options.optimizer == "sgd" ? OptimizerKind::kSgd : OptimizerKind::kAdam;
  if (settings.optimizer == OptimizerKind::kAdam && options.momentum != 0) {
    throw Error("--momentum applies to --optimizer sgd");
  }
  settings.learning_rate = options.learning_rate;
  settings.batch_size = options.batch_size;
  settings.epochs = options.epochs;
  settings.momentum = options.momentum;
  settings.target_name = options.target;
  settings.loss_input = options.loss_input;
  Model updatable;
  try {
    updatable = make_updatable(model, settings);
  } catch (const Error& e) {
    throw Error(options.model + ": " + e.what());
  }
  save_model(updatable, options.output);
  const Loss& loss = updatable.update->losses[0];
  std::string layers;
  for (const std::string& name : options.layers) layers += (layers.empty() ? "" : ", ") + name;
  std::printf(
      "%s: updatable model (specification version %d) with layers %s updatable; %s of '%s' "
      "against training input '%s'; %s, learning rate %g, batch %lld, %lld epochs\n",
      options.output.c_str(), updatable.metadata.specification_version, layers.c_str(),
      loss_type_text(loss.type), loss.input.c_str(), loss.target.c_str(),
      settings.optimizer == OptimizerKind::kSgd ? "SGD" : "Adam", settings.learning_rate, (long long)settings.batch_size,
      (long long)settings.epochs);
  for (const std::string& warning : validate_coreml(updatable).warnings) {
    std::printf("warning: %s\n", warning.c_str());
  }
  return 0;
}

int run_convert(const ConvertOptions& options) {
  const std::string from = extension_of(options.input), to = extension_of(options.output);
  const bool to_json = from != ".json" && to == ".json";
  const bool to_mlmodel = from == ".json" && to != ".json";
  if (!to_json && !to_mlmodel) {
    throw Error("convert goes between .mlmodel and .json: '" + options.input + "' -> '" +
                options.output + "' has " + (from == ".json" ? "JSON" : "a .mlmodel") +
                " on both sides");
  }
  const std::string bytes = read_whole_file(options.input);
  const std::string converted =
      to_json ? mlmodel_to_json(bytes, options.input) : json_to_mlmodel(bytes, options.input);
  write_file_atomically(options.output, converted);
  std::printf("%s -> %s (%zu bytes)\n", options.input.c_str(), options.output.c_str(),
              converted.size());
  return 0;
}

}  // namespace edgetrain::cli
