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
  builder.add(Layer{"conv", "image", "c",
                    Convolution{.output_channels = 4, .kernel_channels = 1, .kernel_size = {3, 3}},
                    kUpdatable});
  builder.add(Layer{"relu", "c", "r", ReLU()});
  builder.add(Layer{"pool", "r", "p", Pooling{}});
  builder.add(Layer{"flatten", "p", "f", Flatten{}});
  builder.add(Layer{"dense", "f", "d", InnerProduct{.input_channels = 36, .output_channels = 3},
                    kUpdatable});
  builder.add(Layer{"softmax", "d", "probabilities", Softmax{}});
  return builder;
}

TEST(Builder, LenetHasTheSeedsShapesAndParameterCount) {
  Model model = lenet();
  EXPECT_EQ(model.parameter_count(), 585958u);
  EXPECT_EQ(model.layers.size(), 11u);
  BlobShapes shapes = infer_shapes(model);
  EXPECT_EQ(shapes["outConv1"], (Shape{32, 26, 26}));
  EXPECT_EQ(shapes["outPooling1"], (Shape{32, 13, 13}));
  EXPECT_EQ(shapes["outConv2"], (Shape{32, 12, 12}));
  EXPECT_EQ(shapes["outPooling2"], (Shape{32, 6, 6}));
  EXPECT_EQ(shapes["outFlatten1"], (Shape{1152, 1, 1}));
  EXPECT_EQ(shapes["output"], (Shape{10, 1, 1}));
  // Channels the inputs decide were filled in.
  EXPECT_EQ(std::get<Convolution>(model.layer("conv2").params).kernel_channels, 32);
  EXPECT_EQ(std::get<InnerProduct>(model.layer("hidden1").params).input_channels, 1152);
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
  ASSERT_EQ(dense.parameters.size(), 2u);
  EXPECT_EQ(dense.parameters[0].name, "weights");
  EXPECT_EQ(dense.parameters[0].shape, (std::vector<int64_t>{3, 36}));
  EXPECT_EQ(dense.parameters[0].slice.offset, 40u);
  EXPECT_EQ(dense.parameters[0].slice.size, 108u);
  EXPECT_EQ(dense.parameters[1].name, "bias");
  EXPECT_EQ(dense.parameters[1].slice.offset, 148u);
}

TEST(Builder, InitialisationIsSeededAndHeUniform) {
  const Initializer he = Initializer::kHeUniform;
  Model a = lenet({.seed = 1, .initializer = he}), b = lenet({.seed = 1, .initializer = he}),
        c = lenet({.seed = 2, .initializer = he});
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_NE(a.parameters, c.parameters);
  const LayerParameter& weights = a.layer("conv1").parameters[0];
  const LayerParameter& bias = a.layer("conv1").parameters[1];
  const float limit = std::sqrt(6.0f / 9.0f);
  float largest = 0;
  for (size_t i = 0; i < weights.slice.size; ++i) {
    largest = std::max(largest, std::fabs(a.data(weights)[i]));
  }
  EXPECT_LE(largest, limit);
  EXPECT_GT(largest, 0.9f * limit);
  for (size_t i = 0; i < bias.slice.size; ++i) EXPECT_EQ(a.data(bias)[i], 0.0f);
}

TEST(Builder, LenetCanUseGlorotUniform) {
  const Model model = lenet({.initializer = Initializer::kGlorotUniform});
  const LayerParameter& weights = model.layer("hidden1").parameters[0];  // fan in 1152, out 500
  const float limit = std::sqrt(6.0f / (1152.0f + 500.0f));
  float largest = 0;
  for (size_t i = 0; i < weights.slice.size; ++i) {
    largest = std::max(largest, std::fabs(model.data(weights)[i]));
  }
  EXPECT_LE(largest, limit);
  EXPECT_GT(largest, 0.99f * limit);
}

TEST(Builder, ShapeMismatchNamesTheLayerItsIndexAndBothShapes) {
  ModelBuilder builder;
  builder.input("image", {1, 8, 8}).output("d", {3});
  builder.add(
      Layer{"conv", "image", "c",
            Convolution{.output_channels = 4, .kernel_channels = 1, .kernel_size = {3, 3}}});
  builder.add(Layer{"flatten", "c", "f", Flatten{}});
  builder.add(Layer{"dense", "f", "d", InnerProduct{.input_channels = 100, .output_channels = 3}});
  const std::string message = build_error(builder);
  EXPECT_NE(message.find("layer 2 'dense'"), std::string::npos) << message;
  EXPECT_NE(message.find("[144, 1, 1]"), std::string::npos) << message;
  EXPECT_NE(message.find("[100, 1, 1]"), std::string::npos) << message;
  EXPECT_NE(message.find("layer 1 'flatten'"), std::string::npos) << message;
}

TEST(Builder, ConvolutionChannelMismatchIsReported) {
  ModelBuilder builder;
  builder.input("image", {3, 8, 8}).output("c", {4, 6, 6});
  builder.add(
      Layer{"conv", "image", "c",
            Convolution{.output_channels = 4, .kernel_channels = 1, .kernel_size = {3, 3}}});
  const std::string message = build_error(builder);
  EXPECT_NE(message.find("layer 0 'conv'"), std::string::npos) << message;
  EXPECT_NE(message.find("[3, 8, 8]"), std::string::npos) << message;
}

TEST(Builder, UnknownInputDuplicateNamesAndTooSmallInputsAreReported) {
  ModelBuilder unknown = small_cnn();
  unknown.add(Layer{"extra", "nowhere", "x", ReLU()});
  EXPECT_NE(build_error(unknown).find("input 'nowhere' is neither"), std::string::npos);

  ModelBuilder duplicate = small_cnn();
  duplicate.add(Layer{"relu", "probabilities", "x", ReLU()});
  EXPECT_NE(build_error(duplicate).find("'relu' (activation): the layer name is used twice"),
            std::string::npos);

  ModelBuilder tiny;
  tiny.input("image", {1, 2, 2}).output("c", {1});
  tiny.add(Layer{"conv", "image", "c",
                 Convolution{.output_channels = 1, .kernel_channels = 1, .kernel_size = {3, 3}}});
  EXPECT_NE(build_error(tiny).find("smaller than the 3x3 kernel"), std::string::npos);
}

TEST(Builder, SamePaddingStrideAndGlobalPoolingShapes) {
  ModelBuilder builder;
  builder.input("image", {2, 9, 7}).output("g", {6});
  builder.add(Layer{"conv", "image", "c",
                    Convolution{.output_channels = 6,
                                .kernel_channels = 1,
                                .groups = 2,
                                .kernel_size = {3, 3},
                                .stride = {2, 2},
                                .padding = Padding::kSame}});
  builder.add(Layer{"avg", "c", "a",
                    Pooling{.type = PoolingType::kAverage,
                            .kernel_size = {3, 3},
                            .stride = {1, 1},
                            .padding = Padding::kSame}});
  builder.add(Layer{"global", "a", "g", Pooling{.type = PoolingType::kMax, .global = true}});
  Model model = builder.build();
  BlobShapes shapes = infer_shapes(model);
  EXPECT_EQ(shapes["c"], (Shape{6, 5, 4}));
  EXPECT_EQ(shapes["a"], (Shape{6, 5, 4}));
  EXPECT_EQ(shapes["g"], (Shape{6, 1, 1}));
}

TEST(Builder, UpdateParametersAreChecked) {
  ModelBuilder no_target = small_cnn();
  no_target.loss(CategoricalCrossEntropy{.name = "loss", .input = "probabilities", .target = "t"});
  EXPECT_NE(build_error(no_target).find("target 't' is not one of the training inputs"),
            std::string::npos);

  ModelBuilder bad_default = small_cnn();
  bad_default.training_input("t", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "probabilities", .target = "t"})
      .optimizer(Adam{.mini_batch_size = {64, std::nullopt, {32, 128}}});
  EXPECT_NE(build_error(bad_default).find("the default mini-batch size 64 is not allowed"),
            std::string::npos)
      << build_error(bad_default);

  // Cross-entropy reads probabilities: on a layer that is not a softmax it is refused at build().
  ModelBuilder not_softmax = small_cnn();
  not_softmax.output("d", {3})
      .training_input("t", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "d", .target = "t"});
  EXPECT_NE(build_error(not_softmax).find("cross-entropy input 'd' is not the output of a softmax"),
            std::string::npos)
      << build_error(not_softmax);
}

TEST(Builder, FieldsTheInputsDecideMayBeLeftOut) {
  ModelBuilder builder;
  builder.input("image", {3, 8, 8}).output("d", {5});
  builder.layers({{"conv", "image", "c", Convolution{.output_channels = 4, .groups = 1}},
                  {"prelu", "c", "p", Activation{.type = ActivationType::kPReLU}},
                  {"flatten", "p", "f", Flatten{}},
                  {"dense", "f", "d", InnerProduct{.output_channels = 5}}});
  const Model model = builder.build();
  EXPECT_EQ(std::get<Convolution>(model.layer("conv").params).kernel_channels, 3);
  EXPECT_EQ(std::get<Activation>(model.layer("prelu").params).channels, 4);
  EXPECT_EQ(std::get<InnerProduct>(model.layer("dense").params).input_channels, 4 * 6 * 6);
  // A PReLU's alpha starts at 0.25, as Keras's and PyTorch's.
  EXPECT_EQ(model.data(model.layer("prelu").parameters[0])[0], 0.25f);
}

}  // namespace
}  // namespace edgetrain
