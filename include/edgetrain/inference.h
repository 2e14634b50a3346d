// Running a trained model: scoring a dataset (accuracy, loss, confusion matrix) and predicting single
// inputs with class probabilities.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "edgetrain/data.h"
#include "edgetrain/model.h"

namespace edgetrain {

struct Evaluation {
  size_t samples = 0;
  double loss = 0;  // mean of the model's loss (cross-entropy on the first output if it has none)
  double accuracy = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true label][predicted label]
};
// threads 0: every core; more than the hardware runs at once are capped to that. Throws Error,
// before allocating, when the buffers cannot fit in memory.
Evaluation evaluate(const Model& model, const BatchProvider& data, int threads = 0);

struct Prediction {
  int label = 0;                     // arg-max of the probabilities
  std::vector<float> probabilities;  // the model's first output
  // The k most probable classes, most probable first.
  std::vector<std::pair<int, float>> top(size_t k) const;
};

// Single-input prediction with everything allocated once: create, then predict many times.
class Predictor {
 public:
  // Validates, and refuses (Error) a model whose one-sample workspace cannot fit in memory. The
  // model must outlive the predictor.
  explicit Predictor(const Model& model);
  ~Predictor();
  Predictor(Predictor&&) noexcept;
  Predictor& operator=(Predictor&&) noexcept;
  size_t input_size() const;
  // `features` holds input_size() floats laid out (C, H, W).
  Prediction predict(const float* features);
  Prediction predict(const std::vector<float>& features);  // input_size() values

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace edgetrain
