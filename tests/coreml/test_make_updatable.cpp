// make_updatable and as_classifier: what they set, what they refuse, and that the result trains
// (class-label targets included).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "coreml/small_models.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/train.h"

namespace edgetrain {
namespace {

std::string error_of(const Model& model, const MakeUpdatableOptions& options) {
  try {
    make_updatable(model, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Three classes of 8x8 images told apart by where a bright square sits; labels 0, 1, 2.
Dataset squares(size_t count) {
  Dataset data;
  data.channels = 1;
  data.height = data.width = 8;
  data.num_classes = 3;
  for (size_t i = 0; i < count; ++i) {
    const int label = int(i % 3);
    std::vector<float> image(64, 0.05f * float(i % 7));
    for (int y = 0; y < 3; ++y) {
      for (int x = 0; x < 3; ++x) image[size_t((1 + y) * 8 + label * 2 + x)] = 1.0f;
    }
    data.pixels.insert(data.pixels.end(), image.begin(), image.end());
    data.labels.push_back(label);
  }
  return data;
}

TEST(MakeUpdatable, SetsVersionFlagsLossTargetOptimizerAndEpochs) {
  const Model plain = plain_model();
  const Model model = make_updatable(
      plain, {.layers = {"dense1"}, .learning_rate = 0.01, .batch_size = 16, .epochs = 3});
  EXPECT_EQ(model.metadata.specification_version, 4);
  EXPECT_TRUE(model.layer("dense1").updatable);
  for (const LayerParameter& parameter : model.layer("dense1").parameters) {
    EXPECT_TRUE(model.layer("dense1").marked_updatable(parameter)) << parameter.name;
  }
  EXPECT_FALSE(model.layer("conv1").updatable);
  ASSERT_TRUE(model.update);
  ASSERT_EQ(model.update->losses.size(), 1u);
  const Loss& loss = model.update->losses[0];
  EXPECT_EQ(loss.name, "lossLayer");
  EXPECT_EQ(loss.type, LossType::kCategoricalCrossEntropy);
  EXPECT_EQ(loss.input, "output");
  EXPECT_EQ(loss.target, "output_true");
  ASSERT_EQ(model.training_inputs.size(), 2u);
  EXPECT_EQ(model.training_inputs[0].name, "image");
  EXPECT_EQ(model.training_inputs[1].name, "output_true");
  EXPECT_EQ(model.training_inputs[1].type, FeatureType::kInt32);
  EXPECT_EQ(model.training_inputs[1].shape, std::vector<int64_t>{1});
  const Adam& adam = std::get<Adam>(model.update->optimizer);
  EXPECT_EQ(adam.learning_rate.default_value, 0.01);
  EXPECT_EQ(adam.mini_batch_size.default_value, 16);
  EXPECT_EQ(model.update->epochs.default_value, 3);
  EXPECT_TRUE(model.update->shuffle);
  EXPECT_TRUE(validate_coreml(model).ok());
  EXPECT_EQ(model.parameters, plain.parameters);

  // A later specification version is kept.
  Model newer = plain;
  newer.metadata.specification_version = 5;
  EXPECT_EQ(make_updatable(newer, {.layers = {"conv1"}}).metadata.specification_version, 5);
}

TEST(MakeUpdatable, SgdAndMeanSquaredError) {
  Model sigmoid = plain_model();
  layer(sigmoid, "softmax").params = Sigmoid();
  sigmoid.outputs[0].type = FeatureType::kDouble;
  const Model model = make_updatable(sigmoid, {.layers = {"conv1", "dense1"},
                                               .loss = LossType::kMeanSquaredError,
                                               .optimizer = OptimizerKind::kSgd,
                                               .learning_rate = 0.05,
                                               .momentum = 0.9});
  const Sgd& sgd = std::get<Sgd>(model.update->optimizer);
  EXPECT_EQ(sgd.learning_rate.default_value, 0.05);
  EXPECT_EQ(sgd.momentum.default_value, 0.9);
  const Loss& loss = model.update->losses[0];
  EXPECT_EQ(loss.type, LossType::kMeanSquaredError);
  EXPECT_EQ(loss.input, "output");
  EXPECT_EQ(loss.target, "output_true");
  // The target has the output's shape and type.
  EXPECT_EQ(model.training_inputs[1].type, FeatureType::kDouble);
  EXPECT_EQ(model.training_inputs[1].shape, std::vector<int64_t>{3});
  const ValidationReport report = validate_coreml(model);
  EXPECT_TRUE(report.ok());
  EXPECT_TRUE(report.warnings.empty());

  // On a blob that is not a model output: its inferred shape, FLOAT32.
  const Model linear = make_updatable(
      plain_model(),
      {.layers = {"dense1"}, .loss = LossType::kMeanSquaredError, .loss_input = "d1"});
  EXPECT_EQ(linear.update->losses[0].target, "d1_true");
  EXPECT_EQ(linear.training_inputs[1].type, FeatureType::kFloat32);
  EXPECT_EQ(linear.training_inputs[1].shape, std::vector<int64_t>{3});
  EXPECT_TRUE(validate_coreml(linear).ok());
  // Mean squared error after a softmax cannot train in Core ML: refused.
  EXPECT_NE(error_of(plain_model(), {.layers = {"dense1"}, .loss = LossType::kMeanSquaredError})
                .find("layer 'softmax' (softmax) does not support back-propagation"),
            std::string::npos);
}

TEST(MakeUpdatable, RefusesWhatCoreMLCannotUpdate) {
  const Model plain = plain_model();
  EXPECT_NE(error_of(plain, {.layers = {"nope"}})
                .find("the model has no layer named 'nope' (its "
                      "layers: conv1 (convolution), relu1"),
            std::string::npos)
      << error_of(plain, {.layers = {"nope"}});
  EXPECT_NE(error_of(plain, {.layers = {"pool1"}})
                .find("layer 'pool1' (pooling) cannot be made updatable: Core ML updates only "
                      "convolution and innerProduct layers"),
            std::string::npos);
  Model quantized = plain;
  layer(quantized, "dense1").quantized = true;
  EXPECT_NE(error_of(quantized, {.layers = {"dense1"}})
                .find("layer 'dense1' (innerProduct) cannot be made updatable: its weights are "
                      "quantized or half precision"),
            std::string::npos);
  EXPECT_NE(error_of(plain, {.layers = {"dense1"}, .loss_input = "d1"})
                .find("cross-entropy needs a softmax output, but the loss input 'd1' comes from "
                      "layer 'dense1' (innerProduct)"),
            std::string::npos);
  EXPECT_NE(error_of(plain, {.layers = {"dense1"}, .loss_input = "image"})
                .find("the loss input 'image' is not the output of any layer"),
            std::string::npos);
  EXPECT_NE(error_of(plain, {.layers = {}}).find("name at least one"), std::string::npos);
  EXPECT_NE(error_of(plain, {.layers = {"dense1"}, .target_name = "f1"})
                .find("the loss target 'f1' is already a name in the model"),
            std::string::npos);
  EXPECT_NE(error_of(plain, {.layers = {"dense1"}, .epochs = 0}).find("epochs must be positive"),
            std::string::npos);
  // With a linear activation before the softmax, the result would break Core ML's back-propagation
  // rule: refused with the rule's message.
  Model linear = small_model(true);
  linear.update.reset();
  EXPECT_NE(error_of(linear, {.layers = {"dense1"}}).find("does not support back-propagation"),
            std::string::npos);
}

TEST(MakeUpdatable, ClassifiersTrainOnTheirClassLabel) {
  const Model ints = make_updatable(as_classifier(plain_model(), {.int_labels = {0, 1, 2}}),
                                    {.layers = {"dense1"}});
  EXPECT_EQ(ints.update->losses[0].target, "classLabel");
  EXPECT_EQ(ints.update->losses[0].input, "output");
  EXPECT_EQ(ints.training_inputs.back().name, "classLabel");
  EXPECT_EQ(ints.training_inputs.back().type, FeatureType::kInt64);
  EXPECT_TRUE(validate_coreml(ints).ok());
  const Model strings = make_updatable(
      as_classifier(plain_model(), {.string_labels = {"0", "1", "2"}}), {.layers = {"dense1"}});
  EXPECT_EQ(strings.training_inputs.back().type, FeatureType::kString);
  EXPECT_TRUE(validate_coreml(strings).ok());
}

TEST(AsClassifier, OutputsAreTheClassLabelAndTheProbabilities) {
  const Model model = as_classifier(small_model(), {.int_labels = {0, 1, 2}});
  ASSERT_EQ(model.outputs.size(), 2u);
  EXPECT_EQ(model.outputs[0].name, "classLabel");
  EXPECT_EQ(model.outputs[0].type, FeatureType::kInt64);
  EXPECT_EQ(model.outputs[1].name, "output");
  EXPECT_EQ(model.outputs[1].type, FeatureType::kDictionary);
  EXPECT_EQ(model.outputs[1].dictionary_key, FeatureType::kInt64);
  EXPECT_EQ(model.metadata.predicted_feature_name, "classLabel");
  EXPECT_EQ(model.metadata.predicted_probabilities_name, "output");
  ASSERT_EQ(model.training_inputs.size(), 2u);
  EXPECT_EQ(model.training_inputs[1].name, "classLabel");
  try {
    as_classifier(small_model(), {.int_labels = {0, 1}});
    ADD_FAILURE() << "two labels for three outputs";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has 3 values but 2 class labels were given"),
              std::string::npos)
        << e.what();
  }
}

TEST(ClassLabelTargets, DatasetLabelsMapToClassIndices) {
  const Dataset data = squares(300);
  // Labels in order: the same training as the seed's Int32 target, bit for bit.
  Model plain = small_model();
  Model ints = as_classifier(small_model(), {.int_labels = {0, 1, 2}});
  Model strings = as_classifier(small_model(), {.string_labels = {"0", "1", "2"}});
  UpdateTask(plain, data, {.epochs = 2, .seed = 1, .threads = 1}).run();
  UpdateTask(ints, data, {.epochs = 2, .seed = 1, .threads = 1}).run();
  UpdateTask(strings, data, {.epochs = 2, .seed = 1, .threads = 1}).run();
  EXPECT_EQ(plain.parameters, ints.parameters);
  EXPECT_EQ(plain.parameters, strings.parameters);

  // Permuted labels: class k stands for digit labels[k]; the model learns that.
  Model permuted = as_classifier(small_model(), {.int_labels = {2, 0, 1}});
  UpdateTask(permuted, data, {.epochs = 20, .learning_rate = 0.01, .seed = 1}).run();
  const Evaluation result = evaluate(permuted, data);
  EXPECT_GT(result.accuracy, 0.95);
  Predictor predictor(permuted);
  const Prediction first = predictor.predict(data.image(0));  // digit 0 = class 1
  EXPECT_EQ(first.label, 1);
}

TEST(ClassLabelTargets, ALabelNoClassHasIsNamed) {
  Dataset data = squares(30);
  data.labels[4] = 7;
  Model model = as_classifier(small_model(), {.string_labels = {"0", "1", "2"}});
  try {
    UpdateTask(model, data, {.epochs = 1}).run();
    ADD_FAILURE() << "label 7 has no class";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sample 4 has label 7, which is not one of the "
                                         "classifier's class labels (\"0\", \"1\", \"2\")"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace edgetrain
