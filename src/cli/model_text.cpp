#include "cli/model_text.h"

#include <sstream>

#include "nn/shapes.h"

namespace edgetrain::cli {
namespace {

std::string number(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

std::string pair_text(const std::array<int, 2>& values, const char* separator = "x") {
  return std::to_string(values[0]) + separator + std::to_string(values[1]);
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
  std::string text = layer_type_name(layer);
  if (auto* conv = std::get_if<ConvolutionParams>(&layer.params)) {
    text += std::string(" ") + std::to_string(conv->output_channels) + "@" +
            pair_text(conv->kernel_size) + " stride " + pair_text(conv->stride) +
            (conv->padding == Padding::kSame ? " same" : " valid");
    if (conv->groups != 1) text += " groups " + std::to_string(conv->groups);
    if (conv->dilation != std::array<int, 2>{1, 1})
      text += " dilation " + pair_text(conv->dilation);
  } else if (auto* pool = std::get_if<PoolingParams>(&layer.params)) {
    text += pool->type == PoolingType::kMax ? " max" : " average";
    text += pool->global ? " global"
                         : std::string(" ") + pair_text(pool->kernel_size) + " stride " +
                               pair_text(pool->stride) +
                               (pool->padding == Padding::kSame ? " same" : " valid");
  } else if (auto* activation = std::get_if<ActivationParams>(&layer.params)) {
    switch (activation->type) {
      case ActivationType::kReLU:
        text += " ReLU";
        break;
      case ActivationType::kSigmoid:
        text += " sigmoid";
        break;
      case ActivationType::kTanh:
        text += " tanh";
        break;
      case ActivationType::kLinear:
        text += " linear " + number(activation->alpha) + "x+" + number(activation->beta);
        break;
    }
  } else if (auto* flatten = std::get_if<FlattenParams>(&layer.params)) {
    text += flatten->order == FlattenOrder::kChannelFirst ? " channel-first" : " channel-last";
  } else if (auto* dense = std::get_if<InnerProductParams>(&layer.params)) {
    text +=
        " " + std::to_string(dense->input_channels) + "->" + std::to_string(dense->output_channels);
  }
  if (layer.quantized) text += " (quantized)";
  return text;
}

size_t layer_parameter_count(const Layer& layer) {
  return layer.weight.size + layer.bias.size;
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
