// The builder: the seed's LeNet, shape inference, and the errors a wrong model gets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "edgetrain/error.h"
#include "edgetrain/model.h"

namespace edgetrain {
namespace {

std::string build_error(const ModelBuilder& builder) {
  try {
    builder.build();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

ModelBuilder small_cnn() {
  ModelBuilder builder;
  builder.input("image", {1, 8, 8}).output("probabilities", {3});
  builder.add(Convolution{.name = "conv", .input = "image", .output = "c", .output_channels = 4,
                          .kernel_channels = 1, .kernel_size = {3, 3}, .updatable = true});
  builder.add(ReLU{.name = "relu", .input = "c", .output = "r"});
  builder.add(Pooling{.name = "pool", .input = "r", .output = "p"});
  builder.add(Flatten{.name = "flatten", .input = "p", .output = "f"});
  builder.add(InnerProduct{.name = "dense", .input = "f", .output = "d", .input_channels = 36,
                           .output_channels = 3, .updatable = true});
  builder.add(Softmax{.name = "softmax", .input = "d", .output = "probabilities"});
  return builder;
}

TEST(Builder, LenetHasTheSeedsShapesAndParameterCount) {
  Model model = lenet();
  EXPECT_EQ(model.parameter_count(), 585958u);
  EXPECT_EQ(model.layers.size(), 11u);
  BlobShapes shapes = infer_shapes(model);
  EXPECT_EQ(shapes["outConv1"], (std::array<int, 3>{32, 26, 26}));
  EXPECT_EQ(shapes["outPooling1"], (std::array<int, 3>{32, 13, 13}));
  EXPECT_EQ(shapes["outConv2"], (std::array<int, 3>{32, 12, 12}));
  EXPECT_EQ(shapes["outPooling2"], (std::array<int, 3>{32, 6, 6}));
  EXPECT_EQ(shapes["outFlatten1"], (std::array<int, 3>{1152, 1, 1}));
  EXPECT_EQ(shapes["output"], (std::array<int, 3>{10, 1, 1}));
  ASSERT_TRUE(model.update.has_value());
  EXPECT_EQ(model.update->losses.at(0).target, "output_true");
  EXPECT_EQ(model.update->epochs.default_value, 10);
  EXPECT_TRUE(model.update->shuffle);
  const Adam& adam = std::get<Adam>(model.update->optimizer);
  EXPECT_EQ(adam.mini_batch_size.default_value, 128);
  EXPECT_DOUBLE_EQ(adam.learning_rate.default_value, 1e-3);
  EXPECT_TRUE(model.layer("conv1").updatable);
  EXPECT_FALSE(model.layer("relu1").updatable);
}

TEST(Builder, ProgrammaticModelBuildsAndLaysOutParameters) {
  Model model = small_cnn().build();
  EXPECT_EQ(model.parameter_count(), 4u * 9 + 4 + 36 * 3 + 3);
  const Layer& dense = model.layer("dense");
  EXPECT_EQ(dense.weight.offset, 40u);
  EXPECT_EQ(dense.weight.size, 108u);
  EXPECT_EQ(dense.bias.offset, 148u);
}

TEST(Builder, InitialisationIsSeededAndHeUniform) {
  const Initializer he = Initializer::kHeUniform;
  Model a = lenet({.seed = 1, .initializer = he}), b = lenet({.seed = 1, .initializer = he}),
        c = lenet({.seed = 2, .initializer = he});
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_NE(a.parameters, c.parameters);
  const Layer& conv1 = a.layer("conv1");
  const float limit = std::sqrt(6.0f / 9.0f);
  float largest = 0;
  for (size_t i = 0; i < conv1.weight.size; ++i) {
    largest = std::max(largest, std::fabs(a.data(conv1.weight)[i]));
  }
  EXPECT_LE(largest, limit);
  EXPECT_GT(largest, 0.9f * limit);
  for (size_t i = 0; i < conv1.bias.size; ++i) EXPECT_EQ(a.data(conv1.bias)[i], 0.0f);
}

TEST(Builder, LenetCanUseGlorotUniform) {
  const Model model = lenet({.initializer = Initializer::kGlorotUniform});
  const Layer& hidden1 = model.layer("hidden1");  // fan in 1152, fan out 500
  const float limit = std::sqrt(6.0f / (1152.0f + 500.0f));
  float largest = 0;
  for (size_t i = 0; i < hidden1.weight.size; ++i) {
    largest = std::max(largest, std::fabs(model.data(hidden1.weight)[i]));
  }
  EXPECT_LE(largest, limit);
  EXPECT_GT(largest, 0.99f * limit);
}

TEST(Builder, ShapeMismatchNamesTheLayerItsIndexAndBothShapes) {
  ModelBuilder builder;
  builder.input("image", {1, 8, 8}).output("d", {3});
  builder.add(Convolution{.name = "conv", .input = "image", .output = "c", .output_channels = 4,
                          .kernel_channels = 1, .kernel_size = {3, 3}});
  builder.add(Flatten{.name = "flatten", .input = "c", .output = "f"});
  builder.add(InnerProduct{.name = "dense", .input = "f", .output = "d", .input_channels = 100,
                           .output_channels = 3});
  const std::string message = build_error(builder);
  EXPECT_NE(message.find("layer 2 'dense'"), std::string::npos) << message;
  EXPECT_NE(message.find("[144, 1, 1]"), std::string::npos) << message;
  EXPECT_NE(message.find("[100, 1, 1]"), std::string::npos) << message;
  EXPECT_NE(message.find("layer 1 'flatten'"), std::string::npos) << message;
}

TEST(Builder, ConvolutionChannelMismatchIsReported) {
  ModelBuilder builder;
  builder.input("image", {3, 8, 8}).output("c", {4, 6, 6});
  builder.add(Convolution{.name = "conv", .input = "image", .output = "c", .output_channels = 4,
                          .kernel_channels = 1, .kernel_size = {3, 3}});
  const std::string message = build_error(builder);
  EXPECT_NE(message.find("layer 0 'conv'"), std::string::npos) << message;
  EXPECT_NE(message.find("[3, 8, 8]"), std::string::npos) << message;
}

TEST(Builder, UnknownInputDuplicateNamesAndTooSmallInputsAreReported) {
  ModelBuilder unknown = small_cnn();
  unknown.add(ReLU{.name = "extra", .input = "nowhere", .output = "x"});
  EXPECT_NE(build_error(unknown).find("input 'nowhere' is neither"), std::string::npos);

  ModelBuilder duplicate = small_cnn();
  duplicate.add(ReLU{.name = "relu", .input = "probabilities", .output = "x"});
  EXPECT_NE(build_error(duplicate).find("'relu' (activation): the layer name is used twice"),
            std::string::npos);

  ModelBuilder tiny;
  tiny.input("image", {1, 2, 2}).output("c", {1});
  tiny.add(Convolution{.name = "conv", .input = "image", .output = "c", .output_channels = 1,
                       .kernel_channels = 1, .kernel_size = {3, 3}});
  EXPECT_NE(build_error(tiny).find("smaller than the 3x3 kernel"), std::string::npos);
}

TEST(Builder, SamePaddingStrideAndGlobalPoolingShapes) {
  ModelBuilder builder;
  builder.input("image", {2, 9, 7}).output("g", {6});
  builder.add(Convolution{.name = "conv", .input = "image", .output = "c", .output_channels = 6,
                          .kernel_channels = 1, .groups = 2, .kernel_size = {3, 3},
                          .stride = {2, 2}, .padding = Padding::kSame});
  builder.add(Pooling{.name = "avg", .input = "c", .output = "a", .type = PoolingType::kAverage,
                      .kernel_size = {3, 3}, .stride = {1, 1}, .padding = Padding::kSame});
  builder.add(Pooling{.name = "global", .input = "a", .output = "g", .type = PoolingType::kMax,
                      .global = true});
  Model model = builder.build();
  BlobShapes shapes = infer_shapes(model);
  EXPECT_EQ(shapes["c"], (std::array<int, 3>{6, 5, 4}));
  EXPECT_EQ(shapes["a"], (std::array<int, 3>{6, 5, 4}));
  EXPECT_EQ(shapes["g"], (std::array<int, 3>{6, 1, 1}));
}

TEST(Builder, UpdateParametersAreChecked) {
  ModelBuilder no_target = small_cnn();
  no_target.loss(CategoricalCrossEntropy{.name = "loss", .input = "probabilities", .target = "t"});
  EXPECT_NE(build_error(no_target).find("target 't' is not one of the training inputs"),
            std::string::npos);

  ModelBuilder bad_default = small_cnn();
  bad_default.training_input("t", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "probabilities", .target = "t"})
      .optimizer(Adam{.mini_batch_size = {64, {32, 128}, std::nullopt}});
  EXPECT_NE(build_error(bad_default).find("the default mini-batch size 64 is not allowed"),
            std::string::npos)
      << build_error(bad_default);
}

}  // namespace
}  // namespace edgetrain
