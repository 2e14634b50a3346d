// Turning a model made elsewhere into an updatable one, as coremltools' NeuralNetworkBuilder does
// with make_updatable, set_categorical_cross_entropy_loss / set_mean_squared_error_loss,
// set_adam_optimizer / set_sgd_optimizer and set_epochs; and turning a network into a
// neuralNetworkClassifier.
#include <algorithm>

#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "nn/layer_kind.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

std::string describe(const Layer& layer) {
  return "layer '" + layer.name + "' (" + layer_type_name(layer) + ")";
}

std::string layer_list(const Model& model) {
  std::string list;
  for (const Layer& layer : model.layers) {
    list += (list.empty() ? "" : ", ") + layer.name + " (" + layer_type_name(layer) + ")";
  }
  return list;
}

const Layer* producer_of(const Model& model, const std::string& blob) {
  for (const Layer& layer : model.layers) {
    for (const std::string& output : layer.outputs) {
      if (output == blob) return &layer;
    }
  }
  return nullptr;
}

const Feature* find_feature(const std::vector<Feature>& features, const std::string& name) {
  for (const Feature& feature : features) {
    if (feature.name == name) return &feature;
  }
  return nullptr;
}

bool name_taken(const Model& model, const BlobShapes& shapes, const std::string& name) {
  if (shapes.count(name) || find_feature(model.outputs, name)) return true;
  for (const Layer& layer : model.layers) {
    if (layer.name == name) return true;
  }
  return false;
}

void mark_updatable(Model& model, const std::string& name) {
  auto found = std::find_if(model.layers.begin(), model.layers.end(),
                            [&](const Layer& layer) { return layer.name == name; });
  if (found == model.layers.end()) {
    throw Error("the model has no layer named '" + name + "' (its layers: " + layer_list(model) +
                ")");
  }
  Layer& layer = *found;
  if (!layer_kind(layer).coreml_updatable()) {
    throw Error(describe(layer) +
                " cannot be made updatable: Core ML updates only convolution and "
                "innerProduct layers");
  }
  if (layer.quantized) {
    throw Error(describe(layer) +
                " cannot be made updatable: its weights are quantized or half "
                "precision, and Core ML updates float32 weights only");
  }
  layer.updatable = true;
  for (LayerParameter& parameter : layer.parameters) parameter.file_updatable.reset();
}

// The target training input the loss compares its input with.
Feature make_target(const Model& model, const BlobShapes& shapes,
                    const MakeUpdatableOptions& options, const std::string& loss_input) {
  const bool classifier = model.kind == ModelKind::kClassifier;
  const std::string& class_label = model.metadata.predicted_feature_name;
  const bool cross_entropy = options.loss == LossType::kCategoricalCrossEntropy;
  Feature target;
  if (classifier && cross_entropy && !class_label.empty() &&
      (options.target_name.empty() || options.target_name == class_label)) {
    // A classifier trains on its own class label: Int64 or String, as its labels.
    target.name = class_label;
    target.type =
        model.class_labels.int_labels.empty() ? FeatureType::kString : FeatureType::kInt64;
    target.description = "true class label";
    return target;
  }
  target.name = options.target_name.empty() ? loss_input + "_true" : options.target_name;
  if (name_taken(model, shapes, target.name)) {
    throw Error("the loss target '" + target.name +
                "' is already a name in the model (an input, "
                "output, layer or blob); choose another target name");
  }
  if (cross_entropy) {
    target.type = FeatureType::kInt32;
    target.shape = {1};
    target.description = "true class index";
    return target;
  }
  // Mean squared error: the loss input's shape, and its type when it is a model output.
  const Feature* output = find_feature(model.outputs, loss_input);
  if (output &&
      (output->type == FeatureType::kFloat32 || output->type == FeatureType::kDouble ||
       output->type == FeatureType::kInt32) &&
      !output->shape.empty()) {
    target.type = output->type;
    target.shape = output->shape;
  } else {
    const Shape& s = shapes.at(loss_input);
    target.type = output && output->type == FeatureType::kDictionary ? FeatureType::kDouble
                                                                     : FeatureType::kFloat32;
    target.shape = s.count() == s[0] ? std::vector<int64_t>{s[0]} : s.dims();
  }
  target.description = "true values of '" + loss_input + "'";
  return target;
}

}  // namespace

Model make_updatable(const Model& source, const MakeUpdatableOptions& options) {
  const BlobShapes shapes = validate_structure(source);
  if (options.layers.empty()) {
    throw Error(
        "name at least one convolution or innerProduct layer to make updatable (the "
        "model's layers: " +
        layer_list(source) + ")");
  }
  if (!(options.learning_rate > 0)) {
    throw Error("the learning rate must be positive, got " + std::to_string(options.learning_rate));
  }
  if (options.batch_size <= 0) {
    throw Error("the mini-batch size must be positive, got " + std::to_string(options.batch_size));
  }
  if (options.epochs <= 0) {
    throw Error("the number of epochs must be positive, got " + std::to_string(options.epochs));
  }
  if (!(options.momentum >= 0 && options.momentum < 1)) {
    throw Error("the momentum must be in [0, 1), got " + std::to_string(options.momentum));
  }
  Model model = source;
  for (const std::string& name : options.layers) mark_updatable(model, name);
  model.metadata.specification_version = std::max(model.metadata.specification_version, 4);

  const std::string loss_input =
      options.loss_input.empty() ? network_output_name(model) : options.loss_input;
  const Layer* from = producer_of(model, loss_input);
  if (!from) {
    throw Error("the loss input '" + loss_input + "' is not the output of any layer");
  }
  if (options.loss == LossType::kCategoricalCrossEntropy &&
      !std::holds_alternative<Softmax>(from->params)) {
    throw Error("cross-entropy needs a softmax output, but the loss input '" + loss_input +
                "' comes from " + describe(*from) +
                "; name a softmax output as the loss input, or use mean squared error");
  }
  std::string loss_name = options.loss_name.empty() ? "lossLayer" : options.loss_name;
  if (name_taken(model, shapes, loss_name)) {
    if (options.loss_name != MakeUpdatableOptions{}.loss_name) {
      throw Error("the loss name '" + loss_name + "' is already used in the model; choose another");
    }
    for (int suffix = 1; name_taken(model, shapes, loss_name); ++suffix) {
      loss_name = "lossLayer_" + std::to_string(suffix);
    }
  }
  const Feature target = make_target(model, shapes, options, loss_input);

  model.training_inputs = model.inputs;
  model.training_inputs.push_back(target);
  UpdateParameters update;
  update.losses = {
      Loss{.name = loss_name, .type = options.loss, .input = loss_input, .target = target.name}};
  // Allowed ranges wide enough for run-time overrides (`train --model --epochs ...`).
  const DoubleParameter learning_rate{
      options.learning_rate, std::array<double, 2>{0.0, std::max(1.0, options.learning_rate)}};
  const Int64Parameter batch_size{
      options.batch_size, std::array<int64_t, 2>{1, std::max<int64_t>(4096, options.batch_size)}};
  if (options.optimizer == OptimizerKind::kSgd) {
    update.optimizer = Sgd{.learning_rate = learning_rate,
                           .mini_batch_size = batch_size,
                           .momentum = {options.momentum, std::array<double, 2>{0.0, 1.0}}};
  } else {
    update.optimizer = Adam{.learning_rate = learning_rate, .mini_batch_size = batch_size};
  }
  update.epochs = {options.epochs,
                   std::array<int64_t, 2>{1, std::max<int64_t>(1000, options.epochs)}};
  update.shuffle = true;
  if (source.update) update.seed = source.update->seed;
  model.update = update;

  const ValidationReport report = validate_coreml(model);
  if (!report.ok()) {
    std::string failures;
    for (const std::string& error : report.errors) failures += "\n  " + error;
    throw Error("the updatable model would fail Core ML's rules:" + failures);
  }
  return model;
}

Model as_classifier(Model model, ClassLabels labels, const std::string& label_name) {
  if (labels.size() == 0) throw Error("a classifier needs at least one class label");
  if (!labels.int_labels.empty() && !labels.string_labels.empty()) {
    throw Error("give the class labels as integers or as strings, not both");
  }
  const BlobShapes shapes = validate_structure(model);
  const std::string scores = network_output_name(model);
  auto found = shapes.find(scores);
  if (found == shapes.end()) throw Error("the model has no network output to classify with");
  const size_t classes = size_t(found->second.count());
  if (classes != labels.size()) {
    throw Error("the network's output '" + scores + "' has " + std::to_string(classes) +
                " values but " + std::to_string(labels.size()) + " class labels were given");
  }
  if (shapes.count(label_name) || label_name == scores || label_name.empty()) {
    throw Error("the class label output cannot be named '" + label_name +
                "': the network already has a blob of that name");
  }
  const FeatureType label_type =
      labels.int_labels.empty() ? FeatureType::kString : FeatureType::kInt64;
  const Feature* old_scores = find_feature(model.outputs, scores);
  Feature probabilities{.name = scores,
                        .type = FeatureType::kDictionary,
                        .description = old_scores && !old_scores->description.empty()
                                           ? old_scores->description
                                           : "probability of each class",
                        .dictionary_key = label_type};
  Feature label{.name = label_name, .type = label_type, .description = "most likely class label"};
  model.outputs = {label, probabilities};
  model.kind = ModelKind::kClassifier;
  model.class_labels = std::move(labels);
  model.metadata.predicted_feature_name = label_name;
  model.metadata.predicted_probabilities_name = scores;
  const std::string& last = model.layers.back().outputs.at(0);
  model.label_probability_layer = scores == last ? "" : scores;
  if (model.update) {
    // Cross-entropy now trains on the class label: it replaces the old target training input.
    for (Loss& loss : model.update->losses) {
      if (loss.type != LossType::kCategoricalCrossEntropy) continue;
      std::erase_if(model.training_inputs,
                    [&](const Feature& input) { return input.name == loss.target; });
      loss.target = label_name;
    }
    if (!find_feature(model.training_inputs, label_name)) {
      model.training_inputs.push_back(
          Feature{.name = label_name, .type = label_type, .description = "true class label"});
    }
  }
  validate(model);
  return model;
}

}  // namespace edgetrain
