// The decisions of the training options, fed chosen values: the rate of every step under the step
// and cosine schedules, early stopping and plateau reduction on given loss sequences, the checks
// of the options, and their text.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "edgetrain/error.h"
#include "edgetrain/train.h"
#include "train/epoch_rules.h"

namespace edgetrain {
namespace {

TEST(EpochRules, StepScheduleMultipliesEveryNEpochs) {
  // 3 mini-batches an epoch, times 0.5 every 2 epochs: steps 0-5 at 1, 6-11 at 0.5, 12-17 at 0.25.
  const LearningRateSchedule schedule = StepSchedule{.every_epochs = 2, .factor = 0.5};
  const std::vector<double> expected = {1,   1,   1,   1,    1,    1,    0.5,  0.5,  0.5,
                                        0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25};
  for (int64_t step = 0; step < int64_t(expected.size()); ++step) {
    EXPECT_EQ(scheduled_learning_rate(1.0, schedule, step, 3, 18), expected[size_t(step)])
        << "step " << step;
  }
}

TEST(EpochRules, CosineScheduleFollowsHalfACosineOverTheRun) {
  // 8 steps from 0.1 towards 0.02: (1 + cos(π t / 8)) / 2 = 1, 0.96194, 0.85355, 0.69134, 0.5, ...
  const LearningRateSchedule schedule = CosineSchedule{.learning_rate_min = 0.02};
  const std::vector<double> expected = {0.1,  0.0969552, 0.0882843, 0.0753073,
                                        0.06, 0.0446927, 0.0317157, 0.0230448};
  for (int64_t step = 0; step < 8; ++step) {
    EXPECT_NEAR(scheduled_learning_rate(0.1, schedule, step, 4, 8), expected[size_t(step)], 5e-8)
        << "step " << step;
  }
  EXPECT_EQ(scheduled_learning_rate(0.1, schedule, 0, 4, 8), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(0.1, schedule, 4, 4, 8), 0.06);  // half way: the mean
  EXPECT_EQ(scheduled_learning_rate(0.1, LearningRateSchedule{}, 5, 4, 8), 0.1);  // no schedule
}

TEST(EpochRules, EarlyStoppingStopsAfterPatienceEpochsWithoutImprovement) {
  // Improvements at epochs 0, 1 and 3; epochs 4 and 5 are worse: patience 2 stops at epoch 5.
  const std::vector<double> losses = {1.0, 0.8, 0.85, 0.79, 0.9, 0.95, 0.5};
  const std::vector<EarlyStoppingVerdict> expected = {
      EarlyStoppingVerdict::kImproved, EarlyStoppingVerdict::kImproved,
      EarlyStoppingVerdict::kWaiting,  EarlyStoppingVerdict::kImproved,
      EarlyStoppingVerdict::kWaiting,  EarlyStoppingVerdict::kStop};
  EarlyStoppingState state;
  for (size_t epoch = 0; epoch < expected.size(); ++epoch) {
    EXPECT_EQ(observe_epoch(EarlyStopping{.patience = 2}, state, int64_t(epoch), losses[epoch]),
              expected[epoch])
        << "epoch " << epoch;
  }
  EXPECT_EQ(state.best_epoch, 3);
  EXPECT_EQ(state.best_loss, 0.79);

  // With min_delta 0.02, 0.79 is no improvement on 0.8 (it must be below 0.78): epochs 2 and 3
  // wait, and the run stops at epoch 3 with epoch 1 the best.
  EarlyStoppingState strict;
  const EarlyStopping rule{.patience = 2, .min_delta = 0.02};
  EXPECT_EQ(observe_epoch(rule, strict, 0, 1.0), EarlyStoppingVerdict::kImproved);
  EXPECT_EQ(observe_epoch(rule, strict, 1, 0.8), EarlyStoppingVerdict::kImproved);
  EXPECT_EQ(observe_epoch(rule, strict, 2, 0.85), EarlyStoppingVerdict::kWaiting);
  EXPECT_EQ(observe_epoch(rule, strict, 3, 0.79), EarlyStoppingVerdict::kStop);
  EXPECT_EQ(strict.best_epoch, 1);
}

TEST(EpochRules, EarlyStoppingPatienceOneStopsAtTheFirstEpochThatIsNotBetter) {
  EarlyStoppingState state;
  const EarlyStopping rule{.patience = 1};
  EXPECT_EQ(observe_epoch(rule, state, 0, 2.0), EarlyStoppingVerdict::kImproved);
  EXPECT_EQ(observe_epoch(rule, state, 1, 1.5), EarlyStoppingVerdict::kImproved);
  EXPECT_EQ(observe_epoch(rule, state, 2, 1.5), EarlyStoppingVerdict::kStop);  // equal: not better
}

TEST(EpochRules, PlateauReductionShrinksTheRateAndEndsBelowTheMinimum) {
  // Base rate 0.1, factor 0.5, minimum 0.03, patience 2.
  const PlateauReduction rule{.patience = 2, .factor = 0.5, .learning_rate_min = 0.03};
  PlateauState state;
  const std::vector<double> losses = {1.0, 1.0, 1.0, 0.5, 0.6, 0.7};
  const std::vector<PlateauVerdict> expected = {
      PlateauVerdict::kImproved, PlateauVerdict::kWaiting, PlateauVerdict::kReduced,
      PlateauVerdict::kImproved, PlateauVerdict::kWaiting, PlateauVerdict::kBelowMinimum};
  const std::vector<double> scales = {1, 1, 0.5, 0.5, 0.5, 0.25};
  for (size_t epoch = 0; epoch < losses.size(); ++epoch) {
    EXPECT_EQ(observe_epoch(rule, state, losses[epoch], 0.1), expected[epoch]) << "epoch " << epoch;
    EXPECT_EQ(state.learning_rate_scale, scales[epoch]) << "epoch " << epoch;
  }
  // The count starts again after a reduction: at 0.05 two more flat epochs reduce again.
  PlateauState again;
  const PlateauReduction low{.patience = 2, .factor = 0.5, .learning_rate_min = 0.001};
  for (double loss : {1.0, 1.0, 1.0}) observe_epoch(low, again, loss, 0.1);
  EXPECT_EQ(again.learning_rate_scale, 0.5);
  EXPECT_EQ(again.epochs_without_improvement, 0);
  EXPECT_EQ(observe_epoch(low, again, 1.0, 0.1), PlateauVerdict::kWaiting);
  EXPECT_EQ(observe_epoch(low, again, 1.0, 0.1), PlateauVerdict::kReduced);
  EXPECT_EQ(again.learning_rate_scale, 0.25);
}

std::string refusal(const TrainingOptions& options, double rate = 1e-3,
                    OptimizerKind optimizer = OptimizerKind::kAdam) {
  try {
    check_training_options(options, rate, optimizer);
  } catch (const Error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(EpochRules, OptionsOutsideTheirRangesAreRefusedInWords) {
  EXPECT_EQ(refusal({.validation_split = 1}),
            "the validation split must be at least 0 and less than 1, got 1");
  EXPECT_EQ(refusal({.early_stopping = EarlyStopping{.patience = 0}}),
            "early stopping's patience must be at least 1 epoch, got 0");
  EXPECT_EQ(refusal({.early_stopping = EarlyStopping{.patience = 2, .min_delta = -1}}),
            "early stopping's min_delta must be a number at least 0, got -1");
  EXPECT_EQ(refusal({.reduce_on_plateau = PlateauReduction{.patience = 1, .factor = 1}}),
            "plateau reduction's factor must be above 0 and less than 1, got 1");
  EXPECT_EQ(refusal({.reduce_on_plateau = PlateauReduction{.learning_rate_min = 0.01}}),
            "plateau reduction's minimum rate 0.01 must be below the learning rate 0.001 (the run "
            "would end before it starts)");
  EXPECT_EQ(refusal({.reduce_on_plateau = PlateauReduction{}, .schedule = CosineSchedule{}}),
            "plateau reduction and a learning-rate schedule both set the rate; use one");
  EXPECT_EQ(refusal({.schedule = StepSchedule{.every_epochs = 0}}),
            "the step schedule's interval must be at least 1 epoch, got 0");
  EXPECT_EQ(refusal({.schedule = StepSchedule{.every_epochs = 1, .factor = 1.5}}),
            "the step schedule's factor must be above 0 and at most 1, got 1.5");
  EXPECT_EQ(refusal({.schedule = CosineSchedule{.learning_rate_min = 0.001}}),
            "the cosine schedule's minimum rate 0.001 must be below the learning rate 0.001");
  EXPECT_EQ(refusal({.weight_decay = -0.5}),
            "the weight decay must be a number at least 0, got -0.5");
  EXPECT_EQ(refusal({.weight_decay = 1000}, 0.001),
            "the weight decay 1000 times the learning rate 0.001 must be below 1 (Adam's decay "
            "scales the weights by 1 - rate · decay every step)");
  EXPECT_EQ(refusal({.weight_decay = 1000}, 0.001, OptimizerKind::kSgd), "accepted");  // L2
  EXPECT_EQ(refusal({.augment = {.shift = -1}}),
            "the augmentation's shift must be at least 0 pixels, got -1");
  EXPECT_EQ(refusal({.augment = {.rotate_degrees = 181}}),
            "the augmentation's rotation must be at least 0 and at most 180 degrees, got 181");
  EXPECT_EQ(refusal({}), "accepted");
}

TEST(EpochRules, TheOptionsTextNamesEveryOptionThatIsOnExactly) {
  EXPECT_EQ(training_options_text({}), "");
  const TrainingOptions all{.validation_split = 0.1,
                            .early_stopping = EarlyStopping{.patience = 3, .min_delta = 0.001},
                            .schedule = StepSchedule{.every_epochs = 2, .factor = 0.5},
                            .weight_decay = 1e-4,
                            .augment = {.shift = 2, .rotate_degrees = 10, .flip = true}};
  EXPECT_EQ(training_options_text(all),
            "validation_split=0.1 early_stopping=patience:3,min_delta:0.001,restore_best_weights "
            "schedule=step:every_epochs:2,factor:0.5 weight_decay=1e-04 "
            "augment=shift:2,rotate_degrees:10,flip");
  EXPECT_EQ(training_options_text({.reduce_on_plateau = PlateauReduction{.patience = 2}}),
            "reduce_on_plateau=patience:2,min_delta:0,factor:0.1,learning_rate_min:1e-05");
  EXPECT_EQ(training_options_text({.schedule = CosineSchedule{}}),
            "schedule=cosine:learning_rate_min:0");
  // Values that print alike at six digits are told apart.
  EXPECT_NE(training_options_text({.validation_split = 0.1}),
            training_options_text({.validation_split = 0.1000001}));
}

}  // namespace
}  // namespace edgetrain
