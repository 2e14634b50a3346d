/**
 * @file inference.h
 * @brief Running a trained model: scoring a dataset (accuracy and a confusion matrix for
 * classifiers; mean squared error, mean absolute error and R² for regressors) and predicting single
 * inputs, with every output named and typed as the model declares it.
 */
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "edgetrain/data.h"
#include "edgetrain/model.h"

namespace edgetrain {

/** What a model's outputs are, which decides what scoring means. */
enum class OutputKind {
  /// Class probabilities: a classifier, a cross-entropy loss, or a softmax output.
  kClassification,
  kRegression,  ///< Values with targets: a regressor or a mean-squared-error loss.
  kValues,      ///< Neither (an embedding, an image): nothing to score against.
};
/** The OutputKind of `model`'s outputs. */
OutputKind output_kind(const Model& model);

/** What evaluate() measured; the other kind's fields stay 0 (empty). */
struct Evaluation {
  OutputKind kind = OutputKind::kClassification;  ///< Which of the scores below are set.
  size_t samples = 0;                             ///< Samples scored.
  double loss = 0;      ///< Mean of the model's loss (cross-entropy or mean squared error).
  double accuracy = 0;  ///< kClassification: the fraction predicted right.
  std::vector<std::vector<int64_t>> confusion;  ///< kClassification: [true label][predicted label].
  /// kRegression, over every value of every sample (targets from BatchProvider::copy_target()):
  /// mean squared error, mean absolute error and the coefficient of determination R².
  ///@{
  double mse = 0, mae = 0, r2 = 0;
  ///@}
};
/**
 * Scores `model` on `data`. Throws Error for a model whose outputs are kValues, and, before
 * allocating, when the buffers cannot fit in memory.
 * @param model   a model whose outputs are kClassification or kRegression
 * @param data    samples with class labels or targets, as the model's loss expects
 * @param threads 0: every core; more than the hardware runs at once are capped to that
 */
Evaluation evaluate(const Model& model, const BatchProvider& data, int threads = 0);

/** One output of one prediction, named and typed as the model declares it. */
struct OutputValue {
  std::string name;                          ///< The output feature's name.
  FeatureType type = FeatureType::kFloat32;  ///< kDictionary: a classifier's probabilities.
  std::vector<int64_t> shape;                ///< Per sample, as the network computes it.
  std::vector<float> values;                 ///< Row-major; a class-label output: the index.
};

/** What Predictor::predict() returns for one input. */
struct Prediction {
  /// For models of OutputKind::kClassification: the arg-max class index (-1 otherwise).
  int label = -1;
  std::string class_label;  ///< The classifier's own label of `label`, else the index as text.
  std::vector<float> probabilities;  ///< One per class, classifications only.
  /** Every output of the model, by its declared name (a classifier's class label as well). */
  std::vector<OutputValue> outputs;
  /** The k most probable classes (index, probability), most probable first. */
  std::vector<std::pair<int, float>> top(size_t k) const;
};

/**
 * Single-input prediction with everything allocated once: create, then predict many times.
 * Holds its own copy of the model, so the caller's may change or go away; what the layers derive
 * from the weights alone (a convolution's weights in its kernel's layout) is made on the first
 * prediction and kept. Predictions run with denormal floats flushed to zero, as training and
 * evaluate() do, whatever the thread count.
 */
class Predictor {
 public:
  /**
   * Validates, and refuses (Error) a model whose one-sample workspace cannot fit in memory.
   * @param model   the model to run (copied)
   * @param threads how many threads share each prediction. 1: the caller's alone. More: helper
   *                threads (started here) compute parts of the large layers' outputs (the
   *                convolutions and inner products) beside the caller, with the same result bit for
   *                bit. Between steps they spin; after 200 µs without a prediction they sleep, so
   *                an idle Predictor costs no CPU. 0: every core; more than the cores: capped.
   */
  explicit Predictor(const Model& model, int threads = 1);
  ~Predictor();                                ///< Stops the helper threads, frees the workspace.
  Predictor(Predictor&&) noexcept;             ///< Takes over the model, workspace and threads.
  Predictor& operator=(Predictor&&) noexcept;  ///< Takes over the model, workspace and threads.
  int threads() const;                         ///< Threads sharing each prediction.
  OutputKind kind() const;                     ///< The model's output_kind().
  /** Values per sample over all inputs, in the model's input order. */
  size_t input_size() const;
  /** `features` holds input_size() floats: each input's values in turn, laid out as its shape. */
  Prediction predict(const float* features);
  /** The same from input_size() values; Error when there are not exactly that many. */
  Prediction predict(const std::vector<float>& features);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace edgetrain
