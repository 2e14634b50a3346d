// Whole-model check against PyTorch: the LeNet, from identical formula-made weights, trained for 10
// Adam steps on the first 64 MNIST images (tools/torch_reference.py made the fixture).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "edgetrain/data.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "nn/network.h"
#include "test_paths.h"
#include "nn/loss_head.h"

namespace edgetrain {
namespace {

const char* kParameterNames[] = {"conv1.weight", "conv1.bias",     "conv2.weight", "conv2.bias",
                                 "hidden1.weight", "hidden1.bias", "hidden2.weight", "hidden2.bias"};

// The fixture's initial weights: splitmix-style hash of (tensor, element), scaled in double.
void fill_reference_weights(Model& model) {
  const double fan_in[] = {9, 128, 1152, 500};
  int tensor = 0, dense_index = 0;
  for (Layer& layer : model.layers) {
    if (layer.parameters.empty()) continue;
    for (const LayerParameter& parameter : layer.parameters) {
      const bool is_bias = parameter.name == "bias";
      const double limit = is_bias ? 0.1 : std::sqrt(6.0 / fan_in[dense_index]);
      float* values = model.data(parameter);
      for (size_t i = 0; i < parameter.slice.size; ++i) {
        uint64_t z = uint64_t(tensor + 1) * 0x9E3779B97F4A7C15ull +
                     uint64_t(i + 1) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        const double u = double(z >> 40) / 16777216.0;
        values[i] = float((2.0 * u - 1.0) * limit);
      }
      ++tensor;
    }
    ++dense_index;
  }
}

// Tensor p of the fixture: the weight (even p) or bias (odd p) of the (p/2)-th layer with weights.
const ParameterSlice& slice_of(const Model& model, int tensor) {
  int seen = 0;
  for (const Layer& layer : model.layers) {
    if (layer.parameters.empty()) continue;
    if (seen++ == tensor / 2) return layer.parameters[size_t(tensor % 2)].slice;
  }
  throw std::out_of_range("no such tensor");
}

class TorchReference : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream file(test_paths::source("tests/fixtures/lenet_torch_reference.json"));
    ASSERT_TRUE(file) << "missing fixture";
    fixture = nlohmann::json::parse(file);
    data = read_idx(test_paths::mnist("train-images-idx3-ubyte.gz"),
                    test_paths::mnist("train-labels-idx1-ubyte.gz"));
    data.truncate(64);
    model = lenet({.learning_rate = 1e-3, .batch_size = 32, .epochs = 5});
    fill_reference_weights(model);
  }
  nlohmann::json fixture;
  Dataset data;
  Model model;
};

TEST_F(TorchReference, InitialWeightsMatchBitForBit) {
  for (int tensor = 0; tensor < 8; ++tensor) {
    const auto& expected = fixture["initial_parameter_check"][kParameterNames[tensor]];
    const float* values = model.data(slice_of(model, tensor));
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(values[i], float(expected[i].get<double>())) << kParameterNames[tensor] << "[" << i << "]";
    }
  }
}

TEST_F(TorchReference, InitialProbabilitiesAndGradientsAgree) {
  const Network network(model, {.train = true});
  const LossHead head(model, network);
  Workspace ws = network.make_workspace(32);
  LossHead::Scratch scratch = head.make_scratch(32);
  std::vector<size_t> indices(32);
  for (size_t i = 0; i < 32; ++i) indices[i] = i;
  head.load_batch(ws, scratch, data, indices.data(), 32);
  network.forward(ws, model, 32);
  const float* probabilities = ws.value(head.loss_blob());
  for (int n = 0; n < 2; ++n) {
    for (int c = 0; c < 10; ++c) {
      EXPECT_NEAR(probabilities[n * 10 + c], fixture["initial_probabilities"][n][c].get<double>(), 1e-6);
    }
  }
  std::vector<float> gradients(model.parameters.size(), 0.0f);
  network.zero_grads(ws, 32);
  LossHead::Outcome outcome = head.loss_and_seed(ws, scratch, 32, 32);
  network.backward(ws, model, gradients.data(), 32);
  EXPECT_NEAR(outcome.loss, fixture["losses"][0].get<double>(), 1e-5);
  for (int tensor = 0; tensor < 8; ++tensor) {
    const auto& expected = fixture["initial_gradient_sums"][kParameterNames[tensor]];
    const ParameterSlice& slice = slice_of(model, tensor);
    double sum = 0, abs_sum = 0;
    for (size_t i = 0; i < slice.size; ++i) {
      sum += gradients[slice.offset + i];
      abs_sum += std::fabs(gradients[slice.offset + i]);
    }
    const double expected_abs = expected["abs_sum"].get<double>();
    EXPECT_NEAR(abs_sum, expected_abs, 1e-4 * expected_abs) << kParameterNames[tensor];
    EXPECT_NEAR(sum, expected["sum"].get<double>(), 1e-4 * expected_abs) << kParameterNames[tensor];
    for (size_t i = 0; i < 4; ++i) {
      const double want = expected["first"][i].get<double>();
      EXPECT_NEAR(gradients[slice.offset + i], want, 1e-4 * std::fabs(want) + 1e-7)
          << kParameterNames[tensor] << "[" << i << "]";
    }
  }
}

void expect_trajectory_matches(Model& model, const Dataset& data, const nlohmann::json& fixture,
                               int threads) {
  UpdateTask task(model, data, {.shuffle = false, .threads = threads});
  std::vector<double> losses;
  task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& end) { losses.push_back(end.loss); };
  task.run();
  ASSERT_EQ(losses.size(), 10u);
  double worst = 0;
  for (size_t s = 0; s < 10; ++s) {
    const double want = fixture["losses"][s].get<double>();
    const double relative = std::fabs(losses[s] - want) / std::fabs(want);
    worst = std::max(worst, relative);
    EXPECT_LT(relative, 1e-4) << "step " << s << ": edgetrain " << losses[s] << ", PyTorch " << want;
  }
  std::printf("max relative loss difference over 10 steps (%d threads): %.2e\n", threads, worst);
  for (int tensor = 0; tensor < 8; ++tensor) {
    const auto& expected = fixture["final_parameter_sums"][kParameterNames[tensor]];
    const ParameterSlice& slice = slice_of(model, tensor);
    const float* values = model.data(slice);
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_NEAR(values[i], expected["first"][i].get<double>(), 1e-4) << kParameterNames[tensor];
    }
  }
}

TEST_F(TorchReference, TenAdamStepsGiveTheSameLosses) { expect_trajectory_matches(model, data, fixture, 1); }

TEST_F(TorchReference, TenAdamStepsOnTwoThreadsGiveTheSameLosses) {
  expect_trajectory_matches(model, data, fixture, 2);
}

}  // namespace
}  // namespace edgetrain
