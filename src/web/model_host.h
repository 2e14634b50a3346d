// The model the server predicts with: immutable snapshots swapped atomically, so a prediction never
// reads weights a training run is writing, and every answer comes from one whole model.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgetrain/inference.h"
#include "edgetrain/model.h"

namespace edgetrain::web {

// One published model. Never changes after publication; predictions on it may run on any number
// of threads at once (each borrows its own Predictor).
class ModelSnapshot {
 public:
  // Validates the model by building a Predictor (throws Error when it cannot run).
  ModelSnapshot(Model model, uint64_t version, std::string description);
  ~ModelSnapshot();

  const Model& model() const { return model_; }
  uint64_t version() const { return version_; }
  // "LeNet, untrained", "data/lenet.mlmodel", "LeNet, trained 2 epochs on mnist", ...
  const std::string& description() const { return description_; }
  size_t input_size() const { return input_size_; }
  size_t output_size() const { return output_size_; }  // the classes' probabilities
  // One square gray input (MNIST's 28x28): drawings can feed it. 0 when the input is anything else.
  int digit_field_size() const { return digit_field_size_; }
  // Throws Error when `features` does not hold input_size() values.
  Prediction predict(const std::vector<float>& features) const;

 private:
  Model model_;
  uint64_t version_;
  std::string description_;
  size_t input_size_ = 0, output_size_ = 0;
  int digit_field_size_ = 0;
  // Idle predictors, reused: building one allocates its buffers.
  mutable std::mutex idle_mutex_;
  mutable std::vector<std::unique_ptr<Predictor>> idle_;
};

class ModelHost {
 public:
  explicit ModelHost(std::shared_ptr<const ModelSnapshot> first);
  // The current model: hold the pointer for as long as it is used.
  std::shared_ptr<const ModelSnapshot> current() const;
  // Copies the model into a new snapshot (version = last + 1) and makes it current. Throws Error
  // (leaving the current model) when the model cannot run.
  std::shared_ptr<const ModelSnapshot> publish(const Model& model, const std::string& description);

 private:
  std::mutex publish_mutex_;
  mutable std::mutex mutex_;
  std::shared_ptr<const ModelSnapshot> current_;
};

// GET /api/model/info: what the page shows and the training form's limits.
nlohmann::json model_info(const ModelSnapshot& snapshot);
// A class label as JSON: a classifier's label (number or string), else the class index.
nlohmann::json class_label_json(const Model& model, size_t class_index);

}  // namespace edgetrain::web
