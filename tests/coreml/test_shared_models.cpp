// The two Core ML models made by Apple's Keras converter (../shared/coreml-models, see its
// README.txt) load with their features and layers, and score on the MNIST test set what an
// independent implementation measured: 0.9890 (CNN, image input through the image scaler) and
// 0.9815 (MLP, multi-array input of pixels / 255).
#include <gtest/gtest.h>

#include <cstdio>

#include "edgetrain/coreml.h"
#include "edgetrain/data.h"
#include "edgetrain/inference.h"
#include "mlmodel_test_util.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

using mlmodel_test::kSharedModels;

const Dataset& mnist_test_set() {
  static const Dataset data = read_idx(test_paths::mnist("t10k-images-idx3-ubyte.gz"),
                                       test_paths::mnist("t10k-labels-idx1-ubyte.gz"));
  return data;
}

std::vector<std::string> layer_types(const Model& model) {
  std::vector<std::string> types;
  for (const Layer& layer : model.layers) types.push_back(layer_type_name(layer));
  return types;
}

TEST(SharedCoreMLModels, CnnWithImageInput) {
  const Model model = read_mlmodel(kSharedModels + "mnist-cnn-image-input.mlmodel");
  EXPECT_EQ(model.metadata.specification_version, 1);
  EXPECT_EQ(model.kind, ModelKind::kNeuralNetwork);
  EXPECT_EQ(model.metadata.author, "Philipp Gabriel");
  ASSERT_EQ(model.inputs.size(), 1u);
  EXPECT_EQ(model.inputs[0].name, "image");
  EXPECT_EQ(model.inputs[0].type, FeatureType::kImage);
  EXPECT_EQ(model.inputs[0].image.color_space, ColorSpace::kGrayscale);
  EXPECT_EQ(model.inputs[0].image.width, 28);
  EXPECT_EQ(model.inputs[0].image.height, 28);
  ASSERT_EQ(model.outputs.size(), 1u);
  EXPECT_EQ(model.outputs[0].name, "prediction");
  EXPECT_EQ(model.outputs[0].type, FeatureType::kDouble);
  EXPECT_EQ(model.outputs[0].shape, std::vector<int64_t>{10});
  ASSERT_EQ(model.preprocessing.size(), 1u);
  EXPECT_EQ(model.preprocessing[0].channel_scale, 1.0f);
  EXPECT_EQ(layer_types(model),
            (std::vector<std::string>{"convolution", "activation", "convolution", "activation",
                                      "pooling", "flatten", "innerProduct", "activation",
                                      "innerProduct", "softmax"}));
  EXPECT_EQ(model.parameter_count(), 600810u);
  EXPECT_FALSE(model.update.has_value());
  for (const Layer& layer : model.layers) EXPECT_FALSE(layer.quantized) << layer.name;

  const Evaluation result = evaluate(model, mnist_test_set());
  std::printf("mnist-cnn-image-input.mlmodel: MNIST t10k accuracy %.4f, loss %.4f\n",
              result.accuracy, result.loss);
  RecordProperty("accuracy", std::to_string(result.accuracy));
  EXPECT_EQ(result.samples, 10000u);
  EXPECT_NEAR(result.accuracy, 0.9890, 0.0005);
}

TEST(SharedCoreMLModels, MlpWithMultiArrayInput) {
  const Model model = read_mlmodel(kSharedModels + "mnist-mlp-multiarray.mlmodel");
  EXPECT_EQ(model.metadata.specification_version, 1);
  ASSERT_EQ(model.inputs.size(), 1u);
  EXPECT_EQ(model.inputs[0].name, "input1");
  EXPECT_EQ(model.inputs[0].type, FeatureType::kDouble);
  EXPECT_EQ(model.inputs[0].shape, std::vector<int64_t>{784});
  ASSERT_EQ(model.outputs.size(), 1u);
  EXPECT_EQ(model.outputs[0].name, "output1");
  EXPECT_EQ(model.outputs[0].shape, std::vector<int64_t>{10});
  EXPECT_TRUE(model.preprocessing.empty());
  EXPECT_EQ(layer_types(model),
            (std::vector<std::string>{"innerProduct", "activation", "innerProduct", "activation",
                                      "innerProduct", "softmax"}));
  EXPECT_EQ(model.parameter_count(), 669706u);

  const Evaluation result = evaluate(model, mnist_test_set());
  std::printf("mnist-mlp-multiarray.mlmodel: MNIST t10k accuracy %.4f, loss %.4f\n",
              result.accuracy, result.loss);
  RecordProperty("accuracy", std::to_string(result.accuracy));
  EXPECT_NEAR(result.accuracy, 0.9815, 0.0005);
}

}  // namespace
}  // namespace edgetrain
