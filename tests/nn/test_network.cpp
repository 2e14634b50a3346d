// The compiled network: gradients through a whole graph against finite differences, the
// accumulation rule (two half-batches add up to one batch), the fused conv + ReLU + max-pool
// against the unfused layers in LeNet, and graphs that branch and merge.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <utility>
#include <variant>
#include <vector>

#include "base/rng.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "nn/loss_head.h"
#include "nn/network.h"
#include "nn/split_batch.h"

namespace edgetrain {
namespace {

// A (2, 7, 6) image in, probabilities of 4 classes out, trained by cross-entropy: the layers are
// the caller's.
ModelBuilder four_class_classifier() {
  ModelBuilder builder;
  builder.input("image", {2, 7, 6})
      .output("probabilities", {4})
      .training_input("image", {2, 7, 6})
      .training_input("label", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "probabilities", .target = "label"});
  return builder;
}

// Every layer kind but the kinked ones (ReLU, max-pool: covered op by op in tests/ops).
Model smooth_model() {
  return four_class_classifier()
      .layers({
          {"conv", "image", "c",
           Convolution{.output_channels = 4,
                       .kernel_channels = 1,
                       .groups = 2,
                       .kernel_size = {3, 2},
                       .stride = {2, 1},
                       .padding = Padding::kSame},
           kUpdatable},
          {"tanh", "c", "t", Tanh()},
          {"avg", "t", "a",
           Pooling{.type = PoolingType::kAverage,
                   .kernel_size = {2, 2},
                   .stride = {1, 1},
                   .padding = Padding::kSame}},
          {"scale", "a", "l", Linear(1.5f, 0.1f)},
          {"flatten", "l", "f", Flatten{.order = FlattenOrder::kChannelLast}},
          {"dense", "f", "d", InnerProduct{.input_channels = 96, .output_channels = 5}, kUpdatable},
          {"sigmoid", "d", "s", Sigmoid()},
          {"out", "s", "o", InnerProduct{.input_channels = 5, .output_channels = 4}, kUpdatable},
          {"softmax", "o", "probabilities", Softmax{}},
      })
      .initializer(Initializer::kGlorotUniform, 3)
      .build();
}

// Features rounded by `round` (identity by default), 2x7x6, 4 classes.
Dataset random_data(int n, uint64_t seed, float (*round)(float) = [](float p) { return p; }) {
  Rng rng(seed);
  std::vector<float> pixels(size_t(n) * 84);
  for (float& p : pixels) p = round(rng.uniform());
  std::vector<int32_t> labels;
  for (int i = 0; i < n; ++i) labels.push_back(int32_t(rng.below(4)));
  return Dataset::with_labels(std::move(pixels), std::move(labels),
                              {.channels = 2, .height = 7, .width = 6}, 4);
}

// Loss over samples [first, first + n), with gradients added into `gradients` when given.
double run(const Model& model, const Dataset& data, int first, int n, int scale,
           std::vector<float>* gradients, bool fuse = true) {
  const Network network(model, {.fuse = fuse, .train = true});
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
  network.backward(ws, model, gradients->data(), n);
  return loss;
}

// Every parameter's gradient over 3 samples against central differences.
void expect_gradients_match_finite_differences(Model& model, const Dataset& data) {
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
  std::printf("worst relative gradient error over %zu parameters: %.2e\n", model.parameters.size(),
              worst);
}

TEST(Network, WholeGraphGradientsMatchFiniteDifferences) {
  Model model = smooth_model();
  expect_gradients_match_finite_differences(model, random_data(3, 11));
}

// Runs `data` (n samples) as one batch and as two halves whose gradients add up; returns the
// two gradient blocks after checking the losses agree.
std::pair<std::vector<float>, std::vector<float>> whole_and_halves(const Model& model,
                                                                   const Dataset& data, int n) {
  std::vector<float> whole(model.parameters.size(), 0.0f), halves(model.parameters.size(), 0.0f);
  const double loss = run(model, data, 0, n, n, &whole);
  const double first = run(model, data, 0, n / 2, n, &halves);
  const double second = run(model, data, n / 2, n - n / 2, n, &halves);
  EXPECT_NEAR(loss, first + second, 1e-6);
  return {whole, halves};
}

TEST(Network, TwoHalfBatchesAccumulateToOneBatch) {
  const auto [whole, halves] = whole_and_halves(smooth_model(), random_data(8, 5), 8);
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
  for (const LayerParameter& parameter : model.layer("conv").parameters) {
    for (size_t i = 0; i < parameter.slice.size; ++i) {
      EXPECT_EQ(gradients[parameter.slice.offset + i], 0.0f);
    }
  }
  const LayerParameter& dense = model.layer("dense").parameters[0];
  double magnitude = 0;
  for (size_t i = 0; i < dense.slice.size; ++i)
    magnitude += std::fabs(gradients[dense.slice.offset + i]);
  EXPECT_GT(magnitude, 0.0);
}

// ---- Fused convolution + ReLU + max-pool inside a whole network ---------------------------------
// LeNet fuses both of its conv → ReLU → max-pool chains (the second reads the first's output
// channel-last). Its conv weights are made multiples of 1/32, its conv biases multiples of 1/64 and
// its images multiples of 1/8: every convolution value is then exact in float whichever way it is
// summed, so the fused and the unfused network take the same max-pool and ReLU decisions (ties
// included) and must agree to rounding in everything after.
Model exact_lenet() {
  Model model = lenet({.seed = 3});
  Rng rng(17);
  for (const Layer& layer : model.layers) {
    if (layer.parameters.empty()) continue;
    const LayerParameter &weights = layer.parameters[0], &bias = layer.parameters[1];
    float* w = model.data(weights);
    float* b = model.data(bias);
    if (std::holds_alternative<Convolution>(layer.params)) {
      for (size_t i = 0; i < weights.slice.size; ++i) w[i] = std::round(w[i] * 32.0f) / 32.0f;
      for (size_t i = 0; i < bias.slice.size; ++i) b[i] = float(int(rng.below(33)) - 16) / 64.0f;
    } else {
      for (size_t i = 0; i < bias.slice.size; ++i) b[i] = 0.2f * rng.uniform() - 0.1f;
    }
  }
  return model;
}

Dataset exact_images(int n, uint64_t seed) {  // 1x28x28, 10 classes
  Rng rng(seed);
  std::vector<float> pixels(size_t(n) * 784);
  for (float& p : pixels) p = float(rng.below(9)) / 8.0f;
  std::vector<int32_t> labels;
  for (int i = 0; i < n; ++i) labels.push_back(int32_t(rng.below(10)));
  return Dataset::with_labels(std::move(pixels), std::move(labels),
                              {.channels = 1, .height = 28, .width = 28}, 10);
}

struct LenetPass {
  std::vector<float> logits, probabilities;  // (n, 10)
  std::vector<float> gradients;              // laid out like model.parameters
  double loss = 0;
};

LenetPass lenet_pass(const Model& model, const Dataset& data, int n, bool fuse) {
  const Network network(model, {.fuse = fuse, .train = true});
  const LossHead head(model, network);
  Workspace ws = network.make_workspace(n);
  LossHead::Scratch scratch = head.make_scratch(n);
  std::vector<size_t> indices(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), size_t(0));
  head.load_batch(ws, scratch, data, indices.data(), n);
  network.forward(ws, model, n);
  LenetPass pass;
  const float* logits = ws.value(network.blob("outHidden2"));
  const float* probabilities = ws.value(network.blob("output"));
  pass.logits.assign(logits, logits + size_t(n) * 10);
  pass.probabilities.assign(probabilities, probabilities + size_t(n) * 10);
  network.zero_grads(ws, n);
  pass.loss = head.loss_and_seed(ws, scratch, n, n).loss;
  pass.gradients.assign(model.parameters.size(), 0.0f);
  network.backward(ws, model, pass.gradients.data(), n);
  return pass;
}

// Largest |a - b| over the largest |b|: the error relative to the values' scale.
double scaled_difference(const float* a, const float* b, size_t n) {
  double difference = 0, scale = 0;
  for (size_t i = 0; i < n; ++i) {
    difference = std::max(difference, std::fabs(double(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return scale > 0 ? difference / scale : difference;
}

TEST(NetworkFusion, LenetFusedMatchesUnfused) {
  const Model model = exact_lenet();
  const Dataset data = exact_images(4, 23);
  const LenetPass fused = lenet_pass(model, data, 4, true);
  const LenetPass unfused = lenet_pass(model, data, 4, false);

  EXPECT_NEAR(fused.loss, unfused.loss, 1e-6 * std::fabs(unfused.loss));
  for (size_t i = 0; i < unfused.logits.size(); ++i) {
    EXPECT_NEAR(fused.logits[i], unfused.logits[i], 1e-5 * (1.0 + std::fabs(unfused.logits[i])))
        << "logit " << i;
    EXPECT_NEAR(fused.probabilities[i], unfused.probabilities[i], 1e-5) << "probability " << i;
  }
  for (const Layer& layer : model.layers) {
    for (const LayerParameter& parameter : layer.parameters) {
      const ParameterSlice* slice = &parameter.slice;
      SCOPED_TRACE(layer.name + " " + parameter.name);
      const float* a = fused.gradients.data() + slice->offset;
      const float* b = unfused.gradients.data() + slice->offset;
      double magnitude = 0;
      for (size_t i = 0; i < slice->size; ++i)
        magnitude = std::max(magnitude, std::fabs(double(b[i])));
      EXPECT_GT(magnitude, 0.0) << "no gradient reached this layer";
      const double error = scaled_difference(a, b, slice->size);
      EXPECT_LE(error, 1e-4);
      // Element by element too: relative to each value, with a floor at 1e-4 of the layer's scale.
      size_t failures = 0;
      for (size_t i = 0; i < slice->size; ++i) {
        if (!(std::fabs(double(a[i]) - b[i]) <=
              1e-4 * (std::fabs(double(b[i])) + 1e-2 * magnitude)) &&
            ++failures <= 5) {
          ADD_FAILURE() << "gradient " << i << ": fused " << a[i] << ", unfused " << b[i];
        }
      }
      std::printf("%-8s %-7s max difference / max |gradient| = %.2e\n", layer.name.c_str(),
                  parameter.name.c_str(), error);
    }
  }
}

TEST(NetworkFusion, LenetFusedTwoHalfBatchesAccumulateToOneBatch) {
  const auto [whole, halves] = whole_and_halves(exact_lenet(), exact_images(4, 29), 4);
  EXPECT_LE(scaled_difference(halves.data(), whole.data(), whole.size()), 1e-5);
}

TEST(NetworkFusion, FusedWorkspaceHoldsNoConvolutionOutputs) {
  const Model model = lenet();
  const int capacity = 4;
  for (bool with_gradients : {true, false}) {
    SCOPED_TRACE(with_gradients ? "training" : "inference");
    const Network fused(model, {.fuse = true, .train = with_gradients});
    const Network unfused(model, {.fuse = false, .train = with_gradients});
    // Buffers only: the ops' scratch and saved bytes differ by design.
    const size_t fused_floats = fused.buffer_floats(capacity);
    const size_t unfused_floats = unfused.buffer_floats(capacity);
    EXPECT_LT(fused_floats, unfused_floats);
    // Exactly the two convolution outputs (32x26x26 and 32x12x12, each shared with its in-place
    // ReLU) and the flatten's output (1152: it shares pool2's, written channel-last) are gone,
    // and when training their gradients too.
    const size_t gone = size_t(capacity) * (32 * 26 * 26 + 32 * 12 * 12 + 1152);
    EXPECT_EQ(unfused_floats - fused_floats, (with_gradients ? 2 : 1) * gone);
    std::printf("%s workspace, %d samples: fused %zu floats, unfused %zu\n",
                with_gradients ? "training" : "inference", capacity, fused_floats, unfused_floats);
  }
}

// ---- Branches: fan-out and merges ---------------------------------------------------------------

// The branch tests' frame: a 2x7x6 image in, 4 class probabilities out, cross-entropy on a label.
ModelBuilder branch_frame() {
  ModelBuilder builder;
  builder.input("image", {2, 7, 6})
      .output("probabilities", {4})
      .training_input("image", {2, 7, 6})
      .training_input("label", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "probabilities", .target = "label"});
  return builder;
}

// conv0 → activation, whose output three layers read: two convolutions whose sum (add) is joined
// (concat) with the activation's output itself, then flatten → dense → softmax. The gradient
// reaching the activation adds up from all three readers. With ReLU the activation runs in place
// over conv0's output, so the three contributions add into the buffer ReLU's backward then masks.
Model branching_model(Activation activation) {
  return branch_frame()
      .optimizer(Adam{.learning_rate = {1e-2, {{0.0, 1.0}}}, .mini_batch_size = {4, {{1, 64}}}})
      .epochs({30, {{1, 100}}})
      .layers({
          {"conv0", "image", "c0", Convolution{.output_channels = 3, .padding = Padding::kSame},
           kUpdatable},
          {"act0", "c0", "r", activation},
          {"conv_a", "r", "a", Convolution{.output_channels = 3, .padding = Padding::kSame},
           kUpdatable},
          {"conv_b", "r", "b", Convolution{.output_channels = 3, .kernel_size = {1, 1}},
           kUpdatable},
          {"sum", {"a", "b"}, "s", Add{}},
          {"join", {"s", "r"}, "j", Concat{}},
          {"flatten", "j", "f", Flatten{}},
          {"dense", "f", "d", InnerProduct{.output_channels = 4}, kUpdatable},
          {"softmax", "d", "probabilities", Softmax{}},
      })
      .initializer(Initializer::kGlorotUniform, 5)
      .build();
}

TEST(NetworkBranches, WholeGraphGradientsMatchFiniteDifferences) {
  Model model = branching_model(Tanh());  // smooth: no kink for the differences to cross
  expect_gradients_match_finite_differences(model, random_data(3, 13));
}

// ReLU in place under a fan-out against LeakyReLU(0), the same function planned out of place (its
// backward reads its input): the same loss and gradients.
TEST(NetworkBranches, InPlaceReluUnderFanOutMatchesOutOfPlace) {
  const Model in_place = branching_model(ReLU());
  Model out_of_place = branching_model(LeakyReLU(0.0f));
  out_of_place.parameters = in_place.parameters;
  const Network network(in_place, {.train = true});
  EXPECT_NE(network.describe_plan().find("act0: [3, 7, 6] -> [3, 7, 6] (in place)"),
            std::string::npos)
      << network.describe_plan();
  const Dataset data = random_data(5, 17);
  std::vector<float> expected(in_place.parameters.size(), 0.0f), actual = expected;
  const double loss = run(in_place, data, 0, 5, 5, &actual);
  EXPECT_NEAR(loss, run(out_of_place, data, 0, 5, 5, &expected), 1e-6);
  EXPECT_LE(scaled_difference(actual.data(), expected.data(), expected.size()), 1e-6);
  for (const char* name : {"conv0", "conv_a", "conv_b", "dense"}) {
    const LayerParameter& weights = *in_place.layer(name).parameter("weights");
    const float* gradient = actual.data() + weights.slice.offset;
    EXPECT_TRUE(
        std::any_of(gradient, gradient + weights.slice.size, [](float g) { return g != 0; }))
        << name << " got no gradient";
  }
}

// conv0 → ReLU → max-pool (a chain the planner fuses), whose output three layers read: a
// convolution, the add of that convolution's output and the pooled blob, and the concat of the sum
// and the pooled blob.
Model fan_out_after_fused_chain() {
  return branch_frame()
      .layers({
          {"conv0", "image", "c0", Convolution{.output_channels = 8, .kernel_size = {2, 2}},
           kUpdatable},
          {"act0", "c0", "r", ReLU()},
          {"pool0", "r", "p", Pooling{}},
          {"conv_a", "p", "a", Convolution{.output_channels = 8, .kernel_size = {1, 1}},
           kUpdatable},
          {"sum", {"a", "p"}, "s", Add{}},
          {"join", {"s", "p"}, "j", Concat{}},
          {"flatten", "j", "f", Flatten{}},
          {"dense", "f", "d", InnerProduct{.output_channels = 4}, kUpdatable},
          {"softmax", "d", "probabilities", Softmax{}},
      })
      .initializer(Initializer::kGlorotUniform, 7)
      .build();
}

// The fused chain under fan-out against the same graph unfused. As in exact_lenet(), conv0's
// weights (multiples of 1/32), biases (of 1/64) and the images (of 1/8) make its every value exact,
// so both plans take the same ReLU and max decisions.
TEST(NetworkBranches, FusedChainUnderFanOutMatchesUnfused) {
  Model model = fan_out_after_fused_chain();
  Rng rng(31);
  const Layer& conv0 = model.layer("conv0");
  for (const LayerParameter& parameter : conv0.parameters) {
    float* values = model.data(parameter);
    for (size_t i = 0; i < parameter.slice.size; ++i) {
      values[i] = parameter.name == "bias" ? float(int(rng.below(33)) - 16) / 64.0f
                                           : std::round(values[i] * 32.0f) / 32.0f;
    }
  }
  const Dataset data = random_data(6, 37, [](float p) { return std::round(p * 8.0f) / 8.0f; });
  const Network fused(model, {.fuse = true, .train = true});
  EXPECT_NE(fused.describe_plan().find("conv0+act0+pool0:"), std::string::npos)
      << fused.describe_plan();
  std::vector<float> with(model.parameters.size(), 0.0f), without = with;
  const double loss = run(model, data, 0, 6, 6, &with, true);
  EXPECT_NEAR(loss, run(model, data, 0, 6, 6, &without, false), 1e-6);
  for (const Layer& layer : model.layers) {
    for (const LayerParameter& parameter : layer.parameters) {
      SCOPED_TRACE(layer.name + " " + parameter.name);
      const float* a = with.data() + parameter.slice.offset;
      const float* b = without.data() + parameter.slice.offset;
      EXPECT_TRUE(std::any_of(b, b + parameter.slice.size, [](float g) { return g != 0; }));
      EXPECT_LE(scaled_difference(a, b, parameter.slice.size), 1e-5);
    }
  }
}

TEST(NetworkBranches, TwoHalfBatchesAccumulateToOneBatch) {
  const auto [whole, halves] = whole_and_halves(branching_model(ReLU()), random_data(8, 19), 8);
  EXPECT_LE(scaled_difference(halves.data(), whole.data(), whole.size()), 1e-5);
}

// A dense layer large enough (84 x 800 weights) that threads sharing a batch sum its weight
// gradient together, and a small one that they do not.
Model wide_dense_model() {
  return four_class_classifier()
      .layers({
          {"wide", "image", "w", InnerProduct{.output_channels = 800}, kUpdatable},
          {"relu", "w", "r", ReLU()},
          {"narrow", "r", "n", InnerProduct{.output_channels = 4}, kUpdatable},
          {"softmax", "n", "probabilities", Softmax()},
      })
      .build();
}

// Forward and backward of the first samples of `data`, split between threads as the trainer splits
// a mini-batch (parts[t] samples each, in order), each thread adding into its own gradient block,
// all sharing a BatchSync when `share` is set. Returns the blocks.
std::vector<std::vector<float>> run_threads(const Model& model, const Dataset& data,
                                            const std::vector<int>& parts, bool share) {
  const Network network(model, {.train = true});
  const LossHead head(model, network);
  const int threads = int(parts.size());
  const int total = std::accumulate(parts.begin(), parts.end(), 0);
  std::vector<std::vector<float>> blocks(size_t(threads),
                                         std::vector<float>(model.parameters.size(), 0.0f));
  BatchSync sync(threads);
  auto part = [&](int t, int first) {
    const int n = parts[size_t(t)];
    Workspace ws = network.make_workspace(std::max(n, 1));
    LossHead::Scratch scratch = head.make_scratch(std::max(n, 1));
    std::vector<size_t> indices(static_cast<size_t>(n));
    std::iota(indices.begin(), indices.end(), size_t(first));
    head.load_batch(ws, scratch, data, indices.data(), n);
    network.forward(ws, model, n,
                    {.mode = Mode::kTraining, .sync = share ? &sync : nullptr, .thread = t});
    network.zero_grads(ws, n);
    head.loss_and_seed(ws, scratch, n, total);
    network.backward(ws, model, blocks[size_t(t)].data(), n, /*dparameters_zero=*/true);
  };
  run_parts_on_threads(parts, part);
  return blocks;
}

// The wide layer's weight gradient over the whole batch lands in thread 0's block, with the bits
// of the threads' own gradients added in thread order (what the optimizer added before), and
// nothing in the other blocks; every other gradient stays per thread. Also with a thread that has
// no samples of its own, which must still meet the others.
TEST(Network, ThreadsSumALargeLayersWeightGradientIntoTheFirstBlock) {
  const Model model = wide_dense_model();
  const Network network(model, {.train = true});
  const ParameterSlice wide = model.layer("wide").parameter("weights")->slice;
  const std::vector<ParameterSlice> summed = network.gradients_summed_across_threads();
  ASSERT_EQ(summed.size(), 1u);
  EXPECT_EQ(summed[0].offset, wide.offset);
  EXPECT_EQ(summed[0].size, wide.size);
  const Dataset data = random_data(12, 31);
  for (const std::vector<int>& parts :
       {std::vector<int>{5, 7}, std::vector<int>{0, 4}, std::vector<int>{3, 0, 6}}) {
    SCOPED_TRACE(::testing::PrintToString(parts));
    const auto own = run_threads(model, data, parts, /*share=*/false);
    const auto shared = run_threads(model, data, parts, /*share=*/true);
    for (size_t i = 0; i < model.parameters.size(); ++i) {
      if (i >= wide.offset && i < wide.offset + wide.size) {
        float sum = 0.0f;
        for (const auto& block : own) sum += block[i];
        ASSERT_EQ(shared[0][i], sum) << "weight gradient " << i - wide.offset;
        for (size_t t = 1; t < shared.size(); ++t) ASSERT_EQ(shared[t][i], 0.0f);
      } else {
        for (size_t t = 0; t < shared.size(); ++t) ASSERT_EQ(shared[t][i], own[t][i]);
      }
    }
  }
  // The narrow layer's 3,200 weights are below the size where sharing pays.
  Model narrow = model;
  for (Layer& layer : narrow.layers) layer.updatable = layer.name != "wide";
  EXPECT_TRUE(Network(narrow, {.train = true}).gradients_summed_across_threads().empty());
}

TEST(NetworkBranches, TrainsWithTheUpdateTask) {
  Model model = branching_model(ReLU());
  const Model before = model;
  const Dataset data = random_data(16, 23);
  UpdateTask task(model, data, {.seed = 3, .threads = 2});
  std::vector<double> losses;
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& end) {
    losses.push_back(end.mean_loss);
  };
  const TrainingResult result = task.run();
  ASSERT_EQ(losses.size(), 30u);
  EXPECT_EQ(result.samples_seen, 30u * 16u);
  // 16 random samples are learned by heart: the loss falls well below its start.
  EXPECT_LT(losses.back(), 0.5 * losses.front());
  for (const char* name : {"conv0", "conv_a", "conv_b", "dense"}) {
    const LayerParameter& weights = *model.layer(name).parameter("weights");
    EXPECT_GT(scaled_difference(model.data(weights), before.data(weights), weights.slice.size), 0.0)
        << name << " did not train";
  }
}

}  // namespace
}  // namespace edgetrain
