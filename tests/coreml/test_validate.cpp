// validate_coreml: for each of Core ML's rules for updatable networks, a model that breaks it and
// the one line it gets; the warnings; and that valid models (the seed's LeNet, classifiers) pass.
#include <gtest/gtest.h>

#include "coreml/small_models.h"
#include "edgetrain/coreml.h"
#include "edgetrain/model.h"

namespace edgetrain {
namespace {

std::string all(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// The model fails with exactly one error line containing `expected`.
void expect_one_error(const Model& model, const std::string& expected) {
  const ValidationReport report = validate_coreml(model);
  ASSERT_EQ(report.errors.size(), 1u) << all(report.errors);
  EXPECT_NE(report.errors[0].find(expected), std::string::npos) << report.errors[0];
  EXPECT_EQ(report.errors[0].find('\n'), std::string::npos) << "one line: " << report.errors[0];
}

void expect_error(const Model& model, const std::string& expected) {
  const ValidationReport report = validate_coreml(model);
  bool found = false;
  for (const std::string& error : report.errors) found |= error.find(expected) != std::string::npos;
  EXPECT_TRUE(found) << "expected '" << expected << "' among:\n" << all(report.errors);
}

TEST(ValidateCoreML, ValidModelsPass) {
  for (const Model& model : {small_model(), lenet()}) {
    const ValidationReport report = validate_coreml(model);
    EXPECT_TRUE(report.ok()) << all(report.errors);
    EXPECT_TRUE(report.warnings.empty()) << all(report.warnings);
  }
  // A model that is not updatable gets only the structural checks.
  Model plain = small_model();
  plain.update.reset();
  plain.training_inputs.clear();
  for (Layer& l : plain.layers) l.updatable = false;
  plain.metadata.specification_version = 1;
  EXPECT_TRUE(validate_coreml(plain).ok());
}

TEST(ValidateCoreML, SpecificationVersionAtLeastFour) {
  Model model = small_model();
  model.metadata.specification_version = 3;
  expect_one_error(model,
                   "specificationVersion 3: an updatable model needs specification version 4");
}

TEST(ValidateCoreML, OnlyConvolutionAndInnerProductLayersAreUpdatable) {
  Model model = small_model();
  layer(model, "relu1").updatable = true;
  expect_one_error(model,
                   "layer 'relu1' (activation) is marked updatable, but only convolution and "
                   "innerProduct layers can be updated");
}

TEST(ValidateCoreML, UpdatableLayersNeedUpdatableWeightsAndBias) {
  Model weights = small_model();
  layer(weights, "conv1").parameters[0].file_updatable = false;
  expect_one_error(weights,
                   "layer 'conv1' (convolution) is updatable but its weights are not marked "
                   "updatable");
  Model bias = small_model();
  layer(bias, "dense1").parameters[1].file_updatable = false;
  expect_one_error(bias,
                   "layer 'dense1' (innerProduct) is updatable but its bias is not marked "
                   "updatable");
}

TEST(ValidateCoreML, UpdatableLayersCannotBeQuantized) {
  Model model = small_model();
  layer(model, "dense1").quantized = true;
  expect_one_error(model,
                   "layer 'dense1' (innerProduct) is updatable but its weights are quantized "
                   "or half precision");
  // A quantized layer that is not updatable is fine.
  layer(model, "dense1").updatable = false;
  EXPECT_TRUE(validate_coreml(model).ok()) << all(validate_coreml(model).errors);
}

TEST(ValidateCoreML, AtLeastOneUpdatableLayer) {
  Model model = small_model();
  for (Layer& l : model.layers) l.updatable = false;
  expect_one_error(model, "the model is updatable but none of its layers is marked updatable");
}

TEST(ValidateCoreML, LayerAndLossNamesAreUnique) {
  Model layers = small_model();
  layer(layers, "pool1").name = "relu1";
  expect_one_error(layers, "name 'relu1' is used by 2 layers and loss layers");
  Model loss = small_model();
  loss.update->losses[0].name = "dense1";
  expect_one_error(loss, "name 'dense1' is used by 2 layers and loss layers");
}

TEST(ValidateCoreML, ExactlyOneLoss) {
  Model two = small_model();
  Loss second = two.update->losses[0];
  second.name = "lossLayer2";
  two.update->losses.push_back(second);
  expect_one_error(two, "update parameters: 2 loss layers; Core ML needs exactly one");
  Model none = small_model();
  none.update->losses.clear();
  expect_one_error(none, "update parameters: 0 loss layers; Core ML needs exactly one");
}

TEST(ValidateCoreML, CrossEntropyInputComesFromASoftmax) {
  Model model = small_model();
  model.update->losses[0].input = "d1";
  expect_one_error(model,
                   "loss 'lossLayer' (categorical cross-entropy): input 'd1' is not the "
                   "output of a softmax layer (it comes from layer 'dense1' (innerProduct))");
  // Mean squared error only needs an input produced by a layer.
  Model mse = small_model();
  mse.update->losses[0].type = LossType::kMeanSquaredError;
  mse.update->losses[0].input = "image";
  expect_error(mse,
               "loss 'lossLayer' (mean squared error): input 'image' is not produced by any layer");
}

TEST(ValidateCoreML, LossTargetIsNotProducedInsideTheNetwork) {
  Model model = small_model();
  model.update->losses[0].target = "f1";
  model.training_inputs[1].name = "f1";
  expect_one_error(model,
                   "loss 'lossLayer' (categorical cross-entropy): target 'f1' is produced "
                   "inside the network by layer 'flatten' (flatten)");
}

TEST(ValidateCoreML, LossTargetIsATrainingInput) {
  Model model = small_model();
  model.update->losses[0].target = "label";
  expect_one_error(model,
                   "loss 'lossLayer' (categorical cross-entropy): target 'label' is not among "
                   "the training inputs");
}

TEST(ValidateCoreML, OptimizerParametersArePresent) {
  Model adam = small_model();
  std::get<Adam>(adam.update->optimizer).beta1.present = false;
  expect_one_error(adam, "optimizer (Adam) beta1: missing; Core ML requires it");
  Model sgd = small_model();
  sgd.update->optimizer = Sgd{};
  std::get<Sgd>(sgd.update->optimizer).mini_batch_size.present = false;
  expect_one_error(sgd, "optimizer (SGD) miniBatchSize: missing; Core ML requires it");
}

TEST(ValidateCoreML, OptimizerDefaultsAreInsideTheirAllowedValues) {
  Model rate = small_model();
  std::get<Adam>(rate.update->optimizer).learning_rate = {2.0, std::array<double, 2>{0.0, 1.0}};
  expect_one_error(rate,
                   "optimizer (Adam) learningRate: default 2 is outside the allowed range [0, 1]");
  Model set = small_model();
  std::get<Adam>(set.update->optimizer).mini_batch_size = {128, std::nullopt, {32, 64}};
  expect_one_error(
      set, "optimizer (Adam) miniBatchSize: default 128 is not in the allowed set {32, 64}");
  Model range = small_model();
  std::get<Adam>(range.update->optimizer).mini_batch_size = {
      128, std::array<int64_t, 2>{1, 64}};
  expect_one_error(
      range, "optimizer (Adam) miniBatchSize: default 128 is outside the allowed range [1, 64]");
  Model positive = small_model();
  std::get<Adam>(positive.update->optimizer).mini_batch_size = {0, std::nullopt, {}};
  expect_one_error(positive, "optimizer (Adam) miniBatchSize: default 0 must be positive");
  Model momentum = small_model();
  momentum.update->optimizer = Sgd{.momentum = {1.5, std::array<double, 2>{0.0, 1.0}}};
  expect_one_error(momentum,
                   "optimizer (SGD) momentum: default 1.5 is outside the allowed range [0, 1]");
  Model beta2 = small_model();
  std::get<Adam>(beta2.update->optimizer).beta2 = {-0.5, std::array<double, 2>{0.0, 1.0}};
  expect_one_error(beta2,
                   "optimizer (Adam) beta2: default -0.5 is outside the allowed range [0, 1]");
}

TEST(ValidateCoreML, EpochsArePresentAndPositive) {
  Model missing = small_model();
  missing.update->epochs.present = false;
  expect_one_error(missing, "epochs: missing; Core ML requires it");
  Model zero = small_model();
  zero.update->epochs = {0, std::nullopt, {}};
  expect_one_error(zero, "epochs: default 0 must be positive");
  Model range = small_model();
  range.update->epochs = {5, std::array<int64_t, 2>{0, 10}};
  expect_one_error(range, "epochs: the allowed range [0, 10] must hold positive values only");
  Model set = small_model();
  set.update->epochs = {5, std::nullopt, {10}};
  expect_one_error(set, "epochs: default 5 is not in the allowed set {10}");
}

TEST(ValidateCoreML, AtLeastTwoTrainingInputsOneOfThemAModelInput) {
  Model one = small_model();
  one.training_inputs.erase(one.training_inputs.begin());
  expect_one_error(one,
                   "training inputs: 1 declared; Core ML needs at least two (a model input and "
                   "the loss target)");
  Model other = small_model();
  other.training_inputs[0].shape = {64};  // same name, another type: not the model input
  expect_one_error(other,
                   "training inputs: none of them is a model input (same name and type); "
                   "add the model input 'image'");
  Model inputs_only = small_model();
  inputs_only.inputs.push_back(inputs_only.training_inputs[1]);  // the target made a model input
  expect_error(inputs_only,
               "training inputs: all of them are model inputs; the loss target must be "
               "one too");
}

TEST(ValidateCoreML, OnlyBackPropagableLayersBetweenUpdatableLayersAndTheLoss) {
  Model model = small_model(/*linear_before_softmax=*/true);
  expect_one_error(model,
                   "layer 'scale' (activation) does not support back-propagation, but it sits "
                   "between updatable layer 'dense1' (innerProduct) and loss 'lossLayer'");
  // Nothing updatable behind it: fine.
  Model frozen = small_model(true);
  layer(frozen, "conv1").updatable = false;
  layer(frozen, "dense1").updatable = false;
  expect_one_error(frozen, "none of its layers is marked updatable");
}

// Mean squared error read straight off an inner product is what Apple's own regressor examples
// train (no source says Core ML fails on it): no warning.
TEST(ValidateCoreML, MeanSquaredErrorOnALinearInnerProductIsValid) {
  Model model = small_model();
  model.update->losses[0] = {
      .name = "lossLayer", .type = LossType::kMeanSquaredError, .input = "d1", .target = "d1_true"};
  model.training_inputs[1] = {.name = "d1_true", .shape = {3}};
  ValidationReport report = validate_coreml(model);
  EXPECT_TRUE(report.ok()) << all(report.errors);
  EXPECT_TRUE(report.warnings.empty()) << all(report.warnings);
  // After an activation, neither.
  layer(model, "softmax").params = Sigmoid();
  model.update->losses[0].input = "output";
  model.training_inputs[1].name = model.update->losses[0].target = "output_true";
  report = validate_coreml(model);
  EXPECT_TRUE(report.ok()) << all(report.errors);
  EXPECT_TRUE(report.warnings.empty()) << all(report.warnings);
  // A softmax only back-propagates into cross-entropy: mean squared error after one is an error.
  layer(model, "softmax").params = Softmax{};
  expect_one_error(model,
                   "layer 'softmax' (softmax) does not support back-propagation, but it "
                   "sits between updatable layer 'dense1' (innerProduct) and loss "
                   "'lossLayer' (mean squared error)");
}

TEST(ValidateCoreML, WarnsAboutUpdatableLayersInAModelThatIsNot) {
  Model model = small_model();
  model.update.reset();
  const ValidationReport report = validate_coreml(model);
  EXPECT_TRUE(report.ok());
  ASSERT_EQ(report.warnings.size(), 2u) << all(report.warnings);
  EXPECT_NE(
      report.warnings[0].find("layer 'conv1' (convolution) is marked updatable, but the model "
                              "has no update parameters"),
      std::string::npos);
}

TEST(ValidateCoreML, ReportsStructuralProblemsToo) {
  Model model = small_model();
  model.parameters.pop_back();
  expect_one_error(model, "the parameter block holds");
}

TEST(ValidateCoreML, ClassifierTargetsAreClassLabels) {
  Model model = as_classifier(small_model(), {.int_labels = {7, 8, 9}});
  EXPECT_EQ(model.kind, ModelKind::kClassifier);
  EXPECT_EQ(model.update->losses[0].target, "classLabel");
  ValidationReport report = validate_coreml(model);
  EXPECT_TRUE(report.ok()) << all(report.errors);

  // Core ML accepts the predicted class label as the training input, if its type matches.
  Model renamed = model;
  renamed.update->losses[0].target = "somethingElse";
  EXPECT_TRUE(validate_coreml(renamed).ok()) << all(validate_coreml(renamed).errors);
  renamed.training_inputs[1].type = FeatureType::kString;
  expect_one_error(renamed,
                   "training input 'classLabel' is String but the classifier's class label "
                   "output 'classLabel' is Int64");
  renamed.training_inputs[1].name = "other";
  expect_one_error(renamed,
                   "training inputs: neither the target 'somethingElse' of loss 'lossLayer' "
                   "(categorical cross-entropy) nor the classifier's class label "
                   "'classLabel' is among them");

  Model strings = as_classifier(small_model(), {.string_labels = {"a", "b", "c"}});
  EXPECT_EQ(strings.training_inputs[1].type, FeatureType::kString);
  EXPECT_TRUE(validate_coreml(strings).ok()) << all(validate_coreml(strings).errors);
  // An Int64 target on a model with string labels is edgetrain's own check.
  strings.training_inputs[1].type = FeatureType::kInt64;
  strings.outputs[0].type = FeatureType::kInt64;
  expect_one_error(strings,
                   "cross-entropy target 'classLabel' (Int64 class label) needs a "
                   "classifier with int64 class labels");
}

TEST(ValidateCoreML, EachFailureIsItsOwnLine) {
  Model model = small_model();
  model.metadata.specification_version = 2;
  layer(model, "relu1").updatable = true;
  model.update->epochs.present = false;
  const ValidationReport report = validate_coreml(model);
  EXPECT_EQ(report.errors.size(), 3u) << all(report.errors);
}

}  // namespace
}  // namespace edgetrain
