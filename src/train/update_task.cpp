// The update task. Data-parallel over the mini-batch: thread t takes the contiguous share
// [B·t/T, B·(t+1)/T) of the batch, runs forward and backward in its own workspace and adds into its
// own gradient block; the blocks are then summed in thread order and the optimizer steps, both
// split by parameter index. A large dense layer's weight gradient is the exception: backward sums
// it over the threads itself, into block 0 (Op::gradient_summed_across_threads). Nothing depends
// on timing, so a seed and a thread count fix every bit.
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

#include "base/rng.h"
#include "base/thread_pool.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/train.h"
#include "nn/loss_head.h"
#include "nn/network.h"
#include "nn/shapes.h"
#include "nn/trainable_tensors.h"
#include "ops/ops.h"
#include "train/augment.h"
#include "train/checkpoint.h"
#include "train/epoch_rules.h"
#include "train/memory_bounds.h"
#include "train/optimizer.h"
#include "train/validation_split.h"

namespace edgetrain {
namespace {

// The parameter runs an optimizer touches: the trainable tensors of updatable layers.
std::vector<ParameterSlice> updatable_slices(const Model& model) {
  std::vector<ParameterSlice> slices;
  for (const TensorView<const float>& tensor : trainable_tensors(model)) {
    if (tensor.size) slices.push_back(tensor.slice);
  }
  return slices;
}

// Calls body(slice index, offset, count) for the part of [begin, end) of the slices laid end to
// end.
template <typename Body>
void for_each_run(const std::vector<ParameterSlice>& slices, size_t begin, size_t end, Body body) {
  size_t position = 0;
  for (size_t s = 0; s < slices.size(); ++s) {
    const ParameterSlice& slice = slices[s];
    size_t lo = std::max(begin, position), hi = std::min(end, position + slice.size);
    if (lo < hi) body(s, slice.offset + (lo - position), hi - lo);
    position += slice.size;
  }
}

// Per slice: its gradient is summed over the threads by backward, in thread 0's block alone.
std::vector<char> summed_by_backward(const std::vector<ParameterSlice>& slices,
                                     const std::vector<ParameterSlice>& summed) {
  std::vector<char> flags(slices.size(), 0);
  for (size_t s = 0; s < slices.size(); ++s) {
    for (const ParameterSlice& range : summed) {
      flags[s] |= slices[s].offset >= range.offset &&
                  slices[s].offset + slices[s].size <= range.offset + range.size;
    }
  }
  return flags;
}

uint32_t crc32_bytes(uint32_t crc, const void* bytes, size_t size) {
  return uint32_t(crc32(crc, static_cast<const Bytef*>(bytes), uInt(size)));
}

// Everything that decides the bits of a run; a checkpoint only resumes a run with the same.
std::string run_signature(const Model& model, const ResolvedUpdate& s, const BatchProvider& data,
                          size_t samples, bool fingerprint_data) {
  std::string text =
      "epochs=" + std::to_string(s.epochs) + " batch=" + std::to_string(s.batch_size) +
      " learning_rate=" + std::to_string(s.learning_rate) +
      " optimizer=" + (s.optimizer == OptimizerKind::kAdam ? "adam" : "sgd") +
      " beta1=" + std::to_string(s.beta1) + " beta2=" + std::to_string(s.beta2) +
      " eps=" + std::to_string(s.eps) + " momentum=" + std::to_string(s.momentum) +
      " shuffle=" + std::to_string(s.shuffle) + " seed=" + std::to_string(s.seed) +
      " threads=" + std::to_string(s.threads) + " samples=" + std::to_string(samples) +
      " parameters=" + std::to_string(model.parameters.size()) + " updatable=";
  for (const Layer& layer : model.layers) {
    if (layer.updatable) text += layer.name + ",";
  }
  // Named only when not the default, so checkpoints written before the option still resume.
  if (s.precision != Precision::kFloat32) {
    text += std::string(" precision=") + precision_name(s.precision);
  }
  const std::string options = training_options_text(s.options);
  if (!options.empty()) text += " " + options;
  if (fingerprint_data) {
    std::vector<float> features(data.feature_size());
    uint32_t crc = 0;
    for (size_t i = 0; i < samples; ++i) {
      data.copy_features(i, features.data());
      const int32_t label = data.label(i);
      crc = crc32_bytes(crc, features.data(), features.size() * sizeof(float));
      crc = crc32_bytes(crc, &label, sizeof label);
    }
    text += " data_crc=" + std::to_string(crc);
  }
  return text;
}

void check_resumable(const TrainingState& state, const std::string& signature, const Model& model,
                     const std::string& path) {
  if (state.signature != signature) {
    throw Error(path +
                ": the checkpoint belongs to a different run; resume with the same "
                "arguments and data.\n  checkpoint: " +
                state.signature + "\n  this run:   " + signature);
  }
  if (state.parameters.size() != model.parameters.size() ||
      state.moment1.size() != model.parameters.size() || state.epoch < 0 || state.batch < 0 ||
      state.step < 0) {
    throw Error(path + ": the checkpoint's state does not fit the model");
  }
}

// Augmentation transforms one image input (C, H, W); anything else is refused, naming the inputs.
ImageGeometry augmented_image(const Model& model, const Network& network) {
  const std::vector<int>& inputs = network.input_blobs();
  if (inputs.size() == 1) {
    const Shape& shape = network.blob_shape(inputs[0]);
    if (shape.rank() == 3 && shape[1] > 1 && shape[2] > 1) return {shape[0], shape[1], shape[2]};
  }
  std::string found;
  for (size_t i = 0; i < inputs.size(); ++i) {
    found += std::string(i ? ", '" : "'") + model.inputs[i].name + "' " +
             network.blob_shape(inputs[i]).text();
  }
  throw Error(
      "augmentation (shifts, rotations, flips) applies to a model with one image input "
      "(channels, height, width); this model's input" +
      std::string(inputs.size() > 1 ? "s are " : " is ") + found);
}

// Feeds the epoch's watched loss to the rules that are on, recording their decisions in the state
// (counters, the rate's scale, the stop reason) and the event.
void apply_epoch_rules(const TrainingOptions& options, double base_learning_rate, double loss,
                       TrainingState& state, EpochEnd& end) {
  if (options.early_stopping) {
    const EarlyStoppingVerdict verdict =
        observe_epoch(*options.early_stopping, state.early_stopping, end.epoch, loss);
    end.improved = verdict == EarlyStoppingVerdict::kImproved;
    if (verdict == EarlyStoppingVerdict::kStop) state.stop_reason = StopReason::kEarlyStopping;
  }
  if (options.reduce_on_plateau) {
    const PlateauVerdict verdict =
        observe_epoch(*options.reduce_on_plateau, state.plateau, loss, base_learning_rate);
    if (!options.early_stopping) end.improved = verdict == PlateauVerdict::kImproved;
    end.learning_rate_reduced =
        verdict == PlateauVerdict::kReduced || verdict == PlateauVerdict::kBelowMinimum;
    if (verdict == PlateauVerdict::kBelowMinimum && state.stop_reason == StopReason::kCompleted) {
      state.stop_reason = StopReason::kLearningRateMin;
    }
  }
}

bool checkpoint_due(const UpdateConfig& config, int64_t step,
                    std::chrono::steady_clock::time_point last) {
  if (config.checkpoint_every_batches > 0 && step % config.checkpoint_every_batches == 0)
    return true;
  return config.checkpoint_every_seconds > 0 &&
         std::chrono::duration<double>(std::chrono::steady_clock::now() - last).count() >=
             config.checkpoint_every_seconds;
}

}  // namespace

UpdateTask::UpdateTask(Model& model, const BatchProvider& data, UpdateConfig config)
    : model_(model), data_(data), config_(config) {}

TrainingResult UpdateTask::run() {
  using clock = std::chrono::steady_clock;
  const auto started = clock::now();
  auto seconds_since_start = [&] {
    return std::chrono::duration<double>(clock::now() - started).count();
  };

  const ResolvedUpdate settings = resolve_update(model_, config_, data_.count());
  const TrainingOptions& options = settings.options;
  const Network network(model_, {.train = true,
                                  .products = settings.precision == Precision::kBfloat16
                                                  ? ops::Products::kBfloat16
                                                  : ops::Products::kFloat32});
  LossHead head(model_, network);
  // Accuracy means something only for a classifier's loss; an MSE model reports none.
  const bool classifies = head.type() == LossType::kCategoricalCrossEntropy;
  head.check_data(data_);
  // Held out before anything trains; `samples` counts those trained on.
  const ValidationSplit split =
      split_for_validation(data_.count(), options.validation_split, settings.seed);
  const SampleView validation(data_, split.validation);
  const size_t samples = split.training.size();
  std::optional<AugmentedData> augmented;
  if (options.augment.any()) {
    augmented.emplace(data_, augmented_image(model_, network), options.augment, settings.seed);
  }
  const BatchProvider& train_data =
      augmented ? static_cast<const BatchProvider&>(*augmented) : data_;
  const int64_t batch_size = settings.batch_size;
  const int64_t batches = int64_t((samples + size_t(batch_size) - 1) / size_t(batch_size));
  const bool checkpointing = !config_.checkpoint_path.empty();
  // Refused before anything below is allocated when the buffers cannot fit.
  check_training_fits(model_, network, head, settings, samples, checkpointing);

  ThreadPool pool(settings.threads);
  const int threads = pool.size();
  const int capacity = int((batch_size + threads - 1) / threads);
  std::vector<Workspace> workspaces;
  std::vector<std::vector<float>> gradients;
  std::vector<LossHead::Scratch> scratch;
  for (int t = 0; t < threads; ++t) {
    workspaces.push_back(network.make_workspace(capacity));
    gradients.emplace_back(model_.parameters.size());
    scratch.push_back(head.make_scratch(capacity));
  }
  const std::vector<ParameterSlice> slices = updatable_slices(model_);
  const size_t trained =
      std::accumulate(slices.begin(), slices.end(), size_t(0),
                      [](size_t sum, const ParameterSlice& s) { return sum + s.size; });
  const std::string signature =
      run_signature(model_, settings, data_, data_.count(), checkpointing);
  TrainingState state;
  if (!config_.resume_from.empty()) {
    state = load_checkpoint(config_.resume_from);
    check_resumable(state, signature, model_, config_.resume_from);
    model_.parameters = state.parameters;
  } else {
    state.signature = signature;
    state.rng_state = settings.seed;
    state.order = split.training;
    state.moment1.assign(model_.parameters.size(), 0.0f);
    if (settings.optimizer == OptimizerKind::kAdam)
      state.moment2.assign(model_.parameters.size(), 0.0f);
  }
  // FedProx: the weights the proximal term pulls towards are those the run starts from.
  if (!(config_.proximal_mu >= 0 && std::isfinite(config_.proximal_mu))) {
    throw Error("the proximal term mu must be finite and >= 0, got " +
                std::to_string(config_.proximal_mu));
  }
  if (config_.proximal_mu > 0 && !config_.resume_from.empty()) {
    throw Error("a run with a proximal term (FedProx) cannot be resumed from a checkpoint");
  }
  const std::vector<float> proximal_center =
      config_.proximal_mu > 0 ? model_.parameters : std::vector<float>();
  const double resumed_seconds = state.elapsed_seconds;
  auto elapsed = [&] { return resumed_seconds + seconds_since_start(); };
  auto last_checkpoint = clock::now();
  auto checkpoint = [&] {
    state.parameters = model_.parameters;
    state.elapsed_seconds = elapsed();
    save_checkpoint(state, config_.checkpoint_path);
    last_checkpoint = clock::now();
  };

  TrainingResult result;
  result.samples_seen = state.samples_seen;
  if (handlers.training_began) {
    handlers.training_began(
        *this, {settings, samples, batches,
                training_bytes(model_, network, head, settings, samples, checkpointing)});
  }
  std::vector<double> thread_loss(static_cast<size_t>(threads));
  // Per thread: the gradient parts of the run it is stepping.
  std::vector<std::vector<float*>> part_pointers(static_cast<size_t>(threads),
                                                 std::vector<float*>(static_cast<size_t>(threads)));
  std::vector<size_t> thread_correct(static_cast<size_t>(threads));
  // Batch-coupled ops (batch norm on batch statistics) sum over every thread's part in training,
  // and large dense layers sum their weight gradient over it; then every thread runs forward and
  // backward, even with no samples of its own.
  const std::vector<char> single_part =
      summed_by_backward(slices, network.gradients_summed_across_threads());
  const bool coupled =
      network.couples_batch() ||
      (threads > 1 && std::find(single_part.begin(), single_part.end(), 1) != single_part.end());
  BatchSync sync(threads);
  // The rate of step `index` (from 0): the schedule's, times the plateau reductions so far.
  const int64_t total_steps = settings.epochs * batches;
  auto learning_rate_at = [&](int64_t index) {
    return scheduled_learning_rate(settings.learning_rate, options.schedule, index, batches,
                                   total_steps) *
           state.plateau.learning_rate_scale;
  };
  // Thread t's share of the mini-batch of `count` samples from order[first]: forward, the loss and
  // backward, into its own gradient block.
  auto forward_and_backward = [&](int t, size_t first, int count) {
    const int begin = count * t / threads, end = count * (t + 1) / threads;
    float* dparameters = gradients[size_t(t)].data();  // zero: the last step cleared it
    thread_loss[size_t(t)] = 0;
    thread_correct[size_t(t)] = 0;
    if (begin == end && !coupled) return;
    Workspace& ws = workspaces[size_t(t)];
    const uint64_t* indices = state.order.data() + first + size_t(begin);
    const int n = end - begin;
    head.load_batch(ws, scratch[size_t(t)], train_data, indices, n);
    network.forward(ws, model_, n,
                    {.mode = Mode::kTraining,
                     .state = t == 0 ? model_.parameters.data() : nullptr,
                     .sync = &sync,
                     .thread = t});
    network.zero_grads(ws, n);
    LossHead::Outcome outcome = head.loss_and_seed(ws, scratch[size_t(t)], n, count);
    // The gradient buffer is zero (the last optimizer step cleared it): products may write it.
    network.backward(ws, model_, dparameters, n, /*dparameters_zero=*/true);
    thread_loss[size_t(t)] = outcome.loss;
    thread_correct[size_t(t)] = outcome.correct;
  };
  const bool restore_best = options.early_stopping && options.early_stopping->restore_best_weights;
  std::optional<double> last_validation_loss, last_validation_accuracy;

  for (;
       state.epoch < settings.epochs && !cancelled_ && state.stop_reason == StopReason::kCompleted;
       ++state.epoch) {
    if (augmented) augmented->set_epoch(state.epoch);
    if (!state.order_ready) {
      Rng rng(state.rng_state);
      if (settings.shuffle) shuffle(state.order, rng);
      state.rng_state = rng.state();
      state.order_ready = true;
    }
    for (; state.batch < batches && !cancelled_; ++state.batch) {
      const size_t first = size_t(state.batch * batch_size);
      const int count = int(std::min(size_t(batch_size), samples - first));
      pool.run([&](int t) {
        try {
          forward_and_backward(t, first, count);
        } catch (...) {
          sync.leave();  // the other threads must not wait for this one at the next meeting
          throw;
        }
      });
      const double learning_rate = learning_rate_at(state.step);
      const int64_t step = ++state.step;
      // The optimizer sums the threads' gradients, steps and zeroes them, split by parameter.
      pool.run([&](int t) {
        const size_t begin = trained * size_t(t) / size_t(threads);
        const size_t end = trained * size_t(t + 1) / size_t(threads);
        std::vector<float*>& parts = part_pointers[size_t(t)];
        for_each_run(slices, begin, end, [&](size_t slice, size_t offset, size_t n) {
          const int part_count = single_part[slice] ? 1 : threads;
          for (int part = 0; part < part_count; ++part) {
            parts[size_t(part)] = gradients[size_t(part)].data() + offset;
          }
          const GradientParts sum{parts.data(), part_count};
          float* parameters = model_.parameters.data() + offset;
          if (!proximal_center.empty()) {
            add_proximal_term(parts[0], parameters, proximal_center.data() + offset, n,
                              float(config_.proximal_mu));
          }
          if (settings.optimizer == OptimizerKind::kAdam) {
            if (options.weight_decay > 0) {
              decay_weights(parameters, n, learning_rate, options.weight_decay);
            }
            adam_step(parameters, sum, state.moment1.data() + offset, state.moment2.data() + offset,
                      n, learning_rate, settings.beta1, settings.beta2, settings.eps, step);
          } else {
            if (options.weight_decay > 0) {
              add_l2_gradient(parts[0], parameters, n, options.weight_decay);
            }
            sgd_step(parameters, sum, state.moment1.data() + offset, n, learning_rate,
                     settings.momentum, step == 1);
          }
        });
      });
      double batch_loss = 0;
      size_t batch_correct = 0;
      for (int t = 0; t < threads; ++t) {
        batch_loss += thread_loss[size_t(t)];
        batch_correct += thread_correct[size_t(t)];
      }
      state.epoch_correct += batch_correct;
      if (!std::isfinite(batch_loss)) {
        throw Error("training diverged: the loss became " + std::to_string(batch_loss) +
                    " at epoch " + std::to_string(state.epoch + 1) + ", batch " +
                    std::to_string(state.batch + 1) + " (try a lower learning rate)");
      }
      state.epoch_loss += batch_loss * count;
      state.epoch_samples += uint64_t(count);
      state.samples_seen += uint64_t(count);
      result.samples_seen = state.samples_seen;
      if (handlers.batch_end) {
        BatchEnd end{state.epoch, state.batch, batches, batch_loss, state.samples_seen, elapsed()};
        if (classifies) end.accuracy = double(batch_correct) / double(count);
        end.learning_rate = learning_rate;
        handlers.batch_end(*this, end);
      }
      if (checkpointing && !cancelled_ && checkpoint_due(config_, step, last_checkpoint)) {
        state.batch += 1;  // the checkpoint resumes at the next mini-batch
        checkpoint();
        state.batch -= 1;
      }
    }
    // A cancelled epoch reports no epoch end: its metrics would cover only part of the data. When
    // no epoch has ended, the result has only these batches to report (never a 0 loss that looks
    // perfect).
    if (state.epoch_samples < samples) {
      if (result.epochs_completed == 0 && state.epoch_samples > 0) {
        result.final_loss = state.epoch_loss / double(state.epoch_samples);
        if (classifies) {
          result.final_accuracy = double(state.epoch_correct) / double(state.epoch_samples);
        }
      }
      break;
    }
    EpochEnd end{state.epoch, state.epoch_loss / double(state.epoch_samples), std::nullopt,
                 elapsed()};
    if (classifies) end.accuracy = double(state.epoch_correct) / double(state.epoch_samples);
    end.learning_rate = learning_rate_at(state.step - 1);
    if (!split.validation.empty()) {
      const Evaluation scored = evaluate(model_, validation, threads);
      end.validation_loss = last_validation_loss = scored.loss;
      if (scored.kind == OutputKind::kClassification) {
        end.validation_accuracy = last_validation_accuracy = scored.accuracy;
      }
    }
    apply_epoch_rules(options, settings.learning_rate, end.validation_loss.value_or(end.mean_loss),
                      state, end);
    if (restore_best && end.improved) state.best_parameters = model_.parameters;
    end.next_learning_rate = learning_rate_at(state.step);
    result.final_loss = end.mean_loss;
    result.final_accuracy = end.accuracy;
    result.epochs_completed = state.epoch + 1;
    if (handlers.epoch_end) handlers.epoch_end(*this, end);
    state.batch = 0;
    state.order_ready = false;
    state.epoch_loss = 0;
    state.epoch_correct = state.epoch_samples = 0;
  }
  // Ended by its epochs or a rule (not cancelled midway): early stopping's best weights replace
  // the last ones.
  const bool finished =
      state.stop_reason != StopReason::kCompleted || state.epoch >= settings.epochs;
  if (finished && restore_best && !state.best_parameters.empty()) {
    model_.parameters = state.best_parameters;
  }
  if (checkpointing) checkpoint();  // cancelled or complete: the next resume starts from here
  result.cancelled = cancelled_;
  result.stop_reason = finished ? state.stop_reason : StopReason::kCancelled;
  if (options.early_stopping && state.early_stopping.best_epoch >= 0) {
    result.best_epoch = state.early_stopping.best_epoch;
    result.best_loss = state.early_stopping.best_loss;
  }
  result.validation_loss = last_validation_loss;
  result.validation_accuracy = last_validation_accuracy;
  result.seconds = elapsed();
  if (handlers.completed) handlers.completed(*this, result);
  return result;
}

}  // namespace edgetrain
