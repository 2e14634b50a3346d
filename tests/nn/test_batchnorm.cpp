// Batch normalisation beyond the per-kind fixtures (tests/nn/test_layers.cpp): batch statistics
// over a mini-batch split across threads, the running statistics training updates, and training a
// model with batchnorm through the update task (bit-identical for a seed and thread count).
#include <gtest/gtest.h>

#include <cmath>

#include "base/rng.h"
#include "edgetrain/data.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "nn/kind_test_helpers.h"
#include "nn/layer_kind.h"
#include "nn/split_batch.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

constexpr int kChannels = 3, kHeight = 2, kWidth = 3;
constexpr size_t kSampleSize = size_t(kChannels) * kHeight * kWidth;

// One batchnorm layer on (3, 2, 3), with gamma, beta and running statistics away from neutral.
Model batchnorm_model(bool updatable) {
  Model model = ModelBuilder()
                    .input("x", {kChannels, kHeight, kWidth})
                    .output("y", {kChannels, kHeight, kWidth})
                    .add({"bn", "x", "y", Batchnorm{}, updatable})
                    .build();
  Rng rng(3);
  for (float& value : model.parameters) value = float(0.5 + rng.uniform());
  return model;
}

std::vector<float> random_values(size_t count, uint64_t seed, double offset = 0.0) {
  Rng rng(seed);
  std::vector<float> values(count);
  for (float& v : values) v = float(offset + 4.0 * rng.uniform() - 2.0);
  return values;
}

// Forward then backward in training mode of one op over `input` (samples × kSampleSize), the
// batch split into consecutive parts of the given sizes, one thread per part, as the trainer
// splits a mini-batch. Thread 0 updates the running statistics in `state` when given.
struct SplitRun {
  std::vector<float> out, din, dparameters;
};

SplitRun run_split(const Model& model, const std::vector<float>& input,
                   const std::vector<float>& dout, const std::vector<int>& parts, float* state) {
  const Layer& layer = model.layers[0];
  const Shape shape{kChannels, kHeight, kWidth};
  const std::unique_ptr<Op> op = layer_kind(layer).compile({model, layer, {shape}, {shape}, true});
  const int threads = int(parts.size());
  SplitRun run{std::vector<float>(input.size()), std::vector<float>(input.size()),
               std::vector<float>(model.parameters.size())};
  std::vector<std::vector<float>> dparameters(size_t(threads),
                                              std::vector<float>(model.parameters.size()));
  BatchSync sync(threads);
  auto part = [&](int t, int first) {
    std::vector<float> scratch(op->scratch_floats());
    std::vector<uint8_t> saved(op->saved_bytes_per_sample() *
                               size_t(std::max(parts[size_t(t)], 1)));
    const size_t at = size_t(first) * kSampleSize;
    OpArgs a;
    a.n = parts[size_t(t)];
    a.mode = Mode::kTraining;
    a.in = {input.data() + at};
    a.out = {run.out.data() + at};
    a.din = {run.din.data() + at};
    a.dout = {const_cast<float*>(dout.data()) + at};
    a.parameters = model.parameters.data();
    a.dparameters = dparameters[size_t(t)].data();
    a.state = t == 0 ? state : nullptr;
    a.scratch = scratch.data();
    a.saved = saved.data();
    a.sync = threads > 1 ? &sync : nullptr;
    a.thread = t;
    op->forward(a);
    op->backward(a);
  };
  run_parts_on_threads(parts, part);
  for (const auto& block : dparameters) {
    for (size_t i = 0; i < block.size(); ++i) run.dparameters[i] += block[i];
  }
  return run;
}

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
  return worst;
}

TEST(Batchnorm, ThreadsSplittingABatchShareItsStatistics) {
  const Model model = batchnorm_model(kUpdatable);
  const int samples = 6;
  const std::vector<float> input = random_values(samples * kSampleSize, 11, 0.7);
  const std::vector<float> dout = random_values(samples * kSampleSize, 12);
  const SplitRun whole = run_split(model, input, dout, {samples}, nullptr);
  // Statistics of the whole batch: every channel of the output has mean beta and standard
  // deviation |gamma| (up to ε).
  const float* gamma = model.data(*model.layers[0].parameter("gamma"));
  const float* beta = model.data(*model.layers[0].parameter("beta"));
  for (int c = 0; c < kChannels; ++c) {
    double sum = 0, squares = 0;
    for (int s = 0; s < samples; ++s) {
      for (int p = 0; p < kHeight * kWidth; ++p) {
        const double y =
            whole.out[size_t(s) * kSampleSize + size_t(c) * kHeight * kWidth + size_t(p)];
        sum += y;
        squares += y * y;
      }
    }
    const double count = samples * kHeight * kWidth, mean = sum / count;
    EXPECT_NEAR(mean, beta[c], 1e-5);
    EXPECT_NEAR(std::sqrt(squares / count - mean * mean), gamma[c], 1e-4);
  }
  for (const std::vector<int>& parts : {std::vector<int>{3, 3}, {5, 1}, {6, 0}, {2, 2, 2}}) {
    SCOPED_TRACE(::testing::PrintToString(parts));
    const SplitRun split = run_split(model, input, dout, parts, nullptr);
    EXPECT_LT(max_difference(split.out, whole.out), 1e-5);
    EXPECT_LT(max_difference(split.din, whole.din), 1e-5);
    EXPECT_LT(max_difference(split.dparameters, whole.dparameters), 1e-4);
    const SplitRun again = run_split(model, input, dout, parts, nullptr);
    EXPECT_EQ(again.out, split.out) << "the same split must give the same bits";
    EXPECT_EQ(again.din, split.din);
    EXPECT_EQ(again.dparameters, split.dparameters);
  }
}

TEST(Batchnorm, TrainingUpdatesRunningStatisticsAsPyTorchDoes) {
  const Model model = batchnorm_model(kUpdatable);
  const int samples = 4;
  const std::vector<float> input = random_values(samples * kSampleSize, 21, -0.4);
  const std::vector<float> dout(input.size(), 0.0f);
  std::vector<float> state = model.parameters;
  run_split(model, input, dout, {2, 2}, state.data());
  const Layer& layer = model.layers[0];
  const LayerParameter& mean = *layer.parameter("mean");
  const LayerParameter& variance = *layer.parameter("variance");
  const double count = samples * kHeight * kWidth;
  for (int c = 0; c < kChannels; ++c) {
    double sum = 0, squares = 0;
    for (int s = 0; s < samples; ++s) {
      for (int p = 0; p < kHeight * kWidth; ++p) {
        const double x = input[size_t(s) * kSampleSize + size_t(c) * kHeight * kWidth + size_t(p)];
        sum += x;
        squares += x * x;
      }
    }
    const double batch_mean = sum / count;
    const double unbiased = (squares - count * batch_mean * batch_mean) / (count - 1);
    EXPECT_NEAR(state[mean.slice.offset + size_t(c)],
                0.9 * model.parameters[mean.slice.offset + size_t(c)] + 0.1 * batch_mean, 1e-6);
    EXPECT_NEAR(state[variance.slice.offset + size_t(c)],
                0.9 * model.parameters[variance.slice.offset + size_t(c)] + 0.1 * unbiased, 1e-6);
  }
  // Only the running statistics move; gamma and beta are the optimizer's.
  for (const char* name : {"gamma", "beta"}) {
    const LayerParameter& p = *layer.parameter(name);
    for (size_t i = 0; i < p.slice.size; ++i) {
      EXPECT_EQ(state[p.slice.offset + i], model.parameters[p.slice.offset + i]) << name;
    }
  }
}

TEST(Batchnorm, AFrozenLayerTrainsOnRunningStatisticsAndLeavesThem) {
  const Model model = batchnorm_model(false);
  const std::vector<float> input = random_values(4 * kSampleSize, 31);
  const std::vector<float> dout = random_values(4 * kSampleSize, 32);
  std::vector<float> state = model.parameters;
  const SplitRun run = run_split(model, input, dout, {2, 2}, state.data());
  EXPECT_EQ(state, model.parameters);
  const Layer& layer = model.layers[0];
  const float* gamma = model.data(*layer.parameter("gamma"));
  const float* beta = model.data(*layer.parameter("beta"));
  const float* mean = model.data(*layer.parameter("mean"));
  const float* variance = model.data(*layer.parameter("variance"));
  for (size_t i = 0; i < input.size(); ++i) {
    const size_t c = (i % kSampleSize) / (kHeight * kWidth);
    const double scale = gamma[c] / std::sqrt(double(variance[c]) + 1e-5);
    EXPECT_NEAR(run.out[i], (input[i] - mean[c]) * scale + beta[c], 1e-5);
    EXPECT_NEAR(run.din[i], dout[i] * scale, 1e-5) << "still back-propagates to its input";
  }
}

// ---- Through the update task ----------------------------------------------------------------

Dataset mnist_sample(size_t n) {
  Dataset data = read_idx(test_paths::mnist("train-images-idx3-ubyte.gz"),
                          test_paths::mnist("train-labels-idx1-ubyte.gz"));
  data.truncate(n);
  return data;
}

Model batchnorm_network(bool batchnorm_updatable) {
  return ModelBuilder()
      .input("image", {1, 28, 28})
      .output("output", {10})
      .training_input("image", {1, 28, 28})
      .training_input("output_true", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "output", .target = "output_true"})
      .optimizer(Adam{})
      .layers({
          {"conv", "image", "conv_out", Convolution{.output_channels = 4}, kUpdatable},
          {"bn", "conv_out", "bn_out", Batchnorm{}, batchnorm_updatable},
          {"relu", "bn_out", "relu_out", ReLU()},
          {"pool", "relu_out", "pool_out", Pooling{}},
          {"flatten", "pool_out", "flat", Flatten{}},
          {"dense", "flat", "logits", InnerProduct{.output_channels = 10}, kUpdatable},
          {"softmax", "logits", "output", Softmax{}},
      })
      .initializer(Initializer::kHeUniform, 5)
      .build();
}

TEST(Batchnorm, UpdateTaskUsesTheWholeMiniBatchsStatistics) {
  // One mini-batch, one step: the running statistics come from the first forward alone, which
  // must see all 96 samples whether one thread or two run it.
  const Dataset data = mnist_sample(96);
  std::vector<std::vector<float>> means, variances;
  std::vector<double> losses;
  for (int threads : {1, 2}) {
    Model model = batchnorm_network(kUpdatable);
    UpdateTask task(model, data, {.epochs = 1, .batch_size = 96, .seed = 3, .threads = threads});
    task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& end) { losses.push_back(end.loss); };
    task.run();
    means.push_back(parameter_values(model, "bn", "mean"));
    variances.push_back(parameter_values(model, "bn", "variance"));
  }
  const Model untrained = batchnorm_network(kUpdatable);
  EXPECT_NE(means[0], parameter_values(untrained, "bn", "mean"))
      << "training moves the running mean";
  for (size_t c = 0; c < means[0].size(); ++c) {
    EXPECT_NEAR(means[1][c], means[0][c], 1e-6 + 1e-5 * std::fabs(means[0][c]));
    EXPECT_NEAR(variances[1][c], variances[0][c], 1e-6 + 1e-5 * std::fabs(variances[0][c]));
  }
  ASSERT_EQ(losses.size(), 2u);
  EXPECT_NEAR(losses[1], losses[0], 1e-5 * losses[0]);
}

TEST(Batchnorm, UpdateTaskIsBitIdenticalForASeedAndThreadCount) {
  const Dataset data = mnist_sample(200);
  Model a = batchnorm_network(kUpdatable), b = batchnorm_network(kUpdatable);
  const UpdateConfig config{.epochs = 2, .batch_size = 64, .seed = 8, .threads = 2};
  UpdateTask(a, data, config).run();
  UpdateTask(b, data, config).run();
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_NE(parameter_values(a, "bn", "gamma"),
            parameter_values(batchnorm_network(kUpdatable), "bn", "gamma"))
      << "an updatable batchnorm trains gamma";
}

TEST(Batchnorm, AFrozenBatchnormPassesGradientsAndKeepsItsStatistics) {
  const Dataset data = mnist_sample(128);
  Model model = batchnorm_network(false);
  const Model untrained = model;
  UpdateTask(model, data, {.epochs = 1, .batch_size = 64, .seed = 2, .threads = 2}).run();
  for (const char* name : {"gamma", "beta", "mean", "variance"}) {
    EXPECT_EQ(parameter_values(model, "bn", name), parameter_values(untrained, "bn", name)) << name;
  }
  EXPECT_NE(parameter_values(model, "conv", "weights"),
            parameter_values(untrained, "conv", "weights"))
      << "the convolution before it trains through it";
}

}  // namespace
}  // namespace edgetrain
