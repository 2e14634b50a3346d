// The update task: determinism, events, cancellation, overrides, and that it actually learns.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

const Dataset& mnist_train() {
  static const Dataset data = read_idx(test_paths::mnist("train-images-idx3-ubyte.gz"),
                                       test_paths::mnist("train-labels-idx1-ubyte.gz"));
  return data;
}

Dataset first(size_t n) {
  Dataset data = mnist_train();
  data.truncate(n);
  return data;
}

std::string error_of(Model& model, const BatchProvider& data, UpdateConfig config) {
  try {
    UpdateTask(model, data, config).run();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(UpdateTask, SameSeedAndThreadsGiveBitIdenticalWeights) {
  const Dataset data = first(600);
  for (int threads : {1, 2}) {
    Model a = lenet({.batch_size = 64, .epochs = 2}), b = lenet({.batch_size = 64, .epochs = 2});
    UpdateTask(a, data, {.seed = 9, .threads = threads}).run();
    UpdateTask(b, data, {.seed = 9, .threads = threads}).run();
    EXPECT_EQ(a.parameters, b.parameters) << threads << " threads";
    Model c = lenet({.batch_size = 64, .epochs = 2});
    UpdateTask(c, data, {.seed = 10, .threads = threads}).run();
    EXPECT_NE(a.parameters, c.parameters) << "the shuffling seed must matter";
  }
}

// One-sample mini-batches on two threads: thread 0 has no samples, yet it must meet thread 1 where
// LeNet's hidden1 sums its weight gradient over the threads. Every sum then adds zero to one
// sample's values, so the weights must be those of one thread, bit for bit.
TEST(UpdateTask, AThreadWithoutSamplesTrainsAsOneThread) {
  const Dataset data = first(3);
  Model one = lenet({.batch_size = 1, .epochs = 2}), two = one;
  UpdateTask(one, data, {.seed = 4, .threads = 1}).run();
  UpdateTask(two, data, {.seed = 4, .threads = 2}).run();
  EXPECT_EQ(one.parameters, two.parameters);
  EXPECT_NE(one.parameters, lenet({.batch_size = 1, .epochs = 2}).parameters);
}

// A data set with one sample that cannot be read when training asks for it, as a streamed image
// folder's broken file.
class UnreadableSample : public BatchProvider {
 public:
  UnreadableSample(const Dataset& data, size_t unreadable) : data_(data), unreadable_(unreadable) {}
  size_t count() const override { return data_.count(); }
  size_t feature_size() const override { return data_.feature_size(); }
  void copy_features(size_t index, float* dst) const override {
    if (index == unreadable_) throw Error("sample " + std::to_string(index) + " cannot be read");
    data_.copy_features(index, dst);
  }
  int32_t label(size_t index) const override { return data_.label(index); }

 private:
  const Dataset& data_;
  size_t unreadable_;
};

// The thread that meets the error stops; the other must not wait for it where LeNet's hidden1 sums
// its weight gradient over the threads (a hang), and the error ends the run with the weights of the
// last whole step. Sample 3 is thread 0's in the first step, 100 thread 1's; 200 is thread 1's in
// the second.
TEST(UpdateTask, ASampleThatCannotBeReadEndsTheRunWithItsError) {
  const Dataset data = first(256);
  Model one_step = lenet({.batch_size = 128, .epochs = 1});
  UnreadableSample second_batch(data, 200);
  {
    UpdateTask task(one_step, second_batch, {.shuffle = false, .threads = 2});
    task.handlers.batch_end = [](UpdateTask& t, const BatchEnd&) { t.cancel(); };
    task.run();
  }
  for (size_t unreadable : {size_t(3), size_t(100), size_t(200)}) {
    Model model = lenet({.batch_size = 128, .epochs = 1});
    const Model before = model;
    const UnreadableSample samples(data, unreadable);
    EXPECT_EQ(error_of(model, samples, {.shuffle = false, .threads = 2}),
              "sample " + std::to_string(unreadable) + " cannot be read");
    EXPECT_EQ(model.parameters, unreadable < 128 ? before.parameters : one_step.parameters);
  }
}

// Each mini-batch reports its own accuracy; weighted by batch size they make the epoch's.
TEST(UpdateTask, BatchAccuraciesMakeTheEpochAccuracy) {
  const Dataset data = first(300);
  Model model = lenet({.batch_size = 128, .epochs = 2});
  UpdateTask task(model, data, {.threads = 2});
  double weighted = 0;
  std::vector<double> batch_accuracies, epoch_accuracies, epoch_sums;
  task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& end) {
    const size_t first_sample = size_t(end.batch) * 128;
    const double size = double(std::min<size_t>(128, 300 - first_sample));
    ASSERT_TRUE(end.accuracy.has_value()) << "a cross-entropy model reports accuracy";
    batch_accuracies.push_back(*end.accuracy);
    weighted += *end.accuracy * size;
    EXPECT_DOUBLE_EQ(*end.accuracy * size, std::round(*end.accuracy * size)) << "a whole count";
  };
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& end) {
    ASSERT_TRUE(end.accuracy.has_value());
    epoch_accuracies.push_back(*end.accuracy);
    epoch_sums.push_back(weighted / 300.0);
    weighted = 0;
  };
  task.run();
  ASSERT_EQ(batch_accuracies.size(), 6u);
  ASSERT_EQ(epoch_accuracies.size(), 2u);
  for (size_t e = 0; e < 2; ++e) EXPECT_NEAR(epoch_accuracies[e], epoch_sums[e], 1e-12);
  EXPECT_GT(*std::max_element(batch_accuracies.begin(), batch_accuracies.end()), 0.0);
}

TEST(UpdateTask, EventsArriveInOrderWithSensibleValues) {
  const Dataset data = first(300);
  Model model = lenet({.batch_size = 128, .epochs = 2});
  UpdateTask task(model, data, {.threads = 2});
  std::vector<std::string> events;
  int64_t batches_per_epoch = 0;
  task.handlers.training_began = [&](UpdateTask&, const TrainingBegan& began) {
    events.push_back("began");
    batches_per_epoch = began.batches_per_epoch;
    EXPECT_EQ(began.samples, 300u);
    EXPECT_EQ(began.settings.batch_size, 128);
  };
  task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& end) {
    events.push_back("batch " + std::to_string(end.epoch) + "." + std::to_string(end.batch));
    EXPECT_GT(end.loss, 0);
  };
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& end) {
    events.push_back("epoch " + std::to_string(end.epoch));
    EXPECT_GE(end.accuracy.value_or(-1), 0);
    EXPECT_LE(end.accuracy.value_or(2), 1);
  };
  task.handlers.completed = [&](UpdateTask&, const TrainingResult& result) {
    events.push_back("completed");
    EXPECT_EQ(result.samples_seen, 600u);
  };
  const TrainingResult result = task.run();
  EXPECT_EQ(batches_per_epoch, 3);  // 128 + 128 + 44
  const std::vector<std::string> expected = {"began",   "batch 0.0", "batch 0.1", "batch 0.2",
                                             "epoch 0", "batch 1.0", "batch 1.1", "batch 1.2",
                                             "epoch 1", "completed"};
  EXPECT_EQ(events, expected);
  EXPECT_EQ(result.epochs_completed, 2);
  EXPECT_FALSE(result.cancelled);
}

TEST(UpdateTask, CancellingFromAHandlerStopsAfterThatBatch) {
  const Dataset data = first(640);
  Model model = lenet({.batch_size = 64, .epochs = 3});
  const std::vector<float> before = model.parameters;
  UpdateTask task(model, data, {.threads = 1});
  int batches = 0, epochs = 0;
  task.handlers.batch_end = [&](UpdateTask& t, const BatchEnd& end) {
    ++batches;
    if (end.epoch == 1 && end.batch == 2) t.cancel();
  };
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd&) { ++epochs; };
  const TrainingResult result = task.run();
  EXPECT_TRUE(result.cancelled);
  EXPECT_EQ(batches, 13);  // 10 in epoch 0, 3 in epoch 1
  EXPECT_EQ(epochs, 1);
  EXPECT_EQ(result.epochs_completed, 1);
  EXPECT_NE(model.parameters, before);
}

// Issue #15: a run cancelled in its first epoch used to report a final loss of 0, which reads as
// perfect. It reports the mean over the batches it trained.
TEST(UpdateTask, CancelledInTheFirstEpochReportsTheBatchesItTrained) {
  const Dataset data = first(640);
  Model model = lenet({.batch_size = 64, .epochs = 3});
  UpdateTask task(model, data, {.threads = 1});
  double loss_sum = 0;
  int batches = 0;
  task.handlers.batch_end = [&](UpdateTask& t, const BatchEnd& end) {
    loss_sum += end.loss;
    ++batches;
    if (end.batch == 2) t.cancel();
  };
  const TrainingResult result = task.run();
  EXPECT_TRUE(result.cancelled);
  EXPECT_EQ(result.epochs_completed, 0);
  ASSERT_EQ(batches, 3);
  EXPECT_GT(result.final_loss, 1.0);  // an untrained LeNet's cross-entropy is about ln 10
  EXPECT_NEAR(result.final_loss, loss_sum / 3, 1e-5);  // equal batches: the mean of their means
  ASSERT_TRUE(result.final_accuracy.has_value());
  EXPECT_GE(*result.final_accuracy, 0.0);
  EXPECT_LE(*result.final_accuracy, 1.0);

  // Cancelled before its first batch: nothing trained, nothing to report.
  Model untouched = lenet({.batch_size = 64, .epochs = 3});
  UpdateTask idle(untouched, data, {.threads = 1});
  idle.handlers.training_began = [](UpdateTask& t, const TrainingBegan&) { t.cancel(); };
  const TrainingResult none = idle.run();
  EXPECT_TRUE(std::isnan(none.final_loss));
  EXPECT_FALSE(none.final_accuracy.has_value());
}

TEST(UpdateTask, OverridesAreCheckedAgainstWhatTheModelAllows) {
  const Dataset data = first(100);
  Model model = lenet();  // batch sizes {128}, epochs {10}, learning rate [0, 0.3]
  EXPECT_NE(error_of(model, data, {.batch_size = 64}).find("mini-batch size 64 is not allowed"),
            std::string::npos);
  EXPECT_NE(error_of(model, data, {.epochs = 3}).find("epochs 3 is not allowed"),
            std::string::npos);
  EXPECT_NE(error_of(model, data, {.learning_rate = 0.5}).find("learning rate 0.5 is outside"),
            std::string::npos);
  EXPECT_NE(error_of(model, data, {.momentum = 0.9}).find("momentum applies to SGD"),
            std::string::npos);
  EXPECT_NE(error_of(model, data, {.beta1 = 1.5}).find("beta1 1.5 is outside"), std::string::npos);
  // Allowed overrides are taken.
  ResolvedUpdate r =
      resolve_update(model, {.learning_rate = 0.01, .shuffle = false, .seed = 5, .threads = 3});
  EXPECT_DOUBLE_EQ(r.learning_rate, 0.01);
  EXPECT_FALSE(r.shuffle);
  EXPECT_EQ(r.seed, 5u);
  EXPECT_EQ(r.threads, std::min(3, int(std::max(1u, std::thread::hardware_concurrency()))));
  EXPECT_EQ(r.requested_threads, 3);
  EXPECT_EQ(r.batch_size, 128);
}

TEST(UpdateTask, BadDataIsReportedNotCrashedOn) {
  // A label the data allows (13 classes) but the model's 10 outputs do not.
  std::vector<int32_t> labels = first(10).labels();
  labels[3] = 12;
  const Dataset data = Dataset::with_pixel_bytes(first(10).pixel_bytes(), labels,
                                                 {.channels = 1, .height = 28, .width = 28}, 13);
  Model model = lenet();
  EXPECT_NE(error_of(model, data, {}).find("sample 3 has label 12"), std::string::npos);
  Dataset empty = first(0);
  EXPECT_NE(error_of(model, empty, {}).find("no samples"), std::string::npos);
  // The same bytes as 40 images of 14x14.
  const Dataset wrong_size =
      Dataset::with_pixel_bytes(first(10).pixel_bytes(), std::vector<int32_t>(40, 0),
                                {.channels = 1, .height = 14, .width = 14}, 10);
  EXPECT_NE(error_of(model, wrong_size, {}).find("196 values per sample"), std::string::npos);
}

TEST(UpdateTask, LenetLearnsMnistFromTwoThousandImages) {
  const Dataset data = first(2000);
  Model model = lenet({.batch_size = 32, .epochs = 2});
  std::vector<double> epoch_losses;
  UpdateTask task(model, data, {});
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& e) {
    epoch_losses.push_back(e.mean_loss);
  };
  task.run();
  ASSERT_EQ(epoch_losses.size(), 2u);
  EXPECT_LT(epoch_losses[1], epoch_losses[0]);
  Dataset test = read_idx(test_paths::mnist("t10k-images-idx3-ubyte.gz"),
                          test_paths::mnist("t10k-labels-idx1-ubyte.gz"));
  test.truncate(1000);
  const Evaluation result = evaluate(model, test);
  EXPECT_GT(result.accuracy, 0.85) << "loss " << result.loss;
  int64_t total = 0;
  for (const auto& row : result.confusion) {
    for (int64_t count : row) total += count;
  }
  EXPECT_EQ(total, 1000);
}

TEST(UpdateTask, SgdWithMomentumAndMeanSquaredErrorTrainToo) {
  const Dataset data = first(1000);
  Model model = ModelBuilder()
                    .input("image", {1, 28, 28})
                    .output("scores", {10})
                    .training_input("image", {1, 28, 28})
                    .training_input("target", {10})
                    .loss(MeanSquaredError{.name = "mse", .input = "scores", .target = "target"})
                    .optimizer(Sgd{.learning_rate = {2.0, {{0.0, 5.0}}},
                                   .mini_batch_size = {50, {{1, 100}}},
                                   .momentum = {0.9, {{0.0, 1.0}}}})
                    .epochs({3, {{1, 10}}})
                    .layers({
                        {"flatten", "image", "flat", Flatten{}},
                        {"hidden", "flat", "h",
                         InnerProduct{.input_channels = 784, .output_channels = 64}, kUpdatable},
                        {"tanh", "h", "t", Tanh()},
                        {"out", "t", "o", InnerProduct{.input_channels = 64, .output_channels = 10},
                         kUpdatable},
                        {"sigmoid", "o", "scores", Sigmoid()},
                    })
                    .build();
  std::vector<double> losses;
  UpdateTask task(model, data, {});
  task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& e) {
    EXPECT_FALSE(e.accuracy.has_value()) << "a mean-squared-error model has no accuracy";
  };
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& e) {
    EXPECT_FALSE(e.accuracy.has_value());
    losses.push_back(e.mean_loss);
  };
  const TrainingResult result = task.run();
  EXPECT_FALSE(result.final_accuracy.has_value());
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_LT(losses[2], 0.6 * losses[0]);
  // The scores' arg-max still classifies: most of the training digits come out right.
  Predictor predictor(model);
  int correct = 0;
  for (size_t i = 0; i < 200; ++i) {
    const std::vector<float> scores = predictor.predict(data.image(i)).outputs.at(0).values;
    const auto best = std::max_element(scores.begin(), scores.end()) - scores.begin();
    correct += best == data.labels()[i];
  }
  EXPECT_GT(correct, 160) << "of 200";
}

TEST(UpdateTask, FrozenLayersKeepTheirWeights) {
  const Dataset data = first(256);
  Model model = lenet({.batch_size = 64, .epochs = 1});
  for (Layer& layer : model.layers) {
    if (layer.name == "conv1" || layer.name == "hidden1") layer.updatable = false;
  }
  const Model before = model;
  UpdateTask(model, data, {}).run();
  for (const char* frozen : {"conv1", "hidden1"}) {
    const LayerParameter& weights = model.layer(frozen).parameters[0];
    EXPECT_TRUE(std::equal(model.data(weights), model.data(weights) + weights.slice.size,
                           before.data(weights)))
        << frozen;
  }
  const LayerParameter& trained = model.layer("conv2").parameters[0];
  EXPECT_FALSE(std::equal(model.data(trained), model.data(trained) + trained.slice.size,
                          before.data(trained)));
}

}  // namespace
}  // namespace edgetrain
