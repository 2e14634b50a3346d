// The update task: trains a model's updatable layers on local data, as Core ML's MLUpdateTask does,
// with progress events and cancellation.
//
//   edgetrain::Model model = edgetrain::lenet();
//   edgetrain::Dataset train = edgetrain::read_idx_folder("data/mnist", "train");
//   edgetrain::UpdateTask task(model, train, {.epochs = 2});
//   task.handlers.epoch_end = [](edgetrain::UpdateTask&, const edgetrain::EpochEnd& e) {
//     std::printf("epoch %lld loss %.4f accuracy %.4f\n", (long long)e.epoch, e.mean_loss,
//                 e.accuracy.value_or(0.0));  // a cross-entropy model's LeNet always has one
//   };
//   edgetrain::TrainingResult result = task.run();
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include "edgetrain/data.h"
#include "edgetrain/model.h"

namespace edgetrain {

// Run-time overrides of the model's update parameters; each is checked against what the model
// allows (its set or range). Unset values take the model's defaults.
struct UpdateConfig {
  std::optional<int64_t> epochs;
  std::optional<double> learning_rate;
  std::optional<int64_t> batch_size;
  std::optional<double> momentum;  // SGD only
  std::optional<double> beta1, beta2, eps;  // Adam only
  std::optional<bool> shuffle;
  std::optional<uint64_t> seed;  // shuffling order; default: the model's seed, else 0
  // 0: every core. More than the hardware runs at once is capped to that (ResolvedUpdate::threads
  // says what a run uses); results are bit-identical for the same seed and *effective* count.
  int threads = 0;
  // Crash-safe checkpoints: weights, optimizer state, RNG and position, written atomically after
  // every N mini-batches and/or every S seconds, and when the run ends or is cancelled.
  std::string checkpoint_path;
  int64_t checkpoint_every_batches = 0;
  double checkpoint_every_seconds = 0;
  // Continues the run a checkpoint was written by (same arguments and data, else Error); ends
  // bit-identical to an uninterrupted run.
  std::string resume_from;
  // FedProx (Li et al. 2020): adds mu * (w - w0) to every trained parameter's gradient before each
  // optimizer step, w0 being the weights when run() began (in federated training, the global
  // model). 0: plain training. Not combined with resume_from.
  double proximal_mu = 0;
};

// The hyper-parameters a run actually uses, after defaults and overrides.
struct ResolvedUpdate {
  int64_t epochs = 0;
  // The mini-batch size used: the requested one (the model's default or the override), clamped to
  // the number of samples when they are known, since a mini-batch never holds more.
  int64_t batch_size = 0;
  int64_t requested_batch_size = 0;
  double learning_rate = 0;
  double momentum = 0;
  double beta1 = 0, beta2 = 0, eps = 0;
  OptimizerKind optimizer = OptimizerKind::kAdam;
  bool shuffle = true;
  uint64_t seed = 0;
  int threads = 1;            // the threads used: never more than the hardware runs at once
  int requested_threads = 0;  // UpdateConfig::threads (0: every core)
};
// Throws Error naming the override and the allowed values when the model does not allow it, or a
// value that no model allows ("epochs must be at least 1, got 0"). `samples`, when known (not 0),
// clamps the mini-batch size.
ResolvedUpdate resolve_update(const Model& model, const UpdateConfig& config, size_t samples = 0);

struct TrainingBegan {
  ResolvedUpdate settings;  // as used: mini-batch size clamped, threads capped
  size_t samples = 0;
  int64_t batches_per_epoch = 0;
  double memory_bytes = 0;  // what the run's buffers take (checked to fit before allocating)
};
struct BatchEnd {
  int64_t epoch = 0;  // from 0
  int64_t batch = 0;  // from 0, within the epoch
  int64_t batches_per_epoch = 0;
  double loss = 0;          // this mini-batch's mean loss
  size_t samples_done = 0;  // since training began
  double elapsed_seconds = 0;
  // This mini-batch's training accuracy; only models with a cross-entropy loss have one.
  std::optional<double> accuracy;
};
struct EpochEnd {
  int64_t epoch = 0;  // from 0
  double mean_loss = 0;
  // Training accuracy over the epoch; only models with a cross-entropy loss have one.
  std::optional<double> accuracy;
  double elapsed_seconds = 0;
};
struct TrainingResult {
  int64_t epochs_completed = 0;
  bool cancelled = false;
  double final_loss = 0;
  std::optional<double> final_accuracy;  // the last whole epoch's, for cross-entropy models
  double seconds = 0;
  size_t samples_seen = 0;
};

class UpdateTask;
struct UpdateHandlers {
  std::function<void(UpdateTask&, const TrainingBegan&)> training_began;
  std::function<void(UpdateTask&, const BatchEnd&)> batch_end;
  std::function<void(UpdateTask&, const EpochEnd&)> epoch_end;
  std::function<void(UpdateTask&, const TrainingResult&)> completed;
};

class UpdateTask {
 public:
  // The model is updated in place; it and the data must outlive the task (a temporary cannot be
  // bound: the overloads below are deleted).
  UpdateTask(Model& model, const BatchProvider& data, UpdateConfig config = {});
  UpdateTask(Model&&, const BatchProvider&, UpdateConfig = {}) = delete;
  UpdateTask(Model&, const BatchProvider&&, UpdateConfig = {}) = delete;
  UpdateTask(Model&&, const BatchProvider&&, UpdateConfig = {}) = delete;

  UpdateHandlers handlers;
  // Runs to completion or cancellation. Throws Error on bad settings or data, and, before
  // allocating anything, when the run's buffers cannot fit in memory (naming the bytes needed).
  TrainingResult run();
  // Stops after the current mini-batch (callable from a handler or another thread). The model keeps
  // the updates made so far.
  void cancel() { cancelled_ = true; }
  const Model& model() const { return model_; }

 private:
  Model& model_;
  const BatchProvider& data_;
  UpdateConfig config_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace edgetrain
