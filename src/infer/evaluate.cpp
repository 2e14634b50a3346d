// Scoring a dataset: threads split each round of samples, each with its own workspace; their sums
// are combined in thread order at the end.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/machine.h"
#include "base/thread_pool.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "nn/loss_head.h"
#include "nn/network.h"
#include "nn/shapes.h"
#include "train/memory_bounds.h"

namespace edgetrain {

OutputKind output_kind(const Model& model) {
  if (model.update && !model.update->losses.empty()) {
    return model.update->losses[0].type == LossType::kCategoricalCrossEntropy
               ? OutputKind::kClassification
               : OutputKind::kRegression;
  }
  if (model.kind == ModelKind::kClassifier) return OutputKind::kClassification;
  if (model.kind == ModelKind::kRegressor) return OutputKind::kRegression;
  const std::string output = network_output_name(model);
  for (const Layer& layer : model.layers) {
    if (std::find(layer.outputs.begin(), layer.outputs.end(), output) != layer.outputs.end()) {
      return std::holds_alternative<Softmax>(layer.params) ? OutputKind::kClassification
                                                           : OutputKind::kValues;
    }
  }
  return OutputKind::kValues;
}

Evaluation evaluate(const Model& model, const BatchProvider& data, int threads) {
  const OutputKind kind = output_kind(model);
  if (kind == OutputKind::kValues) {
    throw Error("the model's output '" + network_output_name(model) +
                "' is neither class probabilities (a classifier, a softmax output or a "
                "cross-entropy loss) nor a regression (a regressor or a mean-squared-error loss), "
                "so there is nothing to score it against; use predict to see its values");
  }
  const Network network(model);
  const LossHead head(model, network);
  head.check_data(data);
  const int chunk = 64;  // samples per thread per round
  threads = effective_threads(threads);
  check_evaluation_fits(network, head, threads, chunk);  // before allocating
  ThreadPool pool(threads);
  const int classes = head.classes();
  const bool classification = kind == OutputKind::kClassification;
  struct PerThread {
    Workspace ws;
    LossHead::Scratch scratch;
    double loss = 0;
    size_t correct = 0;
    std::vector<int64_t> confusion;
    double squared = 0, absolute = 0, target_sum = 0, target_squares = 0;
  };
  std::vector<PerThread> parts(size_t(pool.size()));
  for (PerThread& part : parts) {
    part.ws = network.make_workspace(chunk);
    part.scratch = head.make_scratch(chunk);
    if (classification) part.confusion.assign(size_t(classes) * classes, 0);
  }
  const size_t samples = data.count();
  std::vector<size_t> indices(samples);
  std::iota(indices.begin(), indices.end(), size_t(0));
  const size_t round = size_t(chunk) * parts.size();
  for (size_t first = 0; first < samples; first += round) {
    pool.run([&](int t) {
      const size_t begin = first + size_t(t) * chunk;
      if (begin >= samples) return;
      const int n = int(std::min(size_t(chunk), samples - begin));
      PerThread& part = parts[size_t(t)];
      head.load_batch(part.ws, part.scratch, data, indices.data() + begin, n);
      network.forward(part.ws, model, n);
      // Scale 1: sum per-sample losses here, divide once at the end.
      const LossHead::Outcome outcome = head.score(part.ws, part.scratch, n, 1);
      part.loss += outcome.loss;
      const float* output = part.ws.value(head.loss_blob());
      if (classification) {
        part.correct += outcome.correct;
        for (int i = 0; i < n; ++i) {
          const float* row = output + size_t(i) * classes;
          const int predicted = int(std::max_element(row, row + classes) - row);
          part.confusion[size_t(part.scratch.labels[size_t(i)]) * classes + size_t(predicted)]++;
        }
        return;
      }
      for (size_t v = 0; v < size_t(n) * classes; ++v) {
        const double target = part.scratch.targets[v], error = double(output[v]) - target;
        part.squared += error * error;
        part.absolute += std::fabs(error);
        part.target_sum += target;
        part.target_squares += target * target;
      }
    });
  }
  Evaluation result;
  result.kind = kind;
  result.samples = samples;
  double squared = 0, absolute = 0, target_sum = 0, target_squares = 0;
  size_t correct = 0;
  if (classification) {
    result.confusion.assign(size_t(classes), std::vector<int64_t>(size_t(classes), 0));
  }
  for (const PerThread& part : parts) {
    result.loss += part.loss;
    correct += part.correct;
    for (size_t i = 0; i < part.confusion.size(); ++i) {
      result.confusion[i / size_t(classes)][i % size_t(classes)] += part.confusion[i];
    }
    squared += part.squared;
    absolute += part.absolute;
    target_sum += part.target_sum;
    target_squares += part.target_squares;
  }
  result.loss /= double(samples);
  if (classification) {
    result.accuracy = double(correct) / double(samples);
  } else {
    const double values = double(samples) * classes;
    result.mse = squared / values;
    result.mae = absolute / values;
    const double mean = target_sum / values;
    const double total = target_squares - values * mean * mean;  // Σ (y - ȳ)²
    result.r2 = total > 0 ? 1.0 - squared / total : 0.0;
  }
  return result;
}

}  // namespace edgetrain
