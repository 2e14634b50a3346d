// Running a trained model: scoring a dataset (accuracy and a confusion matrix for classifiers; mean
// squared error, mean absolute error and R² for regressors) and predicting single inputs, with
// every output named and typed as the model declares it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "edgetrain/data.h"
#include "edgetrain/model.h"

namespace edgetrain {

// What a model's outputs are, which decides what scoring means.
enum class OutputKind {
  kClassification,  // class probabilities: a classifier, a cross-entropy loss, or a softmax output
  kRegression,      // values with targets: a regressor or a mean-squared-error loss
  kValues,          // neither (an embedding, an image): nothing to score against
};
OutputKind output_kind(const Model& model);

struct Evaluation {
  OutputKind kind = OutputKind::kClassification;
  size_t samples = 0;
  double loss = 0;  // mean of the model's loss (cross-entropy or mean squared error)
  // kClassification:
  double accuracy = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true label][predicted label]
  // kRegression, over every value of every sample (targets from BatchProvider::copy_target):
  double mse = 0, mae = 0, r2 = 0;
};
// threads 0: every core; more than the hardware runs at once are capped to that. Throws Error for
// a model whose outputs are kValues, and, before allocating, when the buffers cannot fit in memory.
Evaluation evaluate(const Model& model, const BatchProvider& data, int threads = 0);

// One output of one prediction, named and typed as the model declares it.
struct OutputValue {
  std::string name;
  FeatureType type = FeatureType::kFloat32;  // kDictionary: a classifier's probabilities
  std::vector<int64_t> shape;                // per sample, as the network computes it
  std::vector<float> values;
};

struct Prediction {
  // For models of OutputKind::kClassification: the arg-max class index, its class label (the
  // classifier's own label, else the index as text) and the probabilities.
  int label = -1;
  std::string class_label;
  std::vector<float> probabilities;
  // Every output of the model, by its declared name (a classifier's class label as well).
  std::vector<OutputValue> outputs;
  // The k most probable classes, most probable first.
  std::vector<std::pair<int, float>> top(size_t k) const;
};

// Single-input prediction with everything allocated once: create, then predict many times.
// Holds its own copy of the model, so the caller's may change or go away.
class Predictor {
 public:
  // Validates, and refuses (Error) a model whose one-sample workspace cannot fit in memory.
  explicit Predictor(const Model& model);
  ~Predictor();
  Predictor(Predictor&&) noexcept;
  Predictor& operator=(Predictor&&) noexcept;
  OutputKind kind() const;
  // Values per sample over all inputs, in the model's input order.
  size_t input_size() const;
  // `features` holds input_size() floats: each input's values in turn, laid out as its shape.
  Prediction predict(const float* features);
  Prediction predict(const std::vector<float>& features);  // input_size() values

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace edgetrain
