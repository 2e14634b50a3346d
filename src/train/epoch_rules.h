// The decisions of the training options beyond Core ML (edgetrain/train.h), as small state
// machines the update task feeds and its checkpoint stores: the learning rate of each step
// (schedules, plateau reduction), and at each epoch's end whether the watched loss improved,
// whether the rate is reduced, and whether the run stops. Nothing here reads the clock or the data,
// so tests drive them with chosen loss sequences.
#pragma once

#include <cstdint>
#include <limits>

#include "edgetrain/train.h"

namespace edgetrain {

// The rate of optimizer step `step` (from 0) of a run of `total_steps` steps, `steps_per_epoch` a
// epoch, before any plateau reduction (see StepSchedule, CosineSchedule).
double scheduled_learning_rate(double base, const LearningRateSchedule& schedule, int64_t step,
                               int64_t steps_per_epoch, int64_t total_steps);

// "Improved": below best - min_delta, the first loss always.
inline bool improves(double loss, double best, double min_delta) {
  return loss < best - min_delta;
}

struct EarlyStoppingState {
  double best_loss = std::numeric_limits<double>::infinity();
  int64_t best_epoch = -1;
  int64_t epochs_without_improvement = 0;
};
enum class EarlyStoppingVerdict { kImproved, kWaiting, kStop };
// Feeds epoch `epoch`'s watched loss.
EarlyStoppingVerdict observe_epoch(const EarlyStopping& rule, EarlyStoppingState& state,
                                   int64_t epoch, double loss);

struct PlateauState {
  double best_loss = std::numeric_limits<double>::infinity();
  int64_t epochs_without_improvement = 0;
  double learning_rate_scale = 1.0;  // the product of the reductions so far
};
enum class PlateauVerdict { kImproved, kWaiting, kReduced, kBelowMinimum };
// Feeds one epoch's watched loss; `base_learning_rate` times the scale is the rate checked against
// the minimum after a reduction.
PlateauVerdict observe_epoch(const PlateauReduction& rule, PlateauState& state, double loss,
                             double base_learning_rate);

// Throws Error naming the option and the rule ("the validation split must be at least 0 and less
// than 1, got 1"), for the run's base learning rate and optimizer.
void check_training_options(const TrainingOptions& options, double base_learning_rate,
                            OptimizerKind optimizer);

}  // namespace edgetrain
