// Core ML's rules for updatable neural networks (Apple's validator in coremltools, mlmodel/src:
// UpdatableNeuralNetworkValidator, ParameterValidator, NeuralNetworkValidatorGraph), on top of
// edgetrain's structural checks (shapes, parameter block) that validate() applies.
//
// Every failure is one line naming the layer, loss or field. Warnings are for what a file asks that
// nothing will do (a layer marked updatable in a model without update parameters). Not checked: LSTM layers (Core ML accepts an
// updatable model with one but cannot train it) — a Model cannot hold one, because the reader
// refuses every layer type edgetrain does not run, so no such model gets this far.
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "nn/layer_kind.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {


std::string describe(const Layer& layer) {
  return "layer '" + layer.name + "' (" + layer_type_name(layer) + ")";
}

std::string describe(const Loss& loss) {
  return std::string("loss '") + loss.name + "' (" +
         (loss.type == LossType::kCategoricalCrossEntropy ? "categorical cross-entropy"
                                                          : "mean squared error") +
         ")";
}

std::string type_name(FeatureType type) {
  const bool array = type == FeatureType::kFloat32 || type == FeatureType::kDouble ||
                     type == FeatureType::kInt32;
  return std::string(feature_type_text(type)) + (array ? " multiArray" : "");
}

// Core ML's test of a training input standing for a model input: same name and same type.
bool same_feature(const Feature& a, const Feature& b) {
  if (a.name != b.name || a.type != b.type) return false;
  if (a.type == FeatureType::kImage) {
    return a.image.color_space == b.image.color_space && a.image.width == b.image.width &&
           a.image.height == b.image.height;
  }
  if (a.type == FeatureType::kDictionary) return a.dictionary_key == b.dictionary_key;
  return a.shape == b.shape;
}

const Feature* find_feature(const std::vector<Feature>& features, const std::string& name) {
  for (const Feature& feature : features) {
    if (feature.name == name) return &feature;
  }
  return nullptr;
}

class Checker {
 public:
  explicit Checker(const Model& model) : model_(model) {
    for (size_t i = 0; i < model.layers.size(); ++i) {
      for (const std::string& output : model.layers[i].outputs) producer_.emplace(output, i);
    }
  }

  ValidationReport run() {
    const bool names_unique = check_names();
    // Shapes need unique layer names; a duplicate is already reported above.
    std::optional<BlobShapes> shapes;
    if (names_unique) {
      try {
        shapes = validate_structure(model_);
      } catch (const Error& e) {
        fail(e.what());
      }
    }
    if (!model_.update) {
      for (const Layer& layer : model_.layers) {
        if (layer.updatable) {
          warn(describe(layer) +
               " is marked updatable, but the model has no update parameters, "
               "so nothing trains it");
        }
      }
      return std::move(report_);
    }
    check_specification_version();
    check_updatable_layers();
    check_losses();
    check_optimizer();
    check_epochs_and_seed();
    check_training_inputs();
    check_backprop_paths();
    // edgetrain's own checks of the update parameters (target types and shapes), once Core ML's
    // rules pass, so one mistake is reported once.
    if (report_.ok() && shapes) {
      try {
        validate_update(model_, *shapes);
      } catch (const Error& e) {
        fail(e.what());
      }
    }
    return std::move(report_);
  }

 private:
  void fail(std::string message) { report_.errors.push_back(std::move(message)); }
  void warn(std::string message) { report_.warnings.push_back(std::move(message)); }

  const Layer* producer_of(const std::string& blob) const {
    auto found = producer_.find(blob);
    return found == producer_.end() ? nullptr : &model_.layers[found->second];
  }

  bool check_names() {
    std::map<std::string, int> uses;
    std::vector<std::string> order;
    auto use = [&](const std::string& name) {
      if (uses[name]++ == 0) order.push_back(name);
    };
    for (const Layer& layer : model_.layers) use(layer.name);
    if (model_.update) {
      for (const Loss& loss : model_.update->losses) use(loss.name);
    }
    bool unique = true;
    for (const std::string& name : order) {
      if (uses[name] > 1) {
        fail("name '" + name + "' is used by " + std::to_string(uses[name]) +
             " layers and loss layers; Core ML needs every layer and loss name to be unique");
        unique = false;
      }
    }
    return unique;
  }

  void check_specification_version() {
    if (model_.metadata.specification_version < 4) {
      fail("specificationVersion " + std::to_string(model_.metadata.specification_version) +
           ": an updatable model needs specification version 4 (Core ML 3, iOS 13) or later");
    }
  }

  void check_updatable_layers() {
    bool any = false;
    for (const Layer& layer : model_.layers) {
      if (!layer.updatable) continue;
      any = true;
      if (!layer_kind(layer).coreml_updatable()) {
        fail(describe(layer) +
             " is marked updatable, but only convolution and innerProduct "
             "layers can be updated");
        continue;
      }
      for (const LayerParameter& parameter : layer.parameters) {
        if (parameter.role == ParameterRole::kTrainable && !layer.marked_updatable(parameter)) {
          fail(describe(layer) + " is updatable but its " + parameter.name +
               (parameter.name == "weights" ? " are" : " is") + " not marked updatable");
        }
      }
      if (layer.quantized) {
        fail(describe(layer) +
             " is updatable but its weights are quantized or half precision; "
             "Core ML updates float32 weights only");
      }
    }
    if (!any) fail("the model is updatable but none of its layers is marked updatable");
  }

  void check_losses() {
    const auto& losses = model_.update->losses;
    if (losses.size() != 1) {
      fail("update parameters: " + std::to_string(losses.size()) +
           " loss layers; Core ML needs exactly one");
    }
    for (const Loss& loss : losses) {
      const Layer* from = producer_of(loss.input);
      if (loss.type == LossType::kCategoricalCrossEntropy) {
        if (!from || !std::holds_alternative<Softmax>(from->params)) {
          fail(describe(loss) + ": input '" + loss.input +
               "' is not the output of a softmax layer (" +
               (from ? "it comes from " + describe(*from) : "no layer produces it") + ")");
        }
      } else if (!from) {
        fail(describe(loss) + ": input '" + loss.input + "' is not produced by any layer");
      }
      if (const Layer* target_from = producer_of(loss.target)) {
        fail(describe(loss) + ": target '" + loss.target + "' is produced inside the network by " +
             describe(*target_from) + "; it must come from the training data");
      }
    }
  }

  // Apple's ParameterValidator: the default inside the allowed set or range; mini-batch size and
  // epochs (`positive`) also need positive defaults, sets and range bounds.
  void check_parameter(const std::string& what, const Int64Parameter& parameter, bool positive) {
    if (!parameter.present) {
      fail(what + ": missing; Core ML requires it");
      return;
    }
    const int64_t value = parameter.default_value;
    if (positive && value <= 0)
      fail(what + ": default " + std::to_string(value) + " must be positive");
    if (!parameter.set.empty()) {
      std::string list;
      bool found = false;
      for (int64_t allowed : parameter.set) {
        list += (list.empty() ? "" : ", ") + std::to_string(allowed);
        found |= allowed == value;
        if (positive && allowed <= 0) {
          fail(what + ": the allowed set holds " + std::to_string(allowed) +
               ", but every value must be positive");
        }
      }
      if (!found) {
        fail(what + ": default " + std::to_string(value) + " is not in the allowed set {" + list +
             "}");
      }
    } else if (parameter.range) {
      const auto [low, high] = *parameter.range;
      const std::string range =
          std::string("[") + std::to_string(low) + ", " + std::to_string(high) + "]";
      if (positive && (low <= 0 || high <= 0)) {
        fail(what + ": the allowed range " + range + " must hold positive values only");
      }
      if (low > high) {
        fail(what + ": the allowed range " + range + " has its minimum above its maximum");
      } else if (value < low || value > high) {
        fail(what + ": default " + std::to_string(value) + " is outside the allowed range " +
             range);
      }
    }
  }

  void check_parameter(const std::string& what, const DoubleParameter& parameter) {
    if (!parameter.present) {
      fail(what + ": missing; Core ML requires it");
      return;
    }
    if (parameter.range) {
      const auto [low, high] = *parameter.range;
      const double value = parameter.default_value;
      if (!(value >= low && value <= high)) {
        fail(what + ": default " + number_text(value) + " is outside the allowed range [" + number_text(low) +
             ", " + number_text(high) + "]");
      }
    }
  }

  void check_optimizer() {
    if (const Adam* adam = std::get_if<Adam>(&model_.update->optimizer)) {
      check_parameter("optimizer (Adam) learningRate", adam->learning_rate);
      check_parameter("optimizer (Adam) miniBatchSize", adam->mini_batch_size, true);
      check_parameter("optimizer (Adam) beta1", adam->beta1);
      check_parameter("optimizer (Adam) beta2", adam->beta2);
      check_parameter("optimizer (Adam) eps", adam->eps);
    } else {
      const Sgd& sgd = std::get<Sgd>(model_.update->optimizer);
      check_parameter("optimizer (SGD) learningRate", sgd.learning_rate);
      check_parameter("optimizer (SGD) miniBatchSize", sgd.mini_batch_size, true);
      // Momentum is optional in Core ML's schema; checked only when the file gives it.
      if (sgd.momentum.present) check_parameter("optimizer (SGD) momentum", sgd.momentum);
    }
  }

  void check_epochs_and_seed() {
    check_parameter("epochs", model_.update->epochs, true);
    if (model_.update->seed) check_parameter("seed", *model_.update->seed, false);
  }

  void check_training_inputs() {
    const auto& training = model_.training_inputs;
    size_t shared = 0;  // training inputs that are model inputs
    for (const Feature& input : training) {
      bool is_model_input = false;
      for (const Feature& model_input : model_.inputs)
        is_model_input |= same_feature(input, model_input);
      shared += is_model_input;
    }
    if (training.size() < 2) {
      fail("training inputs: " + std::to_string(training.size()) +
           " declared; Core ML needs at least two (a model input and the loss target)");
    } else if (shared == 0) {
      fail(
          "training inputs: none of them is a model input (same name and type); add the model "
          "input '" +
          (model_.inputs.empty() ? std::string("?") : model_.inputs[0].name) + "'");
    } else if (shared == training.size()) {
      fail("training inputs: all of them are model inputs; the loss target must be one too");
    }
    if (model_.update->losses.empty()) return;
    const Loss& loss = model_.update->losses[0];
    if (find_feature(training, loss.target)) return;
    // A classifier may name its predicted class label instead, of the class-label output's type.
    const bool classifier = model_.kind == ModelKind::kClassifier;
    const std::string& label = model_.metadata.predicted_feature_name;
    if (classifier && !label.empty()) {
      if (const Feature* given = find_feature(training, label)) {
        const Feature* output = find_feature(model_.outputs, label);
        if (output && given->type != output->type) {
          fail("training input '" + label + "' is " + type_name(given->type) +
               " but the classifier's class label output '" + label + "' is " +
               type_name(output->type));
        }
        return;
      }
      fail("training inputs: neither the target '" + loss.target + "' of " + describe(loss) +
           " nor the classifier's class label '" + label + "' is among them");
      return;
    }
    fail(describe(loss) + ": target '" + loss.target + "' is not among the training inputs");
  }

  // Apple's rule, as its validator walks it: breadth-first from each loss through the layers
  // producing each node's inputs; once a layer that cannot back-propagate has been met anywhere
  // in the walk (a softmax read by cross-entropy excepted), meeting an updatable layer is an error.
  void check_backprop_paths() {
    for (const Loss& loss : model_.update->losses) {
      std::set<size_t> visited;
      std::vector<std::pair<std::optional<size_t>, std::vector<std::string>>> queue{
          {std::nullopt, {loss.input, loss.target}}};
      const Layer* blocker = nullptr;
      for (size_t next = 0; next < queue.size(); ++next) {
        const auto [node, inputs] = queue[next];
        for (const std::string& blob : inputs) {
          auto found = producer_.find(blob);
          if (found == producer_.end() || !visited.insert(found->second).second) continue;
          const Layer& parent = model_.layers[found->second];
          queue.push_back({found->second, parent.inputs});
          if (parent.updatable && blocker) {
            fail(describe(*blocker) + " does not support back-propagation, but it sits between " +
                 "updatable " + describe(parent) + " and " + describe(loss) +
                 " (Core ML back-propagates only through convolution, innerProduct, flatten, "
                 "pooling, batchnorm and ReLU, sigmoid or tanh activations)");
            return;
          }
          if (!layer_kind(parent).coreml_backprop(parent)) {
            const bool softmax_into_cross_entropy =
                !node && loss.type == LossType::kCategoricalCrossEntropy &&
                std::holds_alternative<Softmax>(parent.params);
            if (!softmax_into_cross_entropy && !blocker) blocker = &parent;
          }
        }
      }
    }
  }

  const Model& model_;
  std::map<std::string, size_t> producer_;  // blob → index of the first layer writing it
  ValidationReport report_;
};

}  // namespace

ValidationReport validate_coreml(const Model& model) {
  return Checker(model).run();
}

}  // namespace edgetrain
