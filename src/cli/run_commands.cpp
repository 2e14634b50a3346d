// `edgetrain evaluate`, `predict` and `fetch-data`.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/progress.h"
#include "data/fetch.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"

namespace edgetrain::cli {

int run_evaluate(const EvaluateOptions& options) {
  const Model model = load_model(options.model);
  LoadedData data = load_data(options.data, /*need_train=*/false);
  const Evaluation result = evaluate(model, data.test, options.threads);
  if (options.json) {
    std::printf("%s\n", nlohmann::json({{"model", options.model},
                                        {"dataset", data.name},
                                        {"test_accuracy", result.accuracy},
                                        {"test_loss", result.loss},
                                        {"samples", result.samples},
                                        {"confusion", result.confusion}})
                            .dump()
                            .c_str());
    return 0;
  }
  std::printf("%s on %s (%zu samples): accuracy %.4f  loss %.4f\n", options.model.c_str(),
              data.name.c_str(), result.samples, result.accuracy, result.loss);
  std::printf("confusion matrix (rows: true label, columns: predicted)\n     ");
  for (size_t j = 0; j < result.confusion.size(); ++j) std::printf("%6zu", j);
  std::printf("\n");
  for (size_t i = 0; i < result.confusion.size(); ++i) {
    std::printf("%5zu", i);
    for (int64_t count : result.confusion[i]) std::printf("%6lld", (long long)count);
    std::printf("\n");
  }
  return 0;
}

namespace {

// A predict input: a CSV file (one image per line) or an IDX image file.
Dataset read_inputs(const std::string& path) {
  if (std::filesystem::path(path).extension() == ".csv") return read_csv(path);
  return read_idx_images(path);
}

}  // namespace

int run_predict(const PredictOptions& options) {
  const Model model = load_model(options.model);
  Predictor predictor(model);
  for (const std::string& input : options.inputs) {
    const Dataset images = read_inputs(input);
    if (images.feature_size() != predictor.input_size()) {
      throw Error(input + ": its images have " + std::to_string(images.feature_size()) +
                  " pixels but the model takes " + std::to_string(predictor.input_size()));
    }
    size_t count = images.count();
    if (options.limit > 0 && options.limit < count) count = options.limit;
    for (size_t i = 0; i < count; ++i) {
      const Prediction prediction = predictor.predict(images.image(i));
      const std::string name = images.count() == 1 ? input : input + "#" + std::to_string(i);
      const bool has_label = !images.labels.empty() && images.labels[i] >= 0;
      if (options.json) {
        nlohmann::json line = {{"input", name},
                               {"label", prediction.label},
                               {"probabilities", prediction.probabilities}};
        if (has_label) line["expected"] = images.labels[i];
        std::printf("%s\n", line.dump().c_str());
        continue;
      }
      std::printf("%s: %d", name.c_str(), prediction.label);
      if (has_label) std::printf(" (expected %d)", images.labels[i]);
      std::printf("  ");
      for (const auto& [label, probability] : prediction.top(options.top)) {
        std::printf(" %d:%.4f", label, probability);
      }
      std::printf("\n");
    }
  }
  return 0;
}

int run_fetch_data(const FetchDataOptions& options) {
  if (options.dataset != "mnist") {
    throw Error("fetch-data knows only 'mnist', not '" + options.dataset +
                "' (Fashion-MNIST comes from Debian: apt-get install dataset-fashion-mnist)");
  }
  FetchOptions fetch;
  if (!options.mirror.empty()) fetch.mirror = options.mirror;
  fetch.data_dir = options.data_dir;
  ProgressBar bar(true);
  fetch.progress = [&](const std::string& file, uint64_t done, uint64_t total) {
    bar.update(done, total ? total : done, 0, file);
  };
  for (const FetchResult& result : fetch_mnist(fetch)) {
    bar.clear();
    std::printf("%s: %s (%llu bytes, MD5 verified)\n", result.path.c_str(),
                result.already_present ? "already present" : "downloaded",
                (unsigned long long)result.bytes);
  }
  return 0;
}

}  // namespace edgetrain::cli
