#include "cli/model_text.h"

#include <sstream>

#include "nn/layer_kind.h"
#include "nn/shapes.h"

namespace edgetrain::cli {
namespace {

std::string number(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}



}  // namespace

std::string feature_type_text(const Feature& feature) {
  switch (feature.type) {
    case FeatureType::kImage: {
      const char* space = feature.image.color_space == ColorSpace::kGrayscale ? "GRAYSCALE"
                          : feature.image.color_space == ColorSpace::kRGB     ? "RGB"
                                                                              : "BGR";
      return "image " + std::to_string(feature.image.width) + "x" +
             std::to_string(feature.image.height) + " " + space;
    }
    case FeatureType::kInt64:
    case FeatureType::kString:
      return feature_type_text(feature.type);
    case FeatureType::kDictionary:
      return std::string("dictionary ") + feature_type_text(feature.dictionary_key) + " -> Double";
    default:
      return std::string("multiArray ") + feature_type_text(feature.type) + " " +
             shape_string(feature.shape);
  }
}

std::string layer_text(const Layer& layer) {
  const LayerKind& kind = layer_kind(layer);
  std::string text = std::string(kind.name()) + " " + kind.describe(layer);
  if (layer.quantized) text += " (quantized)";
  return text;
}

size_t layer_parameter_count(const Layer& layer) {
  size_t count = 0;
  for (const LayerParameter& parameter : layer.parameters) count += parameter.slice.size;
  return count;
}

std::string parameter_text(const DoubleParameter& parameter) {
  if (!parameter.present) return "missing";
  std::string text = number(parameter.default_value);
  if (parameter.range) {
    text += " in [" + number((*parameter.range)[0]) + ", " + number((*parameter.range)[1]) + "]";
  }
  return text;
}

std::string parameter_text(const Int64Parameter& parameter) {
  if (!parameter.present) return "missing";
  std::string text = std::to_string(parameter.default_value);
  if (!parameter.set.empty()) {
    std::string list;
    for (int64_t value : parameter.set) list += (list.empty() ? "" : ", ") + std::to_string(value);
    text += " of {" + list + "}";
  } else if (parameter.range) {
    text += " in [" + std::to_string((*parameter.range)[0]) + ", " +
            std::to_string((*parameter.range)[1]) + "]";
  }
  return text;
}

const char* loss_type_text(LossType type) {
  return type == LossType::kCategoricalCrossEntropy ? "categorical cross-entropy"
                                                    : "mean squared error";
}

const char* model_kind_text(ModelKind kind) {
  switch (kind) {
    case ModelKind::kNeuralNetwork:
      return "neuralNetwork";
    case ModelKind::kClassifier:
      return "neuralNetworkClassifier";
    case ModelKind::kRegressor:
      return "neuralNetworkRegressor";
  }
  return "?";
}

std::string class_label_text(const Model& model, size_t k) {
  if (model.kind == ModelKind::kClassifier && k < model.class_labels.size()) {
    return model.class_labels.int_labels.empty() ? model.class_labels.string_labels[k]
                                                 : std::to_string(model.class_labels.int_labels[k]);
  }
  return std::to_string(k);
}

}  // namespace edgetrain::cli
