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
#include <limits>
#include <optional>
#include <string>
#include <variant>

#include "edgetrain/data.h"
#include "edgetrain/model.h"

namespace edgetrain {

// ---- Training options beyond Core ML ------------------------------------------------------------
// Core ML's update parameters cannot express these; each is off by default. A run's options are
// part of its checkpoint (a resume must give the same ones), and training_options_text() describes
// them for the record `edgetrain train --output` keeps in the saved model's metadata (userDefined
// "edgetrainTrainingOptions"; Core ML ignores that dictionary, and reading the file does not turn
// the options on, so the file trains the same way in Core ML and here).
//
//   UpdateTask task(model, data, {.seed = 1,
//                                 .options = {.validation_split = 0.1,
//                                             .early_stopping = EarlyStopping{.patience = 3}}});

// The rate at optimizer step t (from 0) of a run of E epochs of B mini-batches, from the base rate:
// StepSchedule: base · factor^floor(epoch / every_epochs), the epoch being floor(t / B).
struct StepSchedule {
  int64_t every_epochs = 1;
  double factor = 0.1;  // in (0, 1]
};
// CosineSchedule: learning_rate_min + (base - learning_rate_min) · (1 + cos(π · t / (E · B))) / 2,
// from the base rate at the first step towards learning_rate_min (as PyTorch's CosineAnnealingLR
// stepped every mini-batch with T_max = E · B).
struct CosineSchedule {
  double learning_rate_min = 0;  // in [0, base)
};
using LearningRateSchedule = std::variant<std::monostate, StepSchedule, CosineSchedule>;

// The epoch-end rules watch one loss per epoch: the validation loss with a validation split, else
// the epoch's mean training loss. An epoch improves on the best so far when its loss is below
// best - min_delta (the first epoch always does).
struct EarlyStopping {
  int64_t patience = 1;  // stop after this many epochs in a row without improvement
  double min_delta = 0;  // >= 0
  // When the run ends (stopped or complete; not when cancelled), the weights (and batch-norm
  // statistics) are those of the epoch with the best loss.
  bool restore_best_weights = true;
};
// Learning-rate reduction on plateau, as dlib's dnn_trainer shrinks its rate, counted in epochs on
// the watched loss (dlib counts mini-batches without a statistically significant decrease of the
// training loss): after `patience` epochs in a row without improvement the rate is multiplied by
// `factor` and the count starts again; when the rate falls below learning_rate_min the run ends, as
// dlib's train() ends once get_learning_rate() < get_min_learning_rate(). Not combined with a
// schedule (both would set the rate).
struct PlateauReduction {
  int64_t patience = 1;
  double min_delta = 0;
  double factor = 0.1;              // dlib's learning_rate_shrink_factor; in (0, 1)
  double learning_rate_min = 1e-5;  // dlib's min_learning_rate; >= 0 and below the base rate
};

// Random changes to each training image (never to validation or test data) for an image input
// (C, H, W) with H and W above 1. Each sample's change is drawn from (seed, epoch, sample index),
// so it is the same whatever the thread count or batch order. The image is mapped as one affine
// transform sampled bilinearly, zero outside: flipped, turned about its centre, then shifted.
struct Augmentation {
  int shift = 0;              // whole pixels, uniformly in [-shift, shift] along each axis
  double rotate_degrees = 0;  // uniformly in [-rotate, rotate]; positive turns counter-clockwise
  bool flip = false;          // left-right, with probability 1/2 (only when asked: not for digits)
  bool any() const { return shift > 0 || rotate_degrees > 0 || flip; }
};

struct TrainingOptions {
  // Held out from the training data before training: round(samples · split) samples drawn with the
  // run's seed; the loss and accuracy on them are reported after every epoch. In [0, 1).
  double validation_split = 0;
  std::optional<EarlyStopping> early_stopping;
  std::optional<PlateauReduction> reduce_on_plateau;
  LearningRateSchedule schedule;
  // Adam: decoupled (AdamW: p -= lr · decay · p before the Adam step, as PyTorch's AdamW); SGD:
  // L2 (g += decay · p before momentum, as PyTorch's SGD weight_decay). Every trained tensor,
  // biases included, as PyTorch does by default. >= 0.
  double weight_decay = 0;
  Augmentation augment;
};
// The options that are on, with every value exact, e.g. "validation_split=0.1
// early_stopping=patience:3,min_delta:0,restore_best_weights weight_decay=1e-04
// augment=shift:2,rotate_degrees:10,flip"; "" when every option is off.
std::string training_options_text(const TrainingOptions& options);

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
  // Beyond Core ML: validation, early stopping, plateau reduction, schedules, weight decay,
  // augmentation (TrainingOptions above).
  TrainingOptions options;
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
  TrainingOptions options;    // checked
  // With a validation split and the samples known: how many are held out and trained on.
  size_t validation_samples = 0, training_samples = 0;
};
// Throws Error naming the override and the allowed values when the model does not allow it, or a
// value that no model allows ("epochs must be at least 1, got 0"). `samples`, when known (not 0),
// clamps the mini-batch size to the samples trained on (those not held out for validation).
ResolvedUpdate resolve_update(const Model& model, const UpdateConfig& config, size_t samples = 0);

struct TrainingBegan {
  ResolvedUpdate settings;  // as used: mini-batch size clamped, threads capped
  size_t samples = 0;       // trained on (the validation samples are held out)
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
  double learning_rate = 0;  // the rate of this mini-batch's step (schedules, plateau reduction)
};
struct EpochEnd {
  int64_t epoch = 0;  // from 0
  double mean_loss = 0;
  // Training accuracy over the epoch; only models with a cross-entropy loss have one.
  std::optional<double> accuracy;
  double elapsed_seconds = 0;
  // With a validation split: the held-out samples' mean loss and, for classifying models, accuracy,
  // with the weights at the end of the epoch.
  std::optional<double> validation_loss, validation_accuracy;
  double learning_rate = 0;  // the rate of the epoch's last step
  // What the epoch-end rules decided: a new best loss, the rate multiplied by the plateau factor
  // (the next epoch runs at next_learning_rate), the run stopping.
  bool improved = false, learning_rate_reduced = false;
  double next_learning_rate = 0;
};
// Why a run ended.
enum class StopReason {
  kCompleted,        // every epoch ran
  kCancelled,        // cancel()
  kEarlyStopping,    // EarlyStopping's patience ran out
  kLearningRateMin,  // PlateauReduction took the rate below its minimum
};
struct TrainingResult {
  int64_t epochs_completed = 0;
  bool cancelled = false;
  StopReason stop_reason = StopReason::kCompleted;
  // With early stopping: the epoch (from 0) whose loss was the best, and that loss; its weights are
  // the model's when restore_best_weights is on and the run was not cancelled. -1: none.
  int64_t best_epoch = -1;
  double best_loss = 0;
  // With a validation split: the last completed epoch's validation loss and accuracy.
  std::optional<double> validation_loss, validation_accuracy;
  // The last whole epoch's mean loss (and accuracy, for cross-entropy models); a run cancelled in
  // its first epoch reports the batches it trained instead, and NaN when it trained none.
  double final_loss = std::numeric_limits<double>::quiet_NaN();
  std::optional<double> final_accuracy;
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
