// Evaluation over a dataset (threads split each chunk of samples) and single-input prediction.
#include <algorithm>
#include <numeric>

#include "base/machine.h"
#include "base/thread_pool.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "nn/network.h"
#include "nn/shapes.h"
#include "train/loss_head.h"
#include "train/memory_bounds.h"

namespace edgetrain {

Evaluation evaluate(const Model& model, const BatchProvider& data, int threads) {
  const Network network(model);
  const LossHead head(model, network);
  head.check_data(data);
  const int chunk = 64;  // samples per thread per round
  threads = effective_threads(threads);
  check_evaluation_fits(network, head, threads, chunk);  // before allocating
  ThreadPool pool(threads);
  const int classes = head.classes();
  struct PerThread {
    Workspace ws;
    LossHead::Scratch scratch;
    double loss = 0;
    size_t correct = 0;
    std::vector<int64_t> confusion;
  };
  std::vector<PerThread> parts(size_t(pool.size()));
  for (PerThread& part : parts) {
    part.ws = network.make_workspace(chunk, /*with_gradients=*/false);
    part.scratch = head.make_scratch(chunk);
    part.confusion.assign(size_t(classes) * classes, 0);
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
      part.loss += head.score(part.ws, part.scratch, n, 1).loss;
      const float* output = part.ws.value(head.loss_blob());
      for (int i = 0; i < n; ++i) {
        const float* row = output + size_t(i) * classes;
        int predicted = int(std::max_element(row, row + classes) - row);
        int truth = part.scratch.labels[size_t(i)];
        part.correct += predicted == truth;
        part.confusion[size_t(truth) * classes + size_t(predicted)]++;
      }
    });
  }
  Evaluation result;
  result.samples = samples;
  result.confusion.assign(size_t(classes), std::vector<int64_t>(size_t(classes), 0));
  size_t correct = 0;
  for (const PerThread& part : parts) {
    result.loss += part.loss;
    correct += part.correct;
    for (size_t i = 0; i < part.confusion.size(); ++i) {
      result.confusion[i / size_t(classes)][i % size_t(classes)] += part.confusion[i];
    }
  }
  result.loss /= double(samples);
  result.accuracy = double(correct) / double(samples);
  return result;
}

std::vector<std::pair<int, float>> Prediction::top(size_t k) const {
  std::vector<std::pair<int, float>> ranked;
  for (size_t i = 0; i < probabilities.size(); ++i) ranked.emplace_back(int(i), probabilities[i]);
  k = std::min(k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + long(k), ranked.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second; });
  ranked.resize(k);
  return ranked;
}

struct Predictor::State {
  const Model& model;
  Network network;
  Workspace ws;
  int output_blob;
};

Predictor::Predictor(const Model& model)
    : state_(new State{model, Network(model), {}, 0}) {
  check_prediction_fits(state_->network);  // before allocating
  state_->ws = state_->network.make_workspace(1, /*with_gradients=*/false);
  state_->output_blob = state_->network.blob(network_output_name(model));
}
Predictor::~Predictor() = default;
Predictor::Predictor(Predictor&&) noexcept = default;
Predictor& Predictor::operator=(Predictor&&) noexcept = default;

size_t Predictor::input_size() const {
  return state_->network.blob_size(state_->network.input_blob());
}

Prediction Predictor::predict(const std::vector<float>& features) {
  if (features.size() != input_size()) {
    throw Error("the model takes " + std::to_string(input_size()) + " input values, got " +
                std::to_string(features.size()));
  }
  return predict(features.data());
}

Prediction Predictor::predict(const float* features) {
  State& s = *state_;
  s.network.load_input(s.ws, 0, features);
  s.network.forward(s.ws, s.model, 1);
  const float* output = s.ws.value(s.output_blob);
  Prediction prediction;
  prediction.probabilities.assign(output, output + s.network.blob_size(s.output_blob));
  prediction.label = int(std::max_element(prediction.probabilities.begin(),
                                          prediction.probabilities.end()) -
                         prediction.probabilities.begin());
  return prediction;
}

}  // namespace edgetrain
