// The training options beyond Core ML in real (small, seeded) runs: the decisions they make,
// checked against the rules and the losses the run reported, never against timings.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <vector>

#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "test_paths.h"
#include "train/epoch_rules.h"
#include "train/optimizer.h"
#include "train/validation_split.h"

namespace edgetrain {
namespace {

namespace fs = std::filesystem;

Dataset mnist_first(size_t n) {
  static const Dataset data = read_idx(test_paths::mnist("t10k-images-idx3-ubyte.gz"),
                                       test_paths::mnist("t10k-labels-idx1-ubyte.gz"));
  Dataset first = data;
  first.truncate(n);
  return first;
}

// A small image classifier, quick to train: flatten, dense 32, batch norm, ReLU, dense 10,
// softmax. Batch norm's running statistics are part of the weights the options must carry.
Model small_model(Optimizer optimizer, int64_t batch_size, int64_t epochs) {
  ModelBuilder builder;
  builder.input("image", {1, 28, 28})
      .output("output", {10})
      .training_input("image", {1, 28, 28})
      .training_input("output_true", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "output", .target = "output_true"})
      .epochs({epochs, {{1, 100}}})
      .layers({
          {"flatten", "image", "flat", Flatten{}},
          {"hidden", "flat", "h", InnerProduct{.output_channels = 32}, kUpdatable},
          {"bn", "h", "n", Batchnorm{}, kUpdatable},
          {"relu", "n", "r", ReLU()},
          {"out", "r", "o", InnerProduct{.output_channels = 10}, kUpdatable},
          {"softmax", "o", "output", Softmax{}},
      })
      .initializer(Initializer::kHeUniform, 3);
  if (Adam* adam = std::get_if<Adam>(&optimizer)) {
    adam->mini_batch_size = {batch_size, {{1, 1000}}};
    builder.optimizer(*adam);
  } else {
    Sgd sgd = std::get<Sgd>(optimizer);
    sgd.mini_batch_size = {batch_size, {{1, 1000}}};
    builder.optimizer(sgd);
  }
  return builder.build();
}

Model adam_model(int64_t batch_size, int64_t epochs) {
  return small_model(Adam{}, batch_size, epochs);
}

TEST(TrainingOptions, EveryStepRunsAtTheScheduledRate) {
  const Dataset data = mnist_first(200);  // 4 mini-batches of 50 an epoch, 3 epochs: 12 steps
  const std::vector<std::pair<LearningRateSchedule, std::vector<double>>> cases = {
      {StepSchedule{.every_epochs = 1, .factor = 0.5},
       {1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 2.5e-4, 2.5e-4}},
      {CosineSchedule{.learning_rate_min = 1e-4}, {}},
  };
  for (const auto& [schedule, expected] : cases) {
    Model model = adam_model(50, 3);
    UpdateTask task(model, data, {.seed = 1, .threads = 2, .options = {.schedule = schedule}});
    std::vector<double> rates, epoch_rates;
    task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& e) {
      rates.push_back(e.learning_rate);
    };
    task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& e) {
      epoch_rates.push_back(e.learning_rate);
      EXPECT_EQ(e.next_learning_rate,
                scheduled_learning_rate(1e-3, schedule, (e.epoch + 1) * 4, 4, 12));
    };
    task.run();
    ASSERT_EQ(rates.size(), 12u);
    for (size_t step = 0; step < rates.size(); ++step) {
      const double formula = scheduled_learning_rate(1e-3, schedule, int64_t(step), 4, 12);
      EXPECT_EQ(rates[step], formula) << "step " << step;
      if (!expected.empty()) {
        EXPECT_DOUBLE_EQ(rates[step], expected[step]) << "step " << step;
      }
    }
    EXPECT_EQ(epoch_rates, (std::vector<double>{rates[3], rates[7], rates[11]}));
  }
}

// The rate is what the optimizer uses: SGD without momentum keeps no state, so a 2-epoch run at
// lr, lr/2 (one full-data mini-batch an epoch, no shuffling) equals an epoch at lr followed by a
// new run of an epoch at lr/2, bit for bit.
TEST(TrainingOptions, TheScheduledRateIsTheRateTheOptimizerSteps) {
  const Dataset data = mnist_first(64);
  const Sgd sgd{.learning_rate = {0.05, {{0.0, 1.0}}}};
  Model scheduled = small_model(sgd, 64, 2);
  UpdateTask(scheduled, data,
             {.shuffle = false,
              .threads = 1,
              .options = {.schedule = StepSchedule{.every_epochs = 1, .factor = 0.5}}})
      .run();
  Model stepwise = small_model(sgd, 64, 2);
  UpdateTask(stepwise, data, {.epochs = 1, .shuffle = false, .threads = 1}).run();
  UpdateTask(stepwise, data, {.epochs = 1, .learning_rate = 0.025, .shuffle = false, .threads = 1})
      .run();
  EXPECT_EQ(scheduled.parameters, stepwise.parameters);
}

TEST(TrainingOptions, PlateauReductionLowersTheRateAfterPatienceEpochsAndEndsBelowTheMinimum) {
  // min_delta 1e9: no epoch after the first improves, so with patience 1 every later epoch
  // multiplies the rate by 0.5: 1e-3 (epochs 0, 1), 5e-4 (2), 2.5e-4 (3); after epoch 3 it would be
  // 1.25e-4 < 2e-4, so the run ends there, 4 of 10 epochs done.
  const Dataset data = mnist_first(200);
  Model model = adam_model(50, 10);
  UpdateTask task(
      model, data,
      {.seed = 2,
       .threads = 2,
       .options = {
           .reduce_on_plateau = PlateauReduction{
               .patience = 1, .min_delta = 1e9, .factor = 0.5, .learning_rate_min = 2e-4}}});
  std::vector<double> epoch_rates, next_rates;
  std::vector<bool> reduced, improved;
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& e) {
    epoch_rates.push_back(e.learning_rate);
    next_rates.push_back(e.next_learning_rate);
    reduced.push_back(e.learning_rate_reduced);
    improved.push_back(e.improved);
  };
  const TrainingResult result = task.run();
  EXPECT_EQ(result.stop_reason, StopReason::kLearningRateMin);
  EXPECT_EQ(result.epochs_completed, 4);
  EXPECT_EQ(epoch_rates, (std::vector<double>{1e-3, 1e-3, 5e-4, 2.5e-4}));
  EXPECT_EQ(next_rates, (std::vector<double>{1e-3, 5e-4, 2.5e-4, 1.25e-4}));
  EXPECT_EQ(reduced, (std::vector<bool>{false, true, true, true}));
  EXPECT_EQ(improved, (std::vector<bool>{true, false, false, false}));
}

// With real losses: the reductions are where the rule puts them for the training losses observed
// (no validation split: the training loss is watched).
TEST(TrainingOptions, PlateauReductionsFollowTheObservedLosses) {
  const Dataset data = mnist_first(300);
  Model model = adam_model(30, 8);
  const PlateauReduction rule{
      .patience = 1, .min_delta = 0.2, .factor = 0.3, .learning_rate_min = 1e-7};
  UpdateTask task(model, data, {.seed = 5, .threads = 2, .options = {.reduce_on_plateau = rule}});
  std::vector<double> losses, rates;
  std::vector<bool> reduced;
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& e) {
    losses.push_back(e.mean_loss);
    rates.push_back(e.learning_rate);
    reduced.push_back(e.learning_rate_reduced);
  };
  task.run();
  ASSERT_EQ(losses.size(), 8u);
  // The rule by hand: a reduction whenever an epoch is not 0.2 below the best so far (the losses
  // fall by about 0.9, 0.4, 0.25, 0.12, ... an epoch at first).
  double best = INFINITY, rate = 1e-3;
  int reductions = 0;
  for (size_t epoch = 0; epoch < losses.size(); ++epoch) {
    EXPECT_DOUBLE_EQ(rates[epoch], rate) << "epoch " << epoch;
    const bool better = losses[epoch] < best - 0.2;
    if (better) best = losses[epoch];
    EXPECT_EQ(reduced[epoch], !better) << "epoch " << epoch;
    if (!better) rate *= 0.3, ++reductions;
  }
  EXPECT_GT(reductions, 0) << "the losses never levelled off; the test shows nothing";
  EXPECT_LT(reductions, 8) << "no epoch improved; the test shows nothing";
}

TEST(TrainingOptions, EarlyStoppingStopsAfterPatienceAndKeepsTheBestEpochsWeights) {
  // min_delta 1e9: only the first epoch improves, so patience 2 stops after epoch 2 (3 of 10
  // epochs), and the weights are those after epoch 0: a 1-epoch run's, bit for bit.
  const Dataset data = mnist_first(250);
  const UpdateConfig config{
      .seed = 4,
      .threads = 2,
      .options = {.validation_split = 0.2,
                  .early_stopping = EarlyStopping{.patience = 2, .min_delta = 1e9}}};
  Model model = adam_model(50, 10);
  UpdateTask task(model, data, config);
  std::vector<double> validation_losses;
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& e) {
    ASSERT_TRUE(e.validation_loss.has_value());
    ASSERT_TRUE(e.validation_accuracy.has_value());
    validation_losses.push_back(*e.validation_loss);
  };
  const TrainingResult result = task.run();
  EXPECT_EQ(result.stop_reason, StopReason::kEarlyStopping);
  EXPECT_EQ(result.epochs_completed, 3);
  EXPECT_EQ(result.best_epoch, 0);
  ASSERT_EQ(validation_losses.size(), 3u);
  EXPECT_EQ(result.best_loss, validation_losses[0]);

  Model one_epoch = adam_model(50, 10);
  UpdateConfig first = config;
  first.epochs = 1;
  UpdateTask(one_epoch, data, first).run();
  EXPECT_EQ(model.parameters, one_epoch.parameters);

  // --keep-last-weights: the last epoch's, as a plain 3-epoch run ends.
  Model last = adam_model(50, 10);
  UpdateConfig keep = config;
  keep.options.early_stopping->restore_best_weights = false;
  UpdateTask(last, data, keep).run();
  Model three_epochs = adam_model(50, 10);
  UpdateConfig plain = config;
  plain.epochs = 3;
  plain.options.early_stopping.reset();
  UpdateTask(three_epochs, data, plain).run();
  EXPECT_EQ(last.parameters, three_epochs.parameters);
  EXPECT_NE(last.parameters, model.parameters);
}

// With real validation losses (a model that overfits 100 samples at a high rate): the run stops
// at the epoch the rule names for the losses it reported, and ends with the best epoch's weights.
TEST(TrainingOptions, EarlyStoppingStopsWhereTheObservedValidationLossesSay) {
  const Dataset data = mnist_first(200);
  Model model = small_model(Adam{.learning_rate = {0.02, {{0.0, 1.0}}}}, 20, 40);
  UpdateTask task(
      model, data,
      {.seed = 8,
       .threads = 2,
       .options = {.validation_split = 0.5, .early_stopping = EarlyStopping{.patience = 3}}});
  std::vector<double> losses;
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& e) {
    losses.push_back(*e.validation_loss);
  };
  const TrainingResult result = task.run();
  // The rule by hand: the first epoch that is the 3rd in a row not below the best ends the run.
  double best = INFINITY;
  int64_t best_epoch = -1, waited = 0, stop = -1;
  for (size_t epoch = 0; epoch < losses.size() && stop < 0; ++epoch) {
    if (losses[epoch] < best) {
      best = losses[epoch], best_epoch = int64_t(epoch), waited = 0;
    } else if (++waited == 3) {
      stop = int64_t(epoch);
    }
  }
  ASSERT_GE(stop, 0) << "the validation loss kept falling for 40 epochs; the test shows nothing";
  EXPECT_EQ(result.stop_reason, StopReason::kEarlyStopping);
  EXPECT_EQ(result.epochs_completed, stop + 1);
  EXPECT_EQ(int64_t(losses.size()), stop + 1);
  EXPECT_EQ(result.best_epoch, best_epoch);
  EXPECT_EQ(result.best_loss, best);
  // The model holds the best epoch's weights: scoring the held-out half gives that loss again.
  const ValidationSplit split = split_for_validation(200, 0.5, 8);
  const SampleView validation(data, split.validation);
  EXPECT_EQ(evaluate(model, validation, 2).loss, best);
}

// A provider that records which samples are read while it is recording.
class Recorder : public BatchProvider {
 public:
  explicit Recorder(const Dataset& data) : data_(data), read_(data.count()) {}
  size_t count() const override { return data_.count(); }
  size_t feature_size() const override { return data_.feature_size(); }
  void copy_features(size_t index, float* dst) const override {
    if (recording) read_[index] = true;
    data_.copy_features(index, dst);
  }
  int32_t label(size_t index) const override { return data_.label(index); }
  std::vector<uint64_t> read() const {
    std::vector<uint64_t> indices;
    for (size_t i = 0; i < read_.size(); ++i) {
      if (read_[i]) indices.push_back(i);
    }
    return indices;
  }
  std::atomic<bool> recording{false};

 private:
  const Dataset& data_;
  mutable std::vector<std::atomic<bool>> read_;
};

TEST(TrainingOptions, TheValidationSplitIsSeededAndNeverTrainedOn) {
  const ValidationSplit a = split_for_validation(100, 0.2, 7),
                        b = split_for_validation(100, 0.2, 7);
  EXPECT_EQ(a.validation, b.validation);
  EXPECT_EQ(a.validation.size(), 20u);
  EXPECT_EQ(a.training.size(), 80u);
  std::vector<bool> seen(100, false);
  for (uint64_t i : a.validation) seen[i] = true;
  for (uint64_t i : a.training) {
    EXPECT_FALSE(seen[i]) << i << " is in both";
    seen[i] = true;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), 100);
  EXPECT_NE(split_for_validation(100, 0.2, 8).validation, a.validation);
  EXPECT_TRUE(split_for_validation(100, 0, 7).validation.empty());
  try {
    split_for_validation(4, 0.1, 7);
    ADD_FAILURE() << "a split holding out no sample was accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "a validation split of 0.1 of 4 samples holds out 0; use a larger split or more "
                 "data");
  }

  // In a run: the batches read exactly the training samples; the event's validation loss is the
  // held-out samples' loss with the epoch's weights.
  const Dataset data = mnist_first(100);
  Recorder recorder(data);
  Model model = adam_model(16, 1);
  UpdateTask task(model, recorder, {.seed = 7, .threads = 2, .options = {.validation_split = 0.2}});
  std::vector<uint64_t> trained_on;
  size_t began_samples = 0;
  task.handlers.training_began = [&](UpdateTask&, const TrainingBegan& began) {
    began_samples = began.samples;
    EXPECT_EQ(began.settings.validation_samples, 20u);
    recorder.recording = true;
  };
  task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& e) {
    if (e.batch + 1 == e.batches_per_epoch) {
      recorder.recording = false;
      trained_on = recorder.read();
    }
  };
  std::optional<double> reported;
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& e) { reported = e.validation_loss; };
  const TrainingResult result = task.run();
  EXPECT_EQ(began_samples, 80u);
  EXPECT_EQ(trained_on, a.training);
  ASSERT_TRUE(reported.has_value());
  const SampleView validation(data, a.validation);
  EXPECT_EQ(*reported, evaluate(model, validation, 2).loss);
  EXPECT_EQ(result.validation_loss, reported);
}

TEST(TrainingOptions, WeightDecayFollowsItsFormulaOnOneStep) {
  // The steps alone, against the formulas in double precision.
  std::vector<float> p = {0.5f, -2.0f, 1.25f}, m(3), v(3), g = {0.1f, 0.2f, -0.3f};
  const std::vector<float> p0 = p, g0 = g;
  float* parts[] = {g.data()};
  const double lr = 0.01, decay = 2.0;
  decay_weights(p.data(), 3, lr, decay);
  adam_step(p.data(), {parts, 1}, m.data(), v.data(), 3, lr, 0.9, 0.999, 1e-8, 1);
  for (size_t i = 0; i < 3; ++i) {
    // One Adam step moves by lr · g / (|g| + ε) after the bias corrections.
    const double expected = p0[i] * (1 - lr * decay) - lr * g0[i] / (std::fabs(g0[i]) + 1e-8);
    EXPECT_NEAR(p[i], expected, 1e-6) << i;
  }
  std::vector<float> q = p0, velocity(3), h = g0;
  float* sgd_parts[] = {h.data()};
  add_l2_gradient(h.data(), q.data(), 3, decay);
  sgd_step(q.data(), {sgd_parts, 1}, velocity.data(), 3, lr, 0.0, true);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(q[i], p0[i] - lr * (g0[i] + decay * p0[i]), 1e-7) << i;
  }

  // In the trainer, one step (one full-data mini-batch, one epoch) from the same weights: with
  // decay, each trained weight ends lr · decay · p0 below where it ends without (both optimizers),
  // and what is not trained is not decayed.
  const Dataset data = mnist_first(32);
  for (const Optimizer& optimizer : {Optimizer(Adam{.learning_rate = {0.01, {{0.0, 1.0}}}}),
                                     Optimizer(Sgd{.learning_rate = {0.01, {{0.0, 1.0}}}})}) {
    Model plain = small_model(optimizer, 32, 1), decayed = small_model(optimizer, 32, 1);
    const std::vector<float> start = plain.parameters;
    UpdateTask(plain, data, {.threads = 1}).run();
    UpdateTask(decayed, data, {.threads = 1, .options = {.weight_decay = 2.0}}).run();
    const char* kind = std::holds_alternative<Adam>(optimizer) ? "Adam" : "SGD";
    for (const Layer& layer : plain.layers) {
      for (const LayerParameter& parameter : layer.parameters) {
        for (size_t i = parameter.slice.offset; i < parameter.slice.offset + parameter.slice.size;
             ++i) {
          const double difference = double(decayed.parameters[i]) - plain.parameters[i];
          if (parameter.role == ParameterRole::kTrainable) {
            // SGD: the same gradient (the same weights went forward), plus decay · p0 times lr.
            EXPECT_NEAR(difference, -lr * decay * start[i], 1e-6 + 1e-5 * std::fabs(start[i]))
                << kind << " " << layer.name << "." << parameter.name << "[" << i << "]";
          } else {
            EXPECT_EQ(difference, 0.0) << kind << " " << layer.name << "." << parameter.name;
          }
        }
      }
    }
  }
}

TEST(TrainingOptions, AugmentedRunsAreIdenticalForASeedAndRefusedWithoutAnImage) {
  const Dataset data = mnist_first(200);
  const TrainingOptions augment{.augment = {.shift = 2, .rotate_degrees = 10, .flip = true}};
  Model a = adam_model(40, 2), b = adam_model(40, 2), c = adam_model(40, 2), d = adam_model(40, 2);
  UpdateTask(a, data, {.seed = 3, .threads = 2, .options = augment}).run();
  UpdateTask(b, data, {.seed = 3, .threads = 2, .options = augment}).run();
  UpdateTask(c, data, {.seed = 4, .threads = 2, .options = augment}).run();
  UpdateTask(d, data, {.seed = 3, .threads = 2}).run();
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_NE(a.parameters, c.parameters);
  EXPECT_NE(a.parameters, d.parameters) << "the augmentation changed nothing";

  Model vector_input =
      ModelBuilder()
          .input("features", {784})
          .output("output", {10})
          .training_input("features", {784})
          .training_input("output_true", {1}, FeatureType::kInt32)
          .loss(CategoricalCrossEntropy{.name = "loss", .input = "output", .target = "output_true"})
          .optimizer(Adam{})
          .layers({{"dense", "features", "o", InnerProduct{.output_channels = 10}, kUpdatable},
                   {"softmax", "o", "output", Softmax{}}})
          .build();
  try {
    UpdateTask(vector_input, data, {.options = augment}).run();
    ADD_FAILURE() << "augmentation of a vector input was accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "augmentation (shifts, rotations, flips) applies to a model with one image input "
                 "(channels, height, width); this model's input is 'features' [784, 1, 1]");
  }
}

class TrainingOptionsCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    folder = fs::temp_directory_path() /
             ("edgetrain-options-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(folder);
  }
  void TearDown() override { fs::remove_all(folder); }

  // Runs `config` uninterrupted, then again stopped after each of `stops` (global mini-batch
  // numbers) and resumed from its checkpoint each time; both must end bit-identical, and resuming
  // the finished run must change nothing.
  void expect_resumes_bit_identical(const UpdateConfig& config, int64_t epochs,
                                    const std::vector<int64_t>& stops) {
    const Dataset data = mnist_first(250);
    Model whole = adam_model(40, epochs);
    const TrainingResult uninterrupted = UpdateTask(whole, data, config).run();
    // Stops past the uninterrupted run's last mini-batch (40 samples each) would never come.
    std::vector<int64_t> reached;
    for (int64_t stop : stops) {
      if (stop < int64_t(uninterrupted.samples_seen / 40)) reached.push_back(stop);
    }
    ASSERT_GE(reached.size(), 2u);

    const std::string checkpoint = (folder / "run.ckpt").string();
    Model model;
    TrainingResult last;
    for (size_t attempt = 0; attempt <= reached.size(); ++attempt) {
      UpdateConfig resumed = config;
      resumed.checkpoint_path = checkpoint;
      if (attempt > 0) resumed.resume_from = checkpoint;
      model = adam_model(40, epochs);
      UpdateTask task(model, data, resumed);
      const int64_t stop_after = attempt < reached.size() ? reached[attempt] : -1;
      task.handlers.batch_end = [&](UpdateTask& t, const BatchEnd& e) {
        if (e.epoch * e.batches_per_epoch + e.batch + 1 == stop_after) t.cancel();
      };
      last = task.run();
      EXPECT_EQ(last.cancelled, stop_after > 0) << "attempt " << attempt;
    }
    EXPECT_EQ(model.parameters, whole.parameters);
    EXPECT_EQ(last.stop_reason, uninterrupted.stop_reason);
    EXPECT_EQ(last.best_epoch, uninterrupted.best_epoch);
    EXPECT_EQ(last.best_loss, uninterrupted.best_loss);

    UpdateConfig again = config;
    again.resume_from = again.checkpoint_path = checkpoint;
    Model finished = adam_model(40, epochs);
    int batches = 0;
    UpdateTask task(finished, data, again);
    task.handlers.batch_end = [&](UpdateTask&, const BatchEnd&) { ++batches; };
    task.run();
    EXPECT_EQ(batches, 0);
    EXPECT_EQ(finished.parameters, whole.parameters);
    uninterrupted_result = uninterrupted;
  }
  fs::path folder;
  TrainingResult uninterrupted_result;
};

TEST_F(TrainingOptionsCheckpoint, ScheduleDecayAugmentationAndEarlyStoppingResumeBitIdentical) {
  // 200 training samples in 5 mini-batches an epoch; early stopping with min_delta 1e9 ends the
  // run after epoch 3 of 6. Stops: mid-epoch 0, at the end of epoch 1 (its last mini-batch), mid
  // epoch 2, and in epoch 3, the one after which the run stops.
  const UpdateConfig config{
      .seed = 6,
      .threads = 2,
      .options = {.validation_split = 0.2,
                  .early_stopping = EarlyStopping{.patience = 3, .min_delta = 1e9},
                  .schedule = CosineSchedule{.learning_rate_min = 1e-5},
                  .weight_decay = 0.05,
                  .augment = {.shift = 2, .rotate_degrees = 10, .flip = true}}};
  expect_resumes_bit_identical(config, 6, {3, 10, 13, 19});
  EXPECT_EQ(uninterrupted_result.stop_reason, StopReason::kEarlyStopping);
  EXPECT_EQ(uninterrupted_result.epochs_completed, 4);
}

TEST_F(TrainingOptionsCheckpoint, PlateauReductionAndBestWeightsResumeBitIdentical) {
  // The plateau's counters and scale and early stopping's best weights cross every stop.
  const UpdateConfig config{
      .seed = 9,
      .threads = 2,
      .options = {
          .validation_split = 0.2,
          .early_stopping = EarlyStopping{.patience = 2},
          .reduce_on_plateau =
              PlateauReduction{
                  .patience = 1, .min_delta = 0.02, .factor = 0.5, .learning_rate_min = 1e-6},
          .weight_decay = 0.01}};
  expect_resumes_bit_identical(config, 7, {2, 5, 11, 20, 26});
}

}  // namespace
}  // namespace edgetrain
