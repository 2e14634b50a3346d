// Single-input prediction: one workspace for one sample, made once; every output read back by its
// declared name. With several threads, the steps that split a sample (Op::splits_sample: the large
// convolutions and inner products) run on a SpinTeam, each thread computing its part of the step's
// outputs in its own partner workspace; the other steps run on the caller alone.
#include <algorithm>
#include <thread>

#include "base/denormals.h"
#include "base/spin_team.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "nn/network.h"
#include "nn/shapes.h"
#include "train/memory_bounds.h"

namespace edgetrain {

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
  State(const Model& m, int threads) : model(m), network(model) {
    check_prediction_fits(network);  // before allocating
    ws = network.make_workspace(1);
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    threads = threads <= 0 ? cores : std::min(threads, cores);
    for (size_t step = 0; step < network.step_count(); ++step) {
      split_steps.push_back(network.splits_sample(step));
    }
    const bool splits = std::find(split_steps.begin(), split_steps.end(), true) !=
                        split_steps.end();
    if (threads > 1 && splits) {
      for (int t = 1; t < threads; ++t) partners.push_back(network.make_partner_workspace(ws));
      team = std::make_unique<SpinTeam>(threads);
    }
  }
  void forward() {
    const FlushDenormals flush;  // as the helpers run, so any thread count gives the same bits
    if (team) team->wake();
    for (step = 0; step < network.step_count(); ++step) {
      if (team && split_steps[step]) {
        team->run(run_part);
      } else {
        network.forward_step(ws, model, 1, step,
                             {.check_inputs = true, .parameters_unchanged = true});
      }
    }
  }
  // Thread `part`'s share of the current step. A std::function made once, capturing one pointer
  // (no allocation per step).
  void forward_part(int part) {
    Workspace& own = part == 0 ? ws : partners[size_t(part - 1)];
    network.forward_step(own, model, 1, step,
                         {.check_inputs = part == 0,
                          .parameters_unchanged = true,
                          .part = part,
                          .parts = team->size()});
  }
  Model model;  // a copy: the caller's may change or go away
  Network network;
  Workspace ws;
  std::vector<bool> split_steps;     // per step: network.splits_sample(), asked once
  std::vector<Workspace> partners;  // per helper: ws's buffers, its own scratch
  std::unique_ptr<SpinTeam> team;   // null: one thread
  size_t step = 0;                  // the step forward() is at
  std::function<void(int)> run_part = [this](int part) { forward_part(part); };
  OutputKind kind = OutputKind::kValues;
  int probabilities_blob = -1;
  struct Output {
    const Feature* feature;
    int blob;  // -1: a classifier's class label, made from the probabilities
  };
  std::vector<Output> outputs;
};

Predictor::Predictor(const Model& model, int threads)
    : state_(std::make_unique<State>(model, threads)) {
  State& s = *state_;
  s.kind = output_kind(s.model);
  if (s.kind == OutputKind::kClassification) {
    s.probabilities_blob = s.network.blob(network_output_name(s.model));
  }
  for (const Feature& output : s.model.outputs) {
    int blob = -1;
    if (output.type == FeatureType::kDictionary) {
      blob = s.network.blob(network_output_name(s.model));
    } else if (output.type != FeatureType::kInt64 && output.type != FeatureType::kString) {
      blob = s.network.blob(output.name);
    }
    s.outputs.push_back({&output, blob});
  }
}
Predictor::~Predictor() = default;
Predictor::Predictor(Predictor&&) noexcept = default;
Predictor& Predictor::operator=(Predictor&&) noexcept = default;

OutputKind Predictor::kind() const { return state_->kind; }

int Predictor::threads() const { return state_->team ? state_->team->size() : 1; }

size_t Predictor::input_size() const { return state_->network.input_size(); }

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
  s.forward();
  Prediction prediction;
  if (s.probabilities_blob >= 0) {
    const float* p = s.ws.value(s.probabilities_blob);
    prediction.probabilities.assign(p, p + s.network.blob_size(s.probabilities_blob));
    prediction.label = int(std::max_element(prediction.probabilities.begin(),
                                            prediction.probabilities.end()) -
                           prediction.probabilities.begin());
    const ClassLabels& labels = s.model.class_labels;
    const size_t k = size_t(prediction.label);
    prediction.class_label = k < labels.int_labels.size()      ? std::to_string(labels.int_labels[k])
                             : k < labels.string_labels.size() ? labels.string_labels[k]
                                                               : std::to_string(k);
  }
  for (const State::Output& output : s.outputs) {
    OutputValue value{output.feature->name, output.feature->type, {}, {}};
    if (output.blob >= 0) {
      const float* v = s.ws.value(output.blob);
      value.values.assign(v, v + s.network.blob_size(output.blob));
      value.shape = s.network.blob_shape(output.blob).dims();
    } else if (prediction.label >= 0) {
      value.values = {float(prediction.label)};
      value.shape = {1};
    }
    prediction.outputs.push_back(std::move(value));
  }
  return prediction;
}

}  // namespace edgetrain
