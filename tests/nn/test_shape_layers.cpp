// Layers that only move data inside a trained network: a channel-first reshape and a squeeze
// between a convolution and a dense layer share their input's buffer (the planner drops their
// steps), and the network trains exactly as the same network with a flatten in their place. Each
// kind's own forward, backward and Core ML reading are checked by test_layers.cpp.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "base/rng.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "nn/kind_test_helpers.h"
#include "nn/layer_kind.h"
#include "nn/network.h"

namespace edgetrain {
namespace {

// conv 4@3x3 → ReLU → (4, 4, 4) → `middle` → [64] or (64, 1, 1) → dense 4 → softmax.
Model shape_model(std::initializer_list<Layer> middle, const std::string& flat) {
  ModelBuilder builder;
  builder.input("image", {1, 6, 6})
      .output("probabilities", {4})
      .training_input("image", {1, 6, 6})
      .training_input("label", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "probabilities", .target = "label"})
      .optimizer(Adam{.learning_rate = {0.01, {{0.0, 1.0}}}, .mini_batch_size = {16, {{1, 1024}}}})
      .epochs({6, {{1, 100}}})
      .initializer(Initializer::kGlorotUniform, 5);
  builder.add({"conv", "image", "c", Convolution{.output_channels = 4}, kUpdatable});
  builder.add({"relu", "c", "r", ReLU()});
  for (const Layer& layer : middle) builder.add(layer);
  builder.add({"dense", flat, "d", InnerProduct{.output_channels = 4}, kUpdatable});
  builder.add({"softmax", "d", "probabilities", Softmax{}});
  return builder.build();
}

Model reshape_squeeze_model() {
  return shape_model({{"reshape", "r", "reshaped", Reshape{.target_shape = {64, 1, 1}}},
                      {"squeeze", "reshaped", "flat", Squeeze{.axes = {-2, -1}}}},
                     "flat");
}

Model flatten_model() {
  return shape_model({{"flatten", "r", "flat", Flatten{}}}, "flat");
}

// Four classes: a bright 3x3 patch in one quadrant of a noisy 6x6 image.
Dataset quadrant_images(int n, uint64_t seed) {
  Dataset data;
  data.channels = 1;
  data.height = data.width = 6;
  data.num_classes = 4;
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    const int label = int(rng.below(4));
    data.labels.push_back(label);
    for (int y = 0; y < 6; ++y) {
      for (int x = 0; x < 6; ++x) {
        const bool patch = (y / 3) == label / 2 && (x / 3) == label % 2;
        data.pixels.push_back(0.3f * rng.uniform() + (patch ? 0.7f : 0.0f));
      }
    }
  }
  return data;
}

TEST(ShapeLayers, PlannerAliasesReshapeAndSqueeze) {
  const Model model = reshape_squeeze_model();
  EXPECT_EQ(infer_shapes(model).at("flat"), (Shape{64}));
  for (const bool train : {false, true}) {
    const Network network(model, {.train = train});
    const std::string plan = network.describe_plan();
    SCOPED_TRACE(plan);
    EXPECT_EQ(plan.find("reshape"), std::string::npos) << "the reshape runs as a step";
    EXPECT_EQ(plan.find("squeeze"), std::string::npos) << "the squeeze runs as a step";
    // Both leave the plan: it has as many steps as the flatten model's, whose flatten aliases.
    EXPECT_EQ(network.step_count(), Network(flatten_model(), {.train = train}).step_count());
    EXPECT_LE(network.step_count(), model.layers.size() - 2);
  }
}

TEST(ShapeLayers, ReshapeAndSqueezeTrainLikeFlatten) {
  const Dataset data = quadrant_images(192, 3);
  Model shaped = reshape_squeeze_model(), flat = flatten_model();
  ASSERT_EQ(shaped.parameters, flat.parameters) << "the same layers draw the same weights";
  double first_loss = -1;
  UpdateTask task(shaped, data, {.seed = 4, .threads = 2});
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& end) {
    if (first_loss < 0) first_loss = end.mean_loss;
  };
  const TrainingResult result = task.run();
  UpdateTask(flat, data, {.seed = 4, .threads = 2}).run();

  std::printf("reshape + squeeze model: epoch 1 loss %.4f, epoch 6 loss %.4f, accuracy %.4f\n",
              first_loss, result.final_loss, result.final_accuracy.value_or(-1.0));
  EXPECT_EQ(result.epochs_completed, 6);
  EXPECT_LT(result.final_loss, 0.5 * first_loss) << "first epoch's loss " << first_loss;
  ASSERT_TRUE(result.final_accuracy.has_value());
  EXPECT_GT(*result.final_accuracy, 0.9);
  // The reshape and squeeze move no values: training sees exactly the flatten model's numbers.
  EXPECT_EQ(shaped.parameters, flat.parameters);
}

TEST(ShapeLayers, CopiesThatCannotAliasRunAndBackPropagate) {
  // The ReLU's output and the reshaped blob are model outputs too, so neither the reshape nor the
  // squeeze may take its input's buffer: both run as copies, and training must still match the
  // flatten model.
  Model exposed = reshape_squeeze_model(), flat = flatten_model();
  exposed.outputs.push_back({.name = "r", .shape = {4, 4, 4}});
  exposed.outputs.push_back({.name = "reshaped", .shape = {64, 1, 1}});
  const Network network(exposed, {.train = true});
  const std::string plan = network.describe_plan();
  SCOPED_TRACE(plan);
  EXPECT_NE(plan.find("reshape: [4, 4, 4] -> [64, 1, 1] (backward)"), std::string::npos);
  EXPECT_NE(plan.find("squeeze: [64, 1, 1] -> [64] (backward)"), std::string::npos);
  EXPECT_EQ(network.step_count(),
            Network(reshape_squeeze_model(), {.train = true}).step_count() + 2);
  const Dataset data = quadrant_images(64, 8);
  UpdateTask(exposed, data, {.epochs = 2, .seed = 6, .threads = 1}).run();
  UpdateTask(flat, data, {.epochs = 2, .seed = 6, .threads = 1}).run();
  EXPECT_EQ(exposed.parameters, flat.parameters);
}

TEST(ShapeLayers, SplitAndConcatTrainLikeFlatten) {
  // Split the channels in two and join them again: a layer with two outputs inside a trained
  // graph. Its values and gradients are copies, so training sees the flatten model's numbers.
  Model split = shape_model({{"split", "r", {"low", "high"}, Split{2}},
                             {"join", {"low", "high"}, "joined", Concat{}},
                             {"flatten", "joined", "flat", Flatten{}}},
                            "flat");
  Model flat = flatten_model();
  const Dataset data = quadrant_images(64, 9);
  UpdateTask(split, data, {.epochs = 2, .seed = 3, .threads = 2}).run();
  UpdateTask(flat, data, {.epochs = 2, .seed = 3, .threads = 2}).run();
  EXPECT_EQ(split.parameters, flat.parameters);
}

TEST(ShapeLayers, ConstantsStayFixedInTraining) {
  // A loadConstant of zeros added to the activations: the graph computes what the flatten model
  // does, and the constant, which a trainable tensor's gradient would move, stays zero.
  Model constant =
      shape_model({{"zeros", BlobNames(std::vector<std::string>{}), "k", LoadConstant{{4, 4, 4}}},
                   {"shift", {"r", "k"}, "shifted", Add{}},
                   {"flatten", "shifted", "flat", Flatten{}}},
                  "flat");
  Model flat = flatten_model();
  const Dataset data = quadrant_images(64, 10);
  UpdateTask(constant, data, {.epochs = 2, .seed = 5, .threads = 2}).run();
  UpdateTask(flat, data, {.epochs = 2, .seed = 5, .threads = 2}).run();
  const LayerParameter& zeros = *constant.layer("zeros").parameter("data");
  EXPECT_EQ(zeros.role, ParameterRole::kConstant);
  EXPECT_EQ(std::vector<float>(constant.data(zeros), constant.data(zeros) + zeros.slice.size),
            std::vector<float>(64, 0.0f));
  for (const char* layer : {"conv", "dense"}) {
    for (const char* name : {"weights", "bias"}) {
      EXPECT_EQ(parameter_values(constant, layer, name), parameter_values(flat, layer, name))
          << layer << "." << name;
    }
  }
}

// ---- Core ML write and read, and refusals
// ---------------------------------------------------------

TEST(ShapeLayers, EveryKindWritesAndReadsBackItsParameters) {
  // Default (rank-5) mapping: the ND kinds count Seq and Batch, so their axes here are negative
  // or 2 and up.
  const std::vector<Model> models = {
      one_layer({2, 3, 4}, Reshape{{2, 3, 2, 2}, ReshapeOrder::kChannelLast}, {2, 3, 2, 2}),
      one_layer({3, 4, 5}, Permute{{1, 0, 3, 2}}, {3, 1, 5, 4}),
      one_layer({2, 3, 4}, Pad{PaddingType::kReflection, 0.0f, {1, 0, 2, 1}}, {2, 4, 7}),
      one_layer({2, 3, 4}, Pad{PaddingType::kConstant, 1.5f, {0, 1, 0, 0}}, {2, 4, 4}),
      one_layer({2, 3, 4}, ReshapeStatic{{1, 1, -1, 4}}, {6, 4}),
      one_layer({2, 3, 4}, FlattenTo2D{-2}, {2, 12}),
      one_layer({1, 3, 1}, Squeeze{{}, true}, {3}),
      one_layer({2, 3, 1}, Squeeze{{-1}, false}, {2, 3}),
      one_layer({2, 3, 4}, ExpandDims{{-1, 2}}, {1, 2, 3, 4, 1}),
      one_layer({2, 3, 4}, ConstantPad{0.5f, {0, 0, 0, 0, 1, 2, 0, 0, 3, 0}, false}, {5, 3, 7}),
      one_layer({2, 3, 4}, ConstantPad{0.0f, {0, 0, 0, 0, 0, 4, 0, 0, 5, 0}, true}, {4, 3, 5}),
  };
  for (const Model& model : models) expect_writes_and_reads_back(model);
}

std::string build_error(std::vector<int64_t> input, LayerParams params, int inputs = 1) {
  try {
    one_layer(std::move(input), std::move(params), {1}, inputs);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(ShapeLayers, RefusalsNameTheLayerAndTheReason) {
  const struct {
    std::string error;
    std::string expected;
  } cases[] = {
      {build_error({3, 4, 2}, Reshape{{5, 2, 2}}),
       "block holds 24 values but targetShape [5, 2, 2] holds 20"},
      {build_error({3, 4, 2}, Permute{{0, 1, 1, 3}}), "[0, 1, 1, 3] is not a permutation"},
      {build_error({2, 3, 4}, Squeeze{{-2}}), "axis 1 has size 3 and cannot be squeezed"},
      {build_error({2, 3, 4}, Squeeze{{1}}), "axis 1 names Core ML's batch axis"},
      {build_error({2, 3, 4}, FlattenTo2D{0}), "axis 0 names Core ML's sequence axis"},
      {build_error({2, 3, 4}, FlattenTo2D{5}), "axis 5 is out of range for a rank-5 tensor"},
      {build_error({2, 3, 4}, Pad{PaddingType::kReflection, 0.0f, {3, 0, 0, 0}}),
       "each amount must be below the height or width it pads"},
      {build_error({2, 3, 4}, ReshapeStatic{{1, 1, 0, 24}}), "0, keep a dimension"},
      {build_error({2, 3, 4}, ReshapeStatic{{2, 1, 12}}), "sets Core ML's sequence axis to 2"},
      {build_error({2, 3, 4}, ReshapeStatic{{1, 1, 5, -1}}), "24 values, which targetShape"},
      {build_error({2, 3, 4}, ExpandDims{{-1, -2, -3}}), "would give rank 6 per sample"},
      {build_error({2, 3, 4}, ConstantPad{0.0f, {0, 0, 0, 0, 1, 1}}), "padAmounts needs 10 values"},
      {build_error({2, 3, 4}, ConstantPad{0.0f, {1, 0, 0, 0, 0, 0, 0, 0, 0, 0}}),
       "pads Core ML's sequence axis"},
      {build_error({2, 3, 4}, ConstantPad{0.0f, {0, 0, 0, 0, 1, 1, 0, 0, 0, 0}}, 2),
       "padAmounts from a second input"},
  };
  for (const auto& c : cases) {
    EXPECT_NE(c.error.find("layer 0 'layer'"), std::string::npos) << c.error;
    EXPECT_NE(c.error.find(c.expected), std::string::npos) << c.error;
  }
}

}  // namespace
}  // namespace edgetrain
