#include "train/epoch_rules.h"

#include <charconv>
#include <cmath>
#include <numbers>
#include <string>

#include "edgetrain/error.h"

namespace edgetrain {
namespace {

// The shortest text that reads back as the same double, so the text tells runs apart exactly.
std::string exact(double value) {
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return error == std::errc() ? std::string(buffer, end) : std::string("?");
}

std::string got(double value) {
  return ", got " + exact(value);
}

void check_finite_at_least_zero(double value, const std::string& what) {
  if (!(value >= 0) || !std::isfinite(value)) {
    throw Error(what + " must be a number at least 0" + got(value));
  }
}

void check_fraction(double value, bool one_allowed, const std::string& what) {
  if (!(value > 0 && (value < 1 || (one_allowed && value == 1)))) {
    throw Error(what + " must be above 0 and " + (one_allowed ? "at most 1" : "less than 1") +
                got(value));
  }
}

void check_patience(int64_t patience, const std::string& what) {
  if (patience < 1) {
    throw Error(what + "'s patience must be at least 1 epoch, got " + std::to_string(patience));
  }
}

}  // namespace

double scheduled_learning_rate(double base, const LearningRateSchedule& schedule, int64_t step,
                               int64_t steps_per_epoch, int64_t total_steps) {
  if (const auto* step_schedule = std::get_if<StepSchedule>(&schedule)) {
    const int64_t epoch = step / steps_per_epoch;
    return base * std::pow(step_schedule->factor, double(epoch / step_schedule->every_epochs));
  }
  if (const auto* cosine = std::get_if<CosineSchedule>(&schedule)) {
    const double progress = double(step) / double(total_steps);
    return cosine->learning_rate_min +
           (base - cosine->learning_rate_min) * (1.0 + std::cos(std::numbers::pi * progress)) / 2.0;
  }
  return base;
}

EarlyStoppingVerdict observe_epoch(const EarlyStopping& rule, EarlyStoppingState& state,
                                   int64_t epoch, double loss) {
  if (improves(loss, state.best_loss, rule.min_delta)) {
    state.best_loss = loss;
    state.best_epoch = epoch;
    state.epochs_without_improvement = 0;
    return EarlyStoppingVerdict::kImproved;
  }
  ++state.epochs_without_improvement;
  return state.epochs_without_improvement >= rule.patience ? EarlyStoppingVerdict::kStop
                                                           : EarlyStoppingVerdict::kWaiting;
}

PlateauVerdict observe_epoch(const PlateauReduction& rule, PlateauState& state, double loss,
                             double base_learning_rate) {
  if (improves(loss, state.best_loss, rule.min_delta)) {
    state.best_loss = loss;
    state.epochs_without_improvement = 0;
    return PlateauVerdict::kImproved;
  }
  if (++state.epochs_without_improvement < rule.patience) return PlateauVerdict::kWaiting;
  state.epochs_without_improvement = 0;
  state.learning_rate_scale *= rule.factor;
  return base_learning_rate * state.learning_rate_scale < rule.learning_rate_min
             ? PlateauVerdict::kBelowMinimum
             : PlateauVerdict::kReduced;
}

void check_training_options(const TrainingOptions& options, double base_learning_rate,
                            OptimizerKind optimizer) {
  if (!(options.validation_split >= 0 && options.validation_split < 1)) {
    throw Error("the validation split must be at least 0 and less than 1" +
                got(options.validation_split));
  }
  if (const EarlyStopping* early = options.early_stopping ? &*options.early_stopping : nullptr) {
    check_patience(early->patience, "early stopping");
    check_finite_at_least_zero(early->min_delta, "early stopping's min_delta");
  }
  if (const PlateauReduction* plateau =
          options.reduce_on_plateau ? &*options.reduce_on_plateau : nullptr) {
    check_patience(plateau->patience, "plateau reduction");
    check_finite_at_least_zero(plateau->min_delta, "plateau reduction's min_delta");
    check_fraction(plateau->factor, false, "plateau reduction's factor");
    check_finite_at_least_zero(plateau->learning_rate_min, "plateau reduction's minimum rate");
    if (!(plateau->learning_rate_min < base_learning_rate)) {
      throw Error("plateau reduction's minimum rate " + exact(plateau->learning_rate_min) +
                  " must be below the learning rate " + exact(base_learning_rate) +
                  " (the run would end before it starts)");
    }
    if (!std::holds_alternative<std::monostate>(options.schedule)) {
      throw Error("plateau reduction and a learning-rate schedule both set the rate; use one");
    }
  }
  if (const auto* step = std::get_if<StepSchedule>(&options.schedule)) {
    if (step->every_epochs < 1) {
      throw Error("the step schedule's interval must be at least 1 epoch, got " +
                  std::to_string(step->every_epochs));
    }
    check_fraction(step->factor, true, "the step schedule's factor");
  }
  if (const auto* cosine = std::get_if<CosineSchedule>(&options.schedule)) {
    check_finite_at_least_zero(cosine->learning_rate_min, "the cosine schedule's minimum rate");
    if (!(cosine->learning_rate_min < base_learning_rate)) {
      throw Error("the cosine schedule's minimum rate " + exact(cosine->learning_rate_min) +
                  " must be below the learning rate " + exact(base_learning_rate));
    }
  }
  check_finite_at_least_zero(options.weight_decay, "the weight decay");
  // Decoupled decay scales the weights by 1 - rate · decay each step: at 1 or more it would zero
  // or flip them.
  if (optimizer == OptimizerKind::kAdam && options.weight_decay * base_learning_rate >= 1) {
    throw Error("the weight decay " + exact(options.weight_decay) + " times the learning rate " +
                exact(base_learning_rate) + " must be below 1 (Adam's decay scales the weights " +
                "by 1 - rate · decay every step)");
  }
  const Augmentation& augment = options.augment;
  if (augment.shift < 0) {
    throw Error("the augmentation's shift must be at least 0 pixels, got " +
                std::to_string(augment.shift));
  }
  if (!(augment.rotate_degrees >= 0 && augment.rotate_degrees <= 180)) {
    throw Error("the augmentation's rotation must be at least 0 and at most 180 degrees" +
                got(augment.rotate_degrees));
  }
}

std::string training_options_text(const TrainingOptions& options) {
  std::string text;
  auto add = [&](const std::string& item) { text += (text.empty() ? "" : " ") + item; };
  if (options.validation_split > 0) add("validation_split=" + exact(options.validation_split));
  if (options.early_stopping) {
    const EarlyStopping& e = *options.early_stopping;
    add("early_stopping=patience:" + std::to_string(e.patience) + ",min_delta:" +
        exact(e.min_delta) + (e.restore_best_weights ? ",restore_best_weights" : ""));
  }
  if (options.reduce_on_plateau) {
    const PlateauReduction& p = *options.reduce_on_plateau;
    add("reduce_on_plateau=patience:" + std::to_string(p.patience) +
        ",min_delta:" + exact(p.min_delta) + ",factor:" + exact(p.factor) +
        ",learning_rate_min:" + exact(p.learning_rate_min));
  }
  if (const auto* step = std::get_if<StepSchedule>(&options.schedule)) {
    add("schedule=step:every_epochs:" + std::to_string(step->every_epochs) +
        ",factor:" + exact(step->factor));
  }
  if (const auto* cosine = std::get_if<CosineSchedule>(&options.schedule)) {
    add("schedule=cosine:learning_rate_min:" + exact(cosine->learning_rate_min));
  }
  if (options.weight_decay > 0) add("weight_decay=" + exact(options.weight_decay));
  if (options.augment.any()) {
    std::string augment;
    auto part = [&](const std::string& item) { augment += (augment.empty() ? "" : ",") + item; };
    if (options.augment.shift > 0) part("shift:" + std::to_string(options.augment.shift));
    if (options.augment.rotate_degrees > 0) {
      part("rotate_degrees:" + exact(options.augment.rotate_degrees));
    }
    if (options.augment.flip) part("flip");
    add("augment=" + augment);
  }
  return text;
}

}  // namespace edgetrain
