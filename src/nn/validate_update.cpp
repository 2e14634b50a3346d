// Checks of a model's update parameters (losses, optimizer, epochs), run when it is built or read.
#include <algorithm>
#include <limits>
#include <sstream>

#include "edgetrain/error.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {


const Feature* find_feature(const std::vector<Feature>& features, const std::string& name) {
  for (const Feature& feature : features) {
    if (feature.name == name) return &feature;
  }
  return nullptr;
}

// "[1, 1000]"; an end at the type's limit reads "no lower limit" / "no upper limit".
std::string range_text(bool no_low, const std::string& low, bool no_high, const std::string& high) {
  std::string text = "[";
  text += no_low ? "no lower limit" : low;
  text += ", ";
  text += no_high ? "no upper limit" : high;
  return text + "]";
}

}  // namespace

void check_allowed(const Int64Parameter& parameter, int64_t value, const std::string& what) {
  if (!parameter.set.empty()) {
    for (int64_t allowed : parameter.set) {
      if (allowed == value) return;
    }
    std::string list;
    for (int64_t allowed : parameter.set) list += (list.empty() ? "" : ", ") + std::to_string(allowed);
    throw Error(what + " " + std::to_string(value) + " is not allowed by the model (allowed: " +
                list + ")");
  }
  if (parameter.range && (value < (*parameter.range)[0] || value > (*parameter.range)[1])) {
    const auto [low, high] = *parameter.range;
    throw Error(what + " " + std::to_string(value) + " is outside the model's allowed range " +
                range_text(low == std::numeric_limits<int64_t>::min(), std::to_string(low),
                           high == std::numeric_limits<int64_t>::max(), std::to_string(high)));
  }
}

void check_allowed(const DoubleParameter& parameter, double value, const std::string& what) {
  if (parameter.range && !(value >= (*parameter.range)[0] && value <= (*parameter.range)[1])) {
    const auto [low, high] = *parameter.range;
    const double largest = std::numeric_limits<double>::max();
    throw Error(what + " " + number_text(value) + " is outside the model's allowed range " +
                range_text(low <= -largest, number_text(low), high >= largest, number_text(high)));
  }
}

void validate_update(const Model& model, const BlobShapes& shapes) {
  const UpdateParameters& update = *model.update;
  if (update.losses.size() != 1) {
    throw Error("an updatable model needs exactly one loss layer, found " +
                std::to_string(update.losses.size()));
  }
  bool any_updatable = false;
  for (const Layer& layer : model.layers) any_updatable |= layer.updatable;
  if (!any_updatable) throw Error("an updatable model needs at least one updatable layer");
  const Loss& loss = update.losses[0];
  const std::string where = "loss '" + loss.name + "'";
  auto input = shapes.find(loss.input);
  if (input == shapes.end()) {
    throw Error(where + ": input '" + loss.input + "' is not produced by any layer");
  }
  const Feature* target = find_feature(model.training_inputs, loss.target);
  // A classifier may give its predicted class label as the training input instead (Core ML allows
  // either).
  if (!target && model.kind == ModelKind::kClassifier &&
      !model.metadata.predicted_feature_name.empty()) {
    target = find_feature(model.training_inputs, model.metadata.predicted_feature_name);
  }
  if (!target) {
    throw Error(where + ": target '" + loss.target + "' is not one of the training inputs");
  }
  if (shapes.count(loss.target) && !find_feature(model.inputs, loss.target)) {
    throw Error(where + ": target '" + loss.target + "' is produced inside the network");
  }
  const Shape& in = input->second;
  if (loss.type == LossType::kCategoricalCrossEntropy) {
    const Layer* producer = nullptr;
    for (const Layer& layer : model.layers) {
      if (std::find(layer.outputs.begin(), layer.outputs.end(), loss.input) != layer.outputs.end()) {
        producer = &layer;
      }
    }
    // Cross-entropy reads probabilities; on anything else its loss means nothing (and Core ML
    // refuses the model).
    if (!producer || !std::holds_alternative<Softmax>(producer->params)) {
      throw Error(where + ": cross-entropy input '" + loss.input + "' is not the output of a " +
                  "softmax layer" +
                  (producer ? " (it comes from layer '" + producer->name + "' (" +
                                  layer_type_name(*producer) + "))"
                            : "") +
                  "; add a softmax, or use mean squared error");
    }
    if (in.count() != in[0]) {
      throw Error(where + ": cross-entropy input '" + loss.input + "' has shape " + in.text() +
                  ", expected a vector of class probabilities ([classes] or [classes, 1, 1])");
    }
    // The seed's Int32 class index, or a classifier's class label (Int64 or String, as its labels).
    const bool int_labels = !model.class_labels.int_labels.empty();
    const bool classifier = model.kind == ModelKind::kClassifier;
    if (target->type == FeatureType::kInt64 || target->type == FeatureType::kString) {
      const bool is_int64 = target->type == FeatureType::kInt64;
      if (!classifier || is_int64 != int_labels) {
        throw Error(where + ": cross-entropy target '" + target->name + "' (" +
                    (is_int64 ? "Int64" : "String") + " class label) needs a classifier with " +
                    (is_int64 ? "int64" : "string") + " class labels");
      }
    } else if (target->type != FeatureType::kInt32) {
      throw Error(where + ": cross-entropy target '" + loss.target +
                  "' must be an Int32 class index or a classifier's class label (Int64 or String)");
    }
  } else {
    int64_t size = 1;
    for (int64_t d : target->shape) size *= d;
    if (size != in.count()) {
      throw Error(where + ": mean-squared-error target '" + loss.target + "' has shape " +
                  shape_string(target->shape) + " but input '" + loss.input + "' has shape " +
                  in.text());
    }
  }
  std::visit(
      [](const auto& optimizer) {
        check_allowed(optimizer.learning_rate, optimizer.learning_rate.default_value,
                      "the default learning rate");
        check_allowed(optimizer.mini_batch_size, optimizer.mini_batch_size.default_value,
                      "the default mini-batch size");
        if (optimizer.mini_batch_size.default_value <= 0) {
          throw Error("the default mini-batch size must be positive");
        }
        if (optimizer.learning_rate.default_value <= 0) {
          throw Error("the default learning rate must be positive");
        }
      },
      update.optimizer);
  if (auto* adam = std::get_if<Adam>(&update.optimizer)) {
    check_allowed(adam->beta1, adam->beta1.default_value, "the default beta1");
    check_allowed(adam->beta2, adam->beta2.default_value, "the default beta2");
    check_allowed(adam->eps, adam->eps.default_value, "the default eps");
  } else {
    const Sgd& sgd = std::get<Sgd>(update.optimizer);
    check_allowed(sgd.momentum, sgd.momentum.default_value, "the default momentum");
  }
  if (update.epochs.default_value <= 0) throw Error("the default number of epochs must be positive");
  check_allowed(update.epochs, update.epochs.default_value, "the default number of epochs");
}

}  // namespace edgetrain
