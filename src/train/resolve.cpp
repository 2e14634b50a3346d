// Resolves a run's hyper-parameters: the model's defaults, then the caller's overrides, each checked
// against what the model allows.
#include <thread>

#include "edgetrain/error.h"
#include "edgetrain/train.h"
#include "nn/shapes.h"

namespace edgetrain {

ResolvedUpdate resolve_update(const Model& model, const UpdateConfig& config) {
  if (!model.update) {
    throw Error("the model is not updatable: it has no update parameters (loss, optimizer, epochs)");
  }
  const UpdateParameters& update = *model.update;
  ResolvedUpdate r;
  r.epochs = config.epochs.value_or(update.epochs.default_value);
  if (r.epochs <= 0) throw Error("epochs must be positive, got " + std::to_string(r.epochs));
  if (config.epochs) check_allowed(update.epochs, r.epochs, "epochs");
  r.shuffle = config.shuffle.value_or(update.shuffle);
  r.seed = config.seed.value_or(update.seed ? uint64_t(update.seed->default_value) : 0);
  r.threads = config.threads > 0 ? config.threads
                                 : int(std::max(1u, std::thread::hardware_concurrency()));
  std::visit(
      [&](const auto& optimizer) {
        r.learning_rate = config.learning_rate.value_or(optimizer.learning_rate.default_value);
        r.batch_size = config.batch_size.value_or(optimizer.mini_batch_size.default_value);
        if (!(r.learning_rate > 0)) {
          throw Error("the learning rate must be positive, got " + std::to_string(r.learning_rate));
        }
        if (r.batch_size <= 0) {
          throw Error("the mini-batch size must be positive, got " + std::to_string(r.batch_size));
        }
        if (config.learning_rate) {
          check_allowed(optimizer.learning_rate, r.learning_rate, "learning rate");
        }
        if (config.batch_size) check_allowed(optimizer.mini_batch_size, r.batch_size, "mini-batch size");
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
    if (!(r.beta1 >= 0 && r.beta1 < 1 && r.beta2 >= 0 && r.beta2 < 1 && r.eps >= 0)) {
      throw Error("Adam needs 0 <= beta1, beta2 < 1 and eps >= 0");
    }
  } else {
    const Sgd& sgd = std::get<Sgd>(update.optimizer);
    if (config.beta1 || config.beta2 || config.eps) {
      throw Error("beta1, beta2 and eps apply to Adam, but the model's optimizer is SGD");
    }
    r.optimizer = OptimizerKind::kSgd;
    r.momentum = config.momentum.value_or(sgd.momentum.default_value);
    if (config.momentum) check_allowed(sgd.momentum, r.momentum, "momentum");
    if (!(r.momentum >= 0 && r.momentum < 1)) throw Error("momentum must be in [0, 1)");
  }
  return r;
}

}  // namespace edgetrain
