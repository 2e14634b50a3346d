// Resolves a run's hyper-parameters: the model's defaults, then the caller's overrides, each
// checked against what the model allows; then the mini-batch is clamped to the data and the threads
// to the hardware. Messages name the value and the rule in words ("epochs must be at least 1, got
// 0").
#include <cmath>

#include "base/machine.h"
#include "edgetrain/error.h"
#include "edgetrain/train.h"
#include "nn/shapes.h"
#include "ops/gemm_bf16.h"
#include "train/epoch_rules.h"
#include "train/validation_split.h"

namespace edgetrain {
namespace {

// Rules no model can relax; the model's own allowed values are checked after these.
void check_at_least_one(int64_t value, const std::string& what) {
  if (value < 1) throw Error(what + " must be at least 1, got " + std::to_string(value));
}
void check_positive(double value, const std::string& what) {
  if (!(value > 0) || !std::isfinite(value)) {
    throw Error(what + " must be a positive number, got " + number_text(value));
  }
}
void check_at_least_zero_below_one(double value, const std::string& what) {
  if (!(value >= 0 && value < 1)) {
    throw Error(what + " must be at least 0 and less than 1, got " + number_text(value));
  }
}

}  // namespace

const char* precision_name(Precision precision) {
  return precision == Precision::kBfloat16 ? "bf16" : "float32";
}

bool precision_supported(Precision precision) {
  return precision == Precision::kFloat32 || ops::bf16_supported();
}

ResolvedUpdate resolve_update(const Model& model, const UpdateConfig& config, size_t samples) {
  if (!model.update) {
    throw Error("the model is not updatable: it has no update parameters (loss, optimizer, epochs)");
  }
  const UpdateParameters& update = *model.update;
  ResolvedUpdate r;
  r.epochs = config.epochs.value_or(update.epochs.default_value);
  check_at_least_one(r.epochs, "epochs");
  if (config.epochs) check_allowed(update.epochs, r.epochs, "epochs");
  r.shuffle = config.shuffle.value_or(update.shuffle);
  r.seed = config.seed.value_or(update.seed ? uint64_t(update.seed->default_value) : 0);
  r.requested_threads = config.threads;
  r.threads = effective_threads(config.threads);
  r.precision = config.precision;
  if (!precision_supported(r.precision)) {
    throw Error(std::string("precision ") + precision_name(r.precision) +
                " needs a CPU with AVX512-BF16 (vdpbf16ps), and this one has not: train with "
                "float32");
  }
  std::visit(
      [&](const auto& optimizer) {
        r.learning_rate = config.learning_rate.value_or(optimizer.learning_rate.default_value);
        r.batch_size = config.batch_size.value_or(optimizer.mini_batch_size.default_value);
        check_positive(r.learning_rate, "the learning rate");
        check_at_least_one(r.batch_size, "the mini-batch size");
        if (config.learning_rate) {
          check_allowed(optimizer.learning_rate, r.learning_rate, "learning rate");
        }
        if (config.batch_size)
          check_allowed(optimizer.mini_batch_size, r.batch_size, "mini-batch size");
      },
      update.optimizer);
  if (const Adam* adam = std::get_if<Adam>(&update.optimizer)) {
    if (config.momentum) throw Error("momentum applies to SGD, but the model's optimizer is Adam");
    r.optimizer = OptimizerKind::kAdam;
    r.beta1 = config.beta1.value_or(adam->beta1.default_value);
    r.beta2 = config.beta2.value_or(adam->beta2.default_value);
    r.eps = config.eps.value_or(adam->eps.default_value);
    if (config.beta1) check_allowed(adam->beta1, r.beta1, "beta1");
    if (config.beta2) check_allowed(adam->beta2, r.beta2, "beta2");
    if (config.eps) check_allowed(adam->eps, r.eps, "eps");
    check_at_least_zero_below_one(r.beta1, "Adam's beta1");
    check_at_least_zero_below_one(r.beta2, "Adam's beta2");
    if (!(r.eps >= 0) || !std::isfinite(r.eps)) {
      throw Error("Adam's eps must be at least 0, got " + number_text(r.eps));
    }
  } else {
    const Sgd& sgd = std::get<Sgd>(update.optimizer);
    if (config.beta1 || config.beta2 || config.eps) {
      throw Error("beta1, beta2 and eps apply to Adam, but the model's optimizer is SGD");
    }
    r.optimizer = OptimizerKind::kSgd;
    r.momentum = config.momentum.value_or(sgd.momentum.default_value);
    if (config.momentum) check_allowed(sgd.momentum, r.momentum, "momentum");
    check_at_least_zero_below_one(r.momentum, "SGD's momentum");
  }
  check_training_options(config.options, r.learning_rate, r.optimizer);
  r.options = config.options;
  // A mini-batch never holds more than the data trained on: a larger request trains exactly as
  // the whole data would, and must not size the workspaces.
  r.requested_batch_size = r.batch_size;
  if (samples > 0) {
    r.validation_samples = validation_count(samples, config.options.validation_split);
    r.training_samples = samples - r.validation_samples;
    if (uint64_t(r.batch_size) > r.training_samples) r.batch_size = int64_t(r.training_samples);
  }
  return r;
}

}  // namespace edgetrain
