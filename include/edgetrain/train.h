/**
 * @file train.h
 * @brief The update task: trains a model's updatable layers on local data, as Core ML's
 * MLUpdateTask does, with progress events and cancellation.
 *
 * @code
 * edgetrain::Model model = edgetrain::lenet();
 * edgetrain::Dataset train = edgetrain::read_idx_folder("data/mnist", "train");
 * edgetrain::UpdateTask task(model, train, {.epochs = 2});
 * task.handlers.epoch_end = [](edgetrain::UpdateTask&, const edgetrain::EpochEnd& e) {
 *   std::printf("epoch %lld loss %.4f accuracy %.4f\n", (long long)e.epoch, e.mean_loss,
 *               e.accuracy.value_or(0.0));  // a cross-entropy model's LeNet always has one
 * };
 * edgetrain::TrainingResult result = task.run();
 * @endcode
 */
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
/**
 * A step learning-rate schedule. The rate at optimizer step t (from 0) of a run of B mini-batches
 * per epoch is base · factor^floor(epoch / every_epochs), the epoch being floor(t / B) and base the
 * run's learning rate (ResolvedUpdate::learning_rate).
 */
struct StepSchedule {
  int64_t every_epochs = 1;  ///< Epochs between two reductions; at least 1.
  double factor = 0.1;       ///< in (0, 1]
};
/**
 * A cosine learning-rate schedule. The rate at optimizer step t (from 0) of a run of E epochs of B
 * mini-batches is learning_rate_min + (base - learning_rate_min) · (1 + cos(π · t / (E · B))) / 2,
 * from the base rate at the first step towards learning_rate_min (as PyTorch's CosineAnnealingLR
 * stepped every mini-batch with T_max = E · B).
 */
struct CosineSchedule {
  double learning_rate_min = 0;  ///< in [0, base)
};
/**
 * The rate of each optimizer step: std::monostate (the default) keeps the base rate throughout.
 * Not combined with PlateauReduction (both would set the rate).
 */
using LearningRateSchedule = std::variant<std::monostate, StepSchedule, CosineSchedule>;

/**
 * Stops the run when the watched loss stops improving. The epoch-end rules watch one loss per
 * epoch: the validation loss with a validation split, else the epoch's mean training loss. An
 * epoch improves on the best so far when its loss is below best - min_delta (the first epoch always
 * does).
 */
struct EarlyStopping {
  int64_t patience = 1;  ///< stop after this many epochs in a row without improvement (at least 1)
  double min_delta = 0;  ///< >= 0
  /// When the run ends (stopped or complete; not when cancelled), the weights (and batch-norm
  /// statistics) are those of the epoch with the best loss.
  bool restore_best_weights = true;
};
/**
 * Learning-rate reduction on plateau, as dlib's dnn_trainer shrinks its rate, counted in epochs on
 * the watched loss (the one EarlyStopping watches; dlib counts mini-batches without a
 * statistically significant decrease of the training loss): after `patience` epochs in a row
 * without improvement the rate is multiplied by `factor` and the count starts again; when the rate
 * falls below learning_rate_min the run ends, as dlib's train() ends once get_learning_rate() <
 * get_min_learning_rate(). Not combined with a schedule (both would set the rate).
 */
struct PlateauReduction {
  int64_t patience = 1;  ///< Epochs in a row without improvement before each reduction; >= 1.
  double min_delta = 0;  ///< An improvement is a loss below best - min_delta; >= 0.
  double factor = 0.1;   ///< dlib's learning_rate_shrink_factor; in (0, 1)
  double learning_rate_min = 1e-5;  ///< dlib's min_learning_rate; >= 0 and below the base rate
};

/**
 * Random changes to each training image (never to validation or test data) for an image input
 * (C, H, W) with H and W above 1 (run() refuses any other model with an Error). Each sample's
 * change is drawn from (seed, epoch, sample index), so it is the same whatever the thread count or
 * batch order. The image is mapped as one affine transform sampled bilinearly, zero outside:
 * flipped, turned about its centre, then shifted.
 */
struct Augmentation {
  int shift = 0;  ///< whole pixels, uniformly in [-shift, shift] along each axis; >= 0
  /// uniformly in [-rotate, rotate]; positive turns counter-clockwise; in [0, 180]
  double rotate_degrees = 0;
  bool flip = false;  ///< left-right, with probability 1/2 (only when asked: not for digits)
  /** Whether any change is on; when none is, the data is read unchanged. */
  bool any() const { return shift > 0 || rotate_degrees > 0 || flip; }
};

/**
 * The training options beyond Core ML. Core ML's update parameters cannot express these; each is
 * off by default. A run's options are part of its checkpoint (a resume must give the same ones),
 * and training_options_text() describes them for the record `edgetrain train --output` keeps in the
 * saved model's metadata (userDefined "edgetrainTrainingOptions"; Core ML ignores that dictionary,
 * and reading the file does not turn the options on, so the file trains the same way in Core ML
 * and here). resolve_update() checks them, naming the option and the rule.
 *
 * @code
 * UpdateTask task(model, data, {.seed = 1,
 *                               .options = {.validation_split = 0.1,
 *                                           .early_stopping = EarlyStopping{.patience = 3}}});
 * @endcode
 */
struct TrainingOptions {
  /// Held out from the training data before training: round(samples · split) samples drawn with
  /// the run's seed; the loss and accuracy on them are reported after every epoch. In [0, 1).
  double validation_split = 0;
  std::optional<EarlyStopping> early_stopping;        ///< Unset: the run goes on to its last epoch.
  std::optional<PlateauReduction> reduce_on_plateau;  ///< Unset: the rate is never reduced.
  LearningRateSchedule schedule;  ///< The default, std::monostate: the base rate at every step.
  /// Adam: decoupled (AdamW: p -= lr · decay · p before the Adam step, as PyTorch's AdamW; lr ·
  /// decay must stay below 1); SGD: L2 (g += decay · p before momentum, as PyTorch's SGD
  /// weight_decay). Every trained tensor, biases included, as PyTorch does by default. >= 0.
  double weight_decay = 0;
  Augmentation augment;  ///< Training images only; off unless Augmentation::any().
};
/**
 * The options that are on, with every value exact, e.g. "validation_split=0.1
 * early_stopping=patience:3,min_delta:0,restore_best_weights weight_decay=1e-04
 * augment=shift:2,rotate_degrees:10,flip"; "" when every option is off.
 */
std::string training_options_text(const TrainingOptions& options);

/** How a training run multiplies (the `--precision` option). */
enum class Precision {
  kFloat32,  ///< fp32 throughout: the default, and the bits every other guarantee speaks of.
  /// Mixed precision: inner-product layers round the operands of their three matrix products
  /// (forward, input gradient, weight gradient) to bfloat16 and sum the products in fp32, with
  /// AVX512-BF16's `vdpbf16ps`, and so does the forward of a fused convolution + ReLU + max-pool
  /// whose patches are deeper than 16 values. Weights, gradients and optimizer state stay fp32,
  /// and so does everything else (those convolutions' backward, other layers, the loss). Runs are
  /// bit-identical for a seed and thread count, but not to fp32's.
  /// Needs a CPU with AVX512-BF16: elsewhere resolve_update() throws Error saying so.
  kBfloat16,
};
/** "float32" or "bf16", as the command line spells them. */
const char* precision_name(Precision precision);
/** True where this build and CPU can train with `precision` (float32: always). */
bool precision_supported(Precision precision);

/**
 * Run-time overrides of the model's update parameters; each is checked against what the model
 * allows (its set or range). Unset values take the model's defaults.
 */
struct UpdateConfig {
  std::optional<int64_t> epochs;  ///< Passes over the training samples; at least 1.
  /// The base rate, before schedules and plateau reductions; above 0.
  std::optional<double> learning_rate;
  /// Samples per mini-batch; at least 1 (clamped to the samples trained on).
  std::optional<int64_t> batch_size;
  std::optional<double> momentum;  ///< SGD only; in [0, 1). Error with Adam.
  /// Adam only (Error with SGD): beta1 and beta2 in [0, 1), eps >= 0.
  ///@{
  std::optional<double> beta1, beta2, eps;
  ///@}
  std::optional<bool> shuffle;  ///< Reorder the training samples before each epoch.
  /// shuffling order, also the validation split's and the augmentation's draws; default: the
  /// model's seed, else 0
  std::optional<uint64_t> seed;
  /// 0: every core. More than the hardware runs at once is capped to that (ResolvedUpdate::threads
  /// says what a run uses); results are bit-identical for the same seed and *effective* count.
  int threads = 0;
  /// Precision::kBfloat16 for mixed-precision products where the CPU has them (else Error).
  Precision precision = Precision::kFloat32;
  /// Crash-safe checkpoints: weights, optimizer state, RNG and position, written atomically to this
  /// file after every N mini-batches and/or every S seconds, and when the run ends or is cancelled.
  /// Empty: no checkpoints.
  std::string checkpoint_path;
  int64_t checkpoint_every_batches = 0;  ///< N above; 0: not by count.
  double checkpoint_every_seconds = 0;   ///< S above; 0: not by time.
  /// A checkpoint file: continues the run it was written by (same arguments and data, else Error);
  /// ends bit-identical to an uninterrupted run. Empty: a new run.
  std::string resume_from;
  /// Beyond Core ML: validation, early stopping, plateau reduction, schedules, weight decay,
  /// augmentation (TrainingOptions above).
  TrainingOptions options;
  /// FedProx (Li et al.\ 2020): adds mu * (w - w0) to every trained parameter's gradient before
  /// each optimizer step, w0 being the weights when run() began (in federated training, the global
  /// model). 0: plain training; >= 0. Not combined with resume_from.
  double proximal_mu = 0;
};

/** The hyper-parameters a run actually uses, after defaults and overrides. */
struct ResolvedUpdate {
  int64_t epochs = 0;  ///< At least 1.
  /// The mini-batch size used: the requested one (the model's default or the override), clamped to
  /// the number of samples when they are known, since a mini-batch never holds more.
  int64_t batch_size = 0;
  int64_t requested_batch_size = 0;  ///< Before clamping.
  double learning_rate = 0;          ///< The base rate, before schedules and plateau reductions.
  double momentum = 0;               ///< SGD's; 0 with Adam.
  /// Adam's; 0 with SGD.
  ///@{
  double beta1 = 0, beta2 = 0, eps = 0;
  ///@}
  OptimizerKind optimizer = OptimizerKind::kAdam;  ///< The model's optimizer.
  bool shuffle = true;        ///< Reorder the training samples before each epoch.
  uint64_t seed = 0;          ///< Shuffling order, validation split and augmentation draws.
  int threads = 1;            ///< the threads used: never more than the hardware runs at once
  int requested_threads = 0;  ///< UpdateConfig::threads (0: every core)
  Precision precision = Precision::kFloat32;  ///< UpdateConfig::precision, checked
  TrainingOptions options;    ///< checked
  /// With a validation split and the samples known: how many are held out and trained on (both 0
  /// when the samples are not known).
  ///@{
  size_t validation_samples = 0, training_samples = 0;
  ///@}
};
/**
 * Resolves a run's hyper-parameters: the model's defaults, then `config`'s overrides.
 * Throws Error when the model is not updatable, naming the override and the allowed values when
 * the model does not allow it, or a value that no model allows ("epochs must be at least 1, got
 * 0"). `samples`, when known (not 0), clamps the mini-batch size to the samples trained on (those
 * not held out for validation).
 */
ResolvedUpdate resolve_update(const Model& model, const UpdateConfig& config, size_t samples = 0);

/** UpdateHandlers::training_began: the run's settings, sent once before its first mini-batch. */
struct TrainingBegan {
  ResolvedUpdate settings;        ///< as used: mini-batch size clamped, threads capped
  size_t samples = 0;             ///< trained on (the validation samples are held out)
  int64_t batches_per_epoch = 0;  ///< ceil(samples / batch size); the last may be smaller.
  double memory_bytes = 0;  ///< what the run's buffers take (checked to fit before allocating)
};
/** UpdateHandlers::batch_end: sent after each mini-batch's optimizer step. */
struct BatchEnd {
  int64_t epoch = 0;              ///< from 0
  int64_t batch = 0;              ///< from 0, within the epoch
  int64_t batches_per_epoch = 0;  ///< As TrainingBegan::batches_per_epoch.
  double loss = 0;                ///< this mini-batch's mean loss
  size_t samples_done = 0;        ///< since training began (a resumed run counts those before)
  double elapsed_seconds = 0;     ///< Since run() began, plus a resumed run's earlier time.
  /// This mini-batch's training accuracy; only models with a cross-entropy loss have one.
  std::optional<double> accuracy;
  double learning_rate = 0;  ///< the rate of this mini-batch's step (schedules, plateau reduction)
};
/** UpdateHandlers::epoch_end: sent after each whole epoch (a cancelled epoch sends none). */
struct EpochEnd {
  int64_t epoch = 0;     ///< from 0
  double mean_loss = 0;  ///< The mean training loss per sample over the epoch.
  /// Training accuracy over the epoch; only models with a cross-entropy loss have one.
  std::optional<double> accuracy;
  double elapsed_seconds = 0;  ///< As BatchEnd::elapsed_seconds.
  /// With a validation split: the held-out samples' mean loss and, for classifying models,
  /// accuracy, with the weights at the end of the epoch.
  ///@{
  std::optional<double> validation_loss, validation_accuracy;
  ///@}
  double learning_rate = 0;  ///< the rate of the epoch's last step
  /// What the epoch-end rules decided: a new best loss, the rate multiplied by the plateau factor
  /// (the next epoch runs at next_learning_rate), the run stopping.
  ///@{
  bool improved = false, learning_rate_reduced = false;
  double next_learning_rate = 0;
  ///@}
};
/** Why a run ended. */
enum class StopReason {
  kCompleted,        ///< every epoch ran
  kCancelled,        ///< cancel()
  kEarlyStopping,    ///< EarlyStopping's patience ran out
  kLearningRateMin,  ///< PlateauReduction took the rate below its minimum
};
/** What run() returns, and UpdateHandlers::completed receives. */
struct TrainingResult {
  int64_t epochs_completed = 0;  ///< Epochs run to their end (a cancelled epoch does not count).
  bool cancelled = false;  ///< cancel() was called (stop_reason says whether it cut the run short).
  StopReason stop_reason = StopReason::kCompleted;  ///< Why the run ended.
  /// With early stopping: the epoch (from 0) whose loss was the best, and that loss; its weights
  /// are the model's when restore_best_weights is on and the run was not cancelled. -1: none.
  ///@{
  int64_t best_epoch = -1;
  double best_loss = 0;
  ///@}
  /// With a validation split: the last completed epoch's validation loss and accuracy.
  ///@{
  std::optional<double> validation_loss, validation_accuracy;
  ///@}
  /// The last whole epoch's mean loss (and accuracy, for cross-entropy models); a run cancelled in
  /// its first epoch reports the batches it trained instead, and NaN when it trained none.
  ///@{
  double final_loss = std::numeric_limits<double>::quiet_NaN();
  std::optional<double> final_accuracy;
  ///@}
  double seconds = 0;       ///< Since run() began, plus a resumed run's earlier time.
  size_t samples_seen = 0;  ///< Training samples processed (a resumed run counts those before).
};

class UpdateTask;
/**
 * Callbacks run() calls on the thread that called it, each only when set. A handler may call
 * UpdateTask::cancel().
 */
struct UpdateHandlers {
  std::function<void(UpdateTask&, const TrainingBegan&)> training_began;  ///< Once, first.
  std::function<void(UpdateTask&, const BatchEnd&)> batch_end;  ///< After each mini-batch.
  /// After each whole epoch, once its validation and epoch-end rules are done.
  std::function<void(UpdateTask&, const EpochEnd&)> epoch_end;
  /// Once, last, when run() returns (not when it throws).
  std::function<void(UpdateTask&, const TrainingResult&)> completed;
};

/**
 * Trains a model's updatable layers on a BatchProvider, as Core ML's MLUpdateTask does: set
 * `handlers`, then run(). Data-parallel over each mini-batch; a seed and an effective thread count
 * fix every bit of the result.
 */
class UpdateTask {
 public:
  /// The model is updated in place; it and the data must outlive the task (a temporary cannot be
  /// bound: the overloads below are deleted).
  UpdateTask(Model& model, const BatchProvider& data, UpdateConfig config = {});
  /// A task on a temporary would dangle: refused at compile time.
  ///@{
  UpdateTask(Model&&, const BatchProvider&, UpdateConfig = {}) = delete;
  UpdateTask(Model&, const BatchProvider&&, UpdateConfig = {}) = delete;
  UpdateTask(Model&&, const BatchProvider&&, UpdateConfig = {}) = delete;
  ///@}

  UpdateHandlers handlers;  ///< Progress callbacks; set before run().
  /// Runs to completion or cancellation. Throws Error on bad settings or data, and, before
  /// allocating anything, when the run's buffers cannot fit in memory (naming the bytes needed).
  TrainingResult run();
  /// Stops after the current mini-batch (callable from a handler or another thread). The model
  /// keeps the updates made so far.
  void cancel() { cancelled_ = true; }
  const Model& model() const { return model_; }  ///< The model being trained.

 private:
  Model& model_;
  const BatchProvider& data_;
  UpdateConfig config_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace edgetrain
