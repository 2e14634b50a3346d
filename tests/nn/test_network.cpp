// The compiled network: gradients through a whole graph against finite differences, and the
// accumulation rule (two half-batches add up to one batch).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "edgetrain/model.h"
#include "nn/network.h"
#include "tensor/rng.h"
#include "train/loss_head.h"

namespace edgetrain {
namespace {

// Every layer kind but the kinked ones (ReLU, max-pool: covered op by op in tests/ops).
Model smooth_model() {
  return ModelBuilder()
      .input("image", {2, 7, 6})
      .output("probabilities", {4})
      .training_input("image", {2, 7, 6})
      .training_input("label", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "probabilities", .target = "label"})
      .layers({
          Convolution{.name = "conv", .input = "image", .output = "c", .output_channels = 4,
                      .kernel_channels = 1, .groups = 2, .kernel_size = {3, 2}, .stride = {2, 1},
                      .padding = Padding::kSame, .updatable = true},
          Tanh{.name = "tanh", .input = "c", .output = "t"},
          Pooling{.name = "avg", .input = "t", .output = "a", .type = PoolingType::kAverage,
                  .kernel_size = {2, 2}, .stride = {1, 1}, .padding = Padding::kSame},
          Linear{.name = "scale", .input = "a", .output = "l", .alpha = 1.5f, .beta = 0.1f},
          Flatten{.name = "flatten", .input = "l", .output = "f", .order = FlattenOrder::kChannelLast},
          InnerProduct{.name = "dense", .input = "f", .output = "d", .input_channels = 96,
                       .output_channels = 5, .updatable = true},
          Sigmoid{.name = "sigmoid", .input = "d", .output = "s"},
          InnerProduct{.name = "out", .input = "s", .output = "o", .input_channels = 5,
                       .output_channels = 4, .updatable = true},
          Softmax{.name = "softmax", .input = "o", .output = "probabilities"},
      })
      .initializer(Initializer::kGlorotUniform, 3)
      .build();
}

Dataset random_data(int n, uint64_t seed) {
  Dataset data;
  data.channels = 2;
  data.height = 7;
  data.width = 6;
  data.num_classes = 4;
  Rng rng(seed);
  data.pixels.resize(size_t(n) * 84);
  for (float& p : data.pixels) p = rng.uniform();
  for (int i = 0; i < n; ++i) data.labels.push_back(int32_t(rng.below(4)));
  return data;
}

// Loss over samples [first, first + n), with gradients added into `gradients` when given.
double run(const Model& model, const Dataset& data, int first, int n, int scale,
           std::vector<float>* gradients) {
  const Network network(model);
  const LossHead head(model, network);
  Workspace ws = network.make_workspace(n);
  LossHead::Scratch scratch = head.make_scratch(n);
  std::vector<size_t> indices(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), size_t(first));
  head.load_batch(ws, scratch, data, indices.data(), n);
  network.forward(ws, model, n);
  if (!gradients) return head.score(ws, scratch, n, scale).loss;
  network.zero_grads(ws, n);
  const double loss = head.loss_and_seed(ws, scratch, n, scale).loss;
  network.backward(ws, model, gradients->data(), n, head.backward_end());
  return loss;
}

TEST(Network, WholeGraphGradientsMatchFiniteDifferences) {
  Model model = smooth_model();
  const Dataset data = random_data(3, 11);
  std::vector<float> analytic(model.parameters.size(), 0.0f);
  run(model, data, 0, 3, 3, &analytic);
  const float step = 1e-2f;
  double worst = 0;
  for (size_t i = 0; i < model.parameters.size(); ++i) {
    const float saved = model.parameters[i];
    model.parameters[i] = saved + step;
    const double plus = run(model, data, 0, 3, 3, nullptr);
    model.parameters[i] = saved - step;
    const double minus = run(model, data, 0, 3, 3, nullptr);
    model.parameters[i] = saved;
    const double numeric = (plus - minus) / (2.0 * step);
    const double error = std::fabs(numeric - analytic[i]) / (1e-3 + std::fabs(numeric));
    worst = std::max(worst, error);
    EXPECT_LT(error, 2e-2) << "parameter " << i << ": analytic " << analytic[i] << ", numeric "
                           << numeric;
  }
  std::printf("worst relative gradient error over %zu parameters: %.2e\n",
              model.parameters.size(), worst);
}

TEST(Network, TwoHalfBatchesAccumulateToOneBatch) {
  Model model = smooth_model();
  const Dataset data = random_data(8, 5);
  std::vector<float> whole(model.parameters.size(), 0.0f), halves(model.parameters.size(), 0.0f);
  const double loss = run(model, data, 0, 8, 8, &whole);
  const double first = run(model, data, 0, 4, 8, &halves);
  const double second = run(model, data, 4, 4, 8, &halves);
  EXPECT_NEAR(loss, first + second, 1e-6);
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_NEAR(whole[i], halves[i], 1e-6 + 1e-5 * std::fabs(whole[i])) << "parameter " << i;
  }
}

TEST(Network, OnlyUpdatableLayersGetGradients) {
  Model model = smooth_model();
  for (Layer& layer : model.layers) {
    if (layer.name == "conv") layer.updatable = false;
  }
  const Dataset data = random_data(2, 8);
  std::vector<float> gradients(model.parameters.size(), 0.0f);
  run(model, data, 0, 2, 2, &gradients);
  const Layer& conv = model.layer("conv");
  for (size_t i = 0; i < conv.weight.size + conv.bias.size; ++i) {
    EXPECT_EQ(gradients[conv.weight.offset + i], 0.0f);
  }
  const Layer& dense = model.layer("dense");
  double magnitude = 0;
  for (size_t i = 0; i < dense.weight.size; ++i) magnitude += std::fabs(gradients[dense.weight.offset + i]);
  EXPECT_GT(magnitude, 0.0);
}

}  // namespace
}  // namespace edgetrain
