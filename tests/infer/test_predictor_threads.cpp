// A Predictor whose predictions several threads share gives exactly the single-threaded
// Predictor's outputs, bit for bit, on LeNet (split convolutions and inner product), the small
// ResNet (batch norm, residual adds, unfused convolutions: only some steps split) and a model whose
// input is checked (an embedding): a refused input is refused the same way and leaves it usable.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "edgetrain/edgetrain.h"

namespace edgetrain {
namespace {

int cores() {
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

std::vector<float> noise(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(0.0f, 1.0f);
  std::vector<float> v(size);
  for (float& x : v) x = value(rng);
  return v;
}

::testing::AssertionResult same_outputs(const Prediction& shared, const Prediction& alone) {
  if (shared.label != alone.label) {
    return ::testing::AssertionFailure() << "label " << shared.label << " against " << alone.label;
  }
  if (shared.outputs.size() != alone.outputs.size()) {
    return ::testing::AssertionFailure() << "a different number of outputs";
  }
  for (size_t o = 0; o < alone.outputs.size(); ++o) {
    const std::vector<float>& a = shared.outputs[o].values;
    const std::vector<float>& b = alone.outputs[o].values;
    if (a.size() != b.size() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) != 0) {
      return ::testing::AssertionFailure()
             << "output '" << alone.outputs[o].name << "' differs in its bits";
    }
  }
  return ::testing::AssertionSuccess();
}

void expect_same_predictions(const Model& model, int threads) {
  Predictor alone(model);
  Predictor shared(model, threads);
  EXPECT_EQ(alone.threads(), 1);
  EXPECT_EQ(shared.threads(), std::min(threads, cores()));
  for (uint32_t sample = 0; sample < 20; ++sample) {
    const std::vector<float> features = noise(alone.input_size(), sample);
    EXPECT_TRUE(same_outputs(shared.predict(features), alone.predict(features)))
        << "sample " << sample << ", " << threads << " threads";
  }
}

TEST(PredictorThreads, LenetGivesTheSingleThreadedBits) {
  for (int threads : {2, 3}) expect_same_predictions(lenet(), threads);
}

TEST(PredictorThreads, SmallResnetGivesTheSingleThreadedBits) {
  expect_same_predictions(small_resnet(), 2);
}

// An embedding (its indices checked before it runs) feeding an inner product large enough to
// split (64 -> 1100: 70,400 multiply-adds).
Model embedding_then_wide_dense() {
  return ModelBuilder()
      .input("ids", {1})
      .output("output", {1100})
      .layers({
          {"embed", "ids", "vectors", Embedding{.input_dim = 6, .output_channels = 64}},
          {"dense", "vectors", "logits", InnerProduct{.output_channels = 1100}},
          {"softmax", "logits", "output", Softmax{}},
      })
      .initializer(Initializer::kGlorotUniform, 4)
      .build();
}

TEST(PredictorThreads, ARefusedInputIsRefusedAlikeAndThePredictorGoesOn) {
  const Model model = embedding_then_wide_dense();
  Predictor alone(model);
  Predictor shared(model, 2);
  EXPECT_EQ(shared.threads(), std::min(2, cores()));
  auto message = [](Predictor& predictor, float id) {
    try {
      predictor.predict(std::vector<float>{id});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(shared, 6.0f), message(alone, 6.0f));
  EXPECT_NE(message(shared, 6.0f), "no error");
  for (float id : {0.0f, 3.0f, 5.0f}) {
    EXPECT_TRUE(same_outputs(shared.predict(std::vector<float>{id}),
                             alone.predict(std::vector<float>{id})));
  }
}

// No step worth splitting (every layer small): no helper is started.
TEST(PredictorThreads, AModelWithNothingToSplitRunsOnTheCallerAlone) {
  const Model model = ModelBuilder()
                          .input("x", {8})
                          .output("y", {4})
                          .layers({{"dense", "x", "y", InnerProduct{.output_channels = 4}}})
                          .initializer(Initializer::kGlorotUniform, 1)
                          .build();
  EXPECT_EQ(Predictor(model, 2).threads(), 1);
}

// The helpers go with the Predictor: moved, it keeps predicting; 0 threads means every core.
TEST(PredictorThreads, AMovedPredictorKeepsItsHelpers) {
  const Model model = lenet();
  Predictor alone(model);
  Predictor first(model, 0);
  EXPECT_EQ(first.threads(), cores());
  Predictor moved(std::move(first));
  EXPECT_EQ(moved.threads(), cores());
  const std::vector<float> features = noise(alone.input_size(), 99);
  EXPECT_TRUE(same_outputs(moved.predict(features), alone.predict(features)));
  Predictor assigned(model);
  assigned = std::move(moved);
  EXPECT_TRUE(same_outputs(assigned.predict(features), alone.predict(features)));
}

}  // namespace
}  // namespace edgetrain
