// `edgetrain evaluate`, `predict` (PNG images, CSV and IDX files) and `fetch-data`.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/fetch.h"
#include "cli/model_text.h"
#include "cli/option_checks.h"
#include "cli/png_input.h"
#include "cli/progress.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "nn/shapes.h"

namespace edgetrain::cli {

int run_evaluate(const EvaluateOptions& options) {
  const Model model = load_model(options.model);
  LoadedData data = load_data(options.data, &model, /*need_train=*/false);
  note_capped_threads(options.threads);
  const Evaluation result = evaluate(model, *data.test, options.threads);
  const bool classification = result.kind == OutputKind::kClassification;
  if (options.json) {
    nlohmann::json line = {{"model", options.model},
                           {"dataset", data.name},
                           {"test_loss", result.loss},
                           {"samples", result.samples}};
    if (classification) {
      line["test_accuracy"] = result.accuracy;
      line["confusion"] = result.confusion;
    } else {
      line["mse"] = result.mse;
      line["mae"] = result.mae;
      line["r2"] = result.r2;
    }
    std::printf("%s\n", line.dump().c_str());
    return 0;
  }
  if (!classification) {
    std::printf("%s on %s (%zu samples): MSE %.6g  MAE %.6g  R2 %.4f\n", options.model.c_str(),
                data.name.c_str(), result.samples, result.mse, result.mae, result.r2);
    return 0;
  }
  std::printf("%s on %s (%zu samples): accuracy %.4f  loss %.4f\n", options.model.c_str(),
              data.name.c_str(), result.samples, result.accuracy, result.loss);
  std::printf("confusion matrix (rows: true label, columns: predicted)\n     ");
  for (size_t j = 0; j < result.confusion.size(); ++j) {
    std::printf("%6s", class_label_text(model, j).c_str());
  }
  std::printf("\n");
  for (size_t i = 0; i < result.confusion.size(); ++i) {
    std::printf("%5s", class_label_text(model, i).c_str());
    for (int64_t count : result.confusion[i]) std::printf("%6lld", (long long)count);
    std::printf("\n");
  }
  return 0;
}

namespace {

std::string lower_extension(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  for (char& c : extension) c = char(std::tolower(static_cast<unsigned char>(c)));
  return extension;
}

// A predict input: a CSV file (one image per line) or an IDX image file.
Dataset read_inputs(const std::string& path) {
  if (lower_extension(path) == ".csv") return read_csv(path);
  return read_idx_images(path);
}

// A class label as JSON: a number for int labels (and plain networks), else a string.
nlohmann::json label_json(const Model& model, size_t k) {
  if (model.kind == ModelKind::kClassifier && model.class_labels.int_labels.empty()) {
    return class_label_text(model, k);
  }
  return model.kind == ModelKind::kClassifier ? nlohmann::json(model.class_labels.int_labels[k])
                                              : nlohmann::json(k);
}

// An expected value in text: a class label as it is, a number or list as JSON.
std::string expected_text(const nlohmann::json& expected) {
  return expected.is_string() ? expected.get<std::string>() : expected.dump();
}

// How predict --json names an output's type.
const char* output_type_text(FeatureType type) {
  switch (type) {
    case FeatureType::kInt64:
    case FeatureType::kString: return "classLabel";
    case FeatureType::kDictionary: return "probabilities";
    case FeatureType::kImage: return "image";
    default: return "multiArray";
  }
}

}  // namespace

int run_predict(const PredictOptions& options) {
  const Model model = load_model(options.model);
  note_capped_threads(options.threads);
  Predictor predictor(model, options.threads);
  // One prediction: printed as text or as one JSON line.
  const bool classification = predictor.kind() == OutputKind::kClassification;
  // `expected`: the sample's class label or target, null when unknown.
  auto report = [&](const std::string& name, const float* features,
                    const nlohmann::json& expected) {
    const Prediction prediction = predictor.predict(features);
    if (options.json) {
      // Every output by its model name and type; a classification also gets its label and
      // probabilities at the top level.
      nlohmann::json outputs = nlohmann::json::object();
      for (const OutputValue& output : prediction.outputs) {
        nlohmann::json item = {{"type", output_type_text(output.type)}};
        if (output.type == FeatureType::kInt64 || output.type == FeatureType::kString) {
          item["value"] = label_json(model, size_t(prediction.label));
        } else if (output.type == FeatureType::kDictionary) {
          nlohmann::json probabilities = nlohmann::json::object();
          for (size_t k = 0; k < output.values.size(); ++k) {
            probabilities[class_label_text(model, k)] = output.values[k];
          }
          item["value"] = probabilities;
        } else {
          item["shape"] = output.shape;
          item["values"] = output.values;
        }
        outputs[output.name] = item;
      }
      nlohmann::json line = {{"input", name}};
      if (classification) {
        const size_t k = size_t(prediction.label);
        line["label"] = label_json(model, k);
        line["probabilities"] = prediction.probabilities;
        if (model.kind == ModelKind::kClassifier) line["class_index"] = k;
      }
      line["outputs"] = outputs;
      if (!expected.is_null()) line["expected"] = expected;
      std::printf("%s\n", line.dump().c_str());
      return;
    }
    if (!classification) {
      std::printf("%s:", name.c_str());
      for (const OutputValue& output : prediction.outputs) {
        std::printf(" %s %s [", output.name.c_str(), shape_string(output.shape).c_str());
        const size_t shown = std::min<size_t>(output.values.size(), 8);
        for (size_t v = 0; v < shown; ++v) std::printf("%s%.6g", v ? ", " : "", output.values[v]);
        std::printf("%s]", output.values.size() > shown ? ", ..." : "");
      }
      if (!expected.is_null()) std::printf(" (expected %s)", expected_text(expected).c_str());
      std::printf("\n");
      return;
    }
    const size_t k = size_t(prediction.label);
    std::printf("%s: %s", name.c_str(), class_label_text(model, k).c_str());
    if (!expected.is_null()) std::printf(" (expected %s)", expected_text(expected).c_str());
    std::printf("  ");
    for (const auto& [label, probability] : prediction.top(options.top)) {
      std::printf(" %s:%.4f", class_label_text(model, size_t(label)).c_str(), probability);
    }
    std::printf("\n");
  };
  // ---- predict --dataset: every sample of a data set, with its expected class or target ----
  if (!options.data.dataset.empty()) {
    const LoadedData data = load_data(options.data, &model, /*need_train=*/false);
    const BatchProvider& samples = *data.test;
    if (samples.feature_size() != predictor.input_size()) {
      throw Error(data.name + ": its samples have " + std::to_string(samples.feature_size()) +
                  " values but the model takes " + std::to_string(predictor.input_size()));
    }
    const std::vector<std::string> names = samples.class_names();
    std::vector<float> features(samples.feature_size()), target(samples.target_size());
    size_t count = samples.count();
    if (options.limit > 0 && options.limit < count) count = options.limit;
    for (size_t i = 0; i < count; ++i) {
      samples.copy_features(i, features.data());
      nlohmann::json expected = nullptr;
      const int32_t label = samples.label(i);
      if (!target.empty()) {
        samples.copy_target(i, target.data(), target.size());
        expected = target.size() == 1 ? nlohmann::json(target[0]) : nlohmann::json(target);
      } else if (label >= 0) {
        expected = names.empty() ? nlohmann::json(label) : nlohmann::json(names[size_t(label)]);
      }
      report(samples.sample_name(i), features.data(), expected);
    }
  }
  // ---- end of predict --dataset ----
  for (const std::string& input : options.inputs) {
    const std::string extension = lower_extension(input);
    if (extension == ".png" || extension == ".jpg" || extension == ".jpeg") {
      const std::vector<float> features = read_png_input(input, model, options.digit);
      report(input, features.data(), nullptr);
      continue;
    }
    const Dataset images = read_inputs(input);
    if (images.feature_size() != predictor.input_size()) {
      throw Error(input + ": its images have " + std::to_string(images.feature_size()) +
                  " pixels but the model takes " + std::to_string(predictor.input_size()));
    }
    size_t count = images.count();
    if (options.limit > 0 && options.limit < count) count = options.limit;
    for (size_t i = 0; i < count; ++i) {
      const std::string name = images.count() == 1 ? input : input + "#" + std::to_string(i);
      const int32_t label = images.label(i);
      report(name, images.image(i).data(), label >= 0 ? nlohmann::json(label) : nlohmann::json());
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
