// Shape inference and model validation. Every check here runs once, when a model is built or read;
// the kernels then only assert.
#include <algorithm>
#include <set>
#include <sstream>

#include "edgetrain/error.h"
#include "edgetrain/model.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

std::string describe(size_t index, const Layer& layer) {
  return "layer " + std::to_string(index) + " '" + layer.name + "' (" + layer_type_name(layer) + ")";
}

// Output length of a window sliding over `length` values, as Core ML computes it.
int window_output(int length, int kernel, int stride, int dilation, Padding padding) {
  if (padding == Padding::kSame) return (length + stride - 1) / stride;
  int extent = (kernel - 1) * dilation + 1;
  if (length < extent) return 0;
  return (length - extent) / stride + 1;
}

}  // namespace

std::string shape_string(const std::array<int, 3>& shape) {
  return std::string("[") + std::to_string(shape[0]) + ", " + std::to_string(shape[1]) + ", " +
         std::to_string(shape[2]) + "]";
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string number_text(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

const char* feature_type_text(FeatureType type) {
  static constexpr const char* kNames[] = {"FLOAT32", "DOUBLE", "INT32",     "Int64",
                                           "String",  "image",  "dictionary"};
  return kNames[int(type)];
}

const char* layer_type_name(const Layer& layer) {
  static constexpr const char* kNames[] = {"convolution", "pooling",      "activation",
                                           "flatten",     "innerProduct", "softmax"};
  return kNames[layer.params.index()];
}

const Layer& Model::layer(const std::string& name) const {
  for (const Layer& layer : layers) {
    if (layer.name == name) return layer;
  }
  throw Error("the model has no layer named '" + name + "'");
}

std::array<int, 3> feature_shape(const Feature& feature) {
  if (feature.type == FeatureType::kImage) {
    const ImageFormat& image = feature.image;
    if (image.width <= 0 || image.height <= 0 || image.width > 65536 || image.height > 65536) {
      throw Error("image feature '" + feature.name + "' is " + std::to_string(image.width) + "x" +
                  std::to_string(image.height) + ": width and height must be 1..65536");
    }
    return {image.color_space == ColorSpace::kGrayscale ? 1 : 3, int(image.height),
            int(image.width)};
  }
  const auto& s = feature.shape;
  for (int64_t d : s) {
    if (d <= 0 || d > (int64_t(1) << 24)) {
      throw Error("feature '" + feature.name + "' has shape " + shape_string(s) +
                  ": every dimension must be between 1 and 16777216");
    }
  }
  if (s.size() == 1) return {int(s[0]), 1, 1};
  if (s.size() == 3) return {int(s[0]), int(s[1]), int(s[2])};
  throw Error("feature '" + feature.name + "' has shape " + shape_string(s) +
              ": expected rank 1 [C] or rank 3 [C, H, W]");
}

ConvGeometry conv_geometry(const ConvolutionParams& conv, const std::array<int, 3>& in) {
  ConvGeometry g;
  int kh = conv.kernel_size[0], kw = conv.kernel_size[1];
  g.out_height = window_output(in[1], kh, conv.stride[0], conv.dilation[0], conv.padding);
  g.out_width = window_output(in[2], kw, conv.stride[1], conv.dilation[1], conv.padding);
  if (conv.padding == Padding::kSame) {
    // Core ML's same padding puts the odd pixel at the bottom/right.
    int pad_h = std::max(0, (g.out_height - 1) * conv.stride[0] + (kh - 1) * conv.dilation[0] + 1 - in[1]);
    int pad_w = std::max(0, (g.out_width - 1) * conv.stride[1] + (kw - 1) * conv.dilation[1] + 1 - in[2]);
    g.pad_top = pad_h / 2;
    g.pad_left = pad_w / 2;
  }
  return g;
}

ConvGeometry pool_geometry(const PoolingParams& pool, const std::array<int, 3>& in) {
  if (pool.global) return {1, 1, 0, 0};
  ConvolutionParams as_conv{.kernel_size = pool.kernel_size, .stride = pool.stride,
                            .padding = pool.padding};
  return conv_geometry(as_conv, in);
}

BlobShapes infer_shapes(const Model& model) {
  BlobShapes shapes;
  std::map<std::string, std::string> producer;  // blob → "layer i 'name' (type)" or "input"
  for (const Feature& input : model.inputs) {
    if (shapes.count(input.name)) throw Error("model input '" + input.name + "' is declared twice");
    shapes[input.name] = feature_shape(input);
    producer[input.name] = "model input '" + input.name + "'";
  }
  std::set<std::string> layer_names;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    const std::string where = describe(i, layer);
    if (layer.name.empty()) throw Error("layer " + std::to_string(i) + " has no name");
    if (!layer_names.insert(layer.name).second) throw Error(where + ": the layer name is used twice");
    if (layer.inputs.size() != 1 || layer.outputs.size() != 1) {
      throw Error(where + ": expected exactly one input and one output, got " +
                  std::to_string(layer.inputs.size()) + " and " +
                  std::to_string(layer.outputs.size()));
    }
    auto found = shapes.find(layer.inputs[0]);
    if (found == shapes.end()) {
      throw Error(where + ": input '" + layer.inputs[0] +
                  "' is neither a model input nor the output of an earlier layer");
    }
    const std::array<int, 3> in = found->second;
    const std::string from = " from " + producer[layer.inputs[0]];
    std::array<int, 3> out = in;
    if (auto* conv = std::get_if<ConvolutionParams>(&layer.params)) {
      if (conv->groups <= 0 || conv->output_channels % conv->groups != 0) {
        throw Error(where + ": outputChannels " + std::to_string(conv->output_channels) +
                    " is not divisible by nGroups " + std::to_string(conv->groups));
      }
      for (int k = 0; k < 2; ++k) {
        if (conv->stride[k] <= 0 || conv->dilation[k] <= 0) {
          throw Error(where + ": stride and dilation must be positive");
        }
      }
      if (conv->kernel_channels * conv->groups != in[0]) {
        throw Error(where + ": input '" + layer.inputs[0] + "'" + from + " has shape " +
                    shape_string(in) + " but kernelChannels " +
                    std::to_string(conv->kernel_channels) + " x nGroups " +
                    std::to_string(conv->groups) + " expects " +
                    std::to_string(conv->kernel_channels * conv->groups) + " channels");
      }
      ConvGeometry g = conv_geometry(*conv, in);
      if (g.out_height <= 0 || g.out_width <= 0) {
        throw Error(where + ": input '" + layer.inputs[0] + "'" + from + " has shape " +
                    shape_string(in) + ", smaller than the " + std::to_string(conv->kernel_size[0]) +
                    "x" + std::to_string(conv->kernel_size[1]) + " kernel (valid padding)");
      }
      out = {conv->output_channels, g.out_height, g.out_width};
    } else if (auto* pool = std::get_if<PoolingParams>(&layer.params)) {
      for (int k = 0; k < 2; ++k) {
        if (!pool->global && (pool->kernel_size[k] <= 0 || pool->stride[k] <= 0)) {
          throw Error(where + ": kernel size and stride must be positive");
        }
      }
      ConvGeometry g = pool_geometry(*pool, in);
      if (g.out_height <= 0 || g.out_width <= 0) {
        throw Error(where + ": input '" + layer.inputs[0] + "'" + from + " has shape " +
                    shape_string(in) + ", smaller than the " + std::to_string(pool->kernel_size[0]) +
                    "x" + std::to_string(pool->kernel_size[1]) + " pooling window");
      }
      out = {in[0], g.out_height, g.out_width};
    } else if (std::holds_alternative<FlattenParams>(layer.params)) {
      out = {int(int64_t(in[0]) * in[1] * in[2]), 1, 1};  // bounded by the check below
    } else if (auto* dense = std::get_if<InnerProductParams>(&layer.params)) {
      if (in[1] != 1 || in[2] != 1 || in[0] != dense->input_channels) {
        throw Error(where + ": input '" + layer.inputs[0] + "'" + from + " has shape " +
                    shape_string(in) + " but inputChannels " +
                    std::to_string(dense->input_channels) + " expects [" +
                    std::to_string(dense->input_channels) + ", 1, 1]" +
                    (in[1] * in[2] != 1 ? " (add a flatten layer before it)" : ""));
      }
      out = {dense->output_channels, 1, 1};
    }
    // Every blob (and so every buffer size computed from it) stays well inside int and size_t.
    if (int64_t(out[0]) * out[1] * out[2] > (int64_t(1) << 28) ||
        int64_t(in[0]) * in[1] * in[2] > (int64_t(1) << 28)) {
      throw Error(where + ": its input or output holds more than 2^28 values per sample");
    }
    const std::string& name = layer.outputs[0];
    if (shapes.count(name)) {
      throw Error(where + ": output '" + name + "' is already produced by " + producer[name]);
    }
    shapes[name] = out;
    producer[name] = describe(i, layer);
  }
  return shapes;
}

std::string network_output_name(const Model& model) {
  if (model.kind == ModelKind::kClassifier) {
    // As Core ML: the named probability blob, else the last layer's output.
    if (!model.label_probability_layer.empty()) return model.label_probability_layer;
    if (!model.layers.empty() && !model.layers.back().outputs.empty()) {
      return model.layers.back().outputs[0];
    }
  }
  for (const Feature& output : model.outputs) {
    if (output.type != FeatureType::kInt64 && output.type != FeatureType::kString) return output.name;
  }
  return "";
}

BlobShapes validate_structure(const Model& model) {
  if (model.inputs.empty()) throw Error("the model has no inputs");
  if (model.outputs.empty()) throw Error("the model has no outputs");
  if (model.layers.empty()) throw Error("the model has no layers");
  BlobShapes shapes = infer_shapes(model);
  size_t parameters = 0;
  for (const Layer& layer : model.layers) {
    parameters = std::max(parameters, layer.weight.offset + layer.weight.size);
    parameters = std::max(parameters, layer.bias.offset + layer.bias.size);
  }
  if (parameters != model.parameters.size()) {
    throw Error("the parameter block holds " + std::to_string(model.parameters.size()) +
                " values but the layers need " + std::to_string(parameters));
  }
  const bool classifier = model.kind == ModelKind::kClassifier;
  for (const Feature& output : model.outputs) {
    if (output.type == FeatureType::kInt64 || output.type == FeatureType::kString) {
      // A classifier's predicted class label comes from the probabilities, not from a layer.
      if (classifier && (model.metadata.predicted_feature_name.empty() ||
                         output.name == model.metadata.predicted_feature_name)) {
        continue;
      }
      throw Error("model output '" + output.name + "' is a " +
                  (output.type == FeatureType::kInt64 ? "Int64" : "String") +
                  " scalar, which only a classifier's predicted class label can be");
    }
    auto found = shapes.find(output.name);
    if (found == shapes.end()) {
      // A classifier's probabilities dictionary is made from its probability blob (checked below).
      if (classifier && output.type == FeatureType::kDictionary) continue;
      throw Error("model output '" + output.name + "' is not produced by any layer");
    }
    const auto& s = found->second;
    int64_t declared = 1;
    for (int64_t d : output.shape) declared *= d;
    if (output.type != FeatureType::kDictionary && !output.shape.empty() &&
        declared != int64_t(s[0]) * s[1] * s[2]) {
      throw Error("model output '" + output.name + "' is declared " + shape_string(output.shape) +
                  " but the network produces " + shape_string(s));
    }
  }
  if (classifier) {
    const size_t labels = model.class_labels.size();
    if (labels == 0) throw Error("the model is a classifier but has no class labels");
    const std::string scores = network_output_name(model);
    auto found = shapes.find(scores);
    if (found == shapes.end()) {
      throw Error("the classifier's probabilities '" + scores + "' are not produced by any layer");
    }
    const auto& s = found->second;
    if (size_t(s[0]) * s[1] * s[2] != labels) {
      throw Error("the classifier has " + std::to_string(labels) + " class labels but its output '" +
                  scores + "' has " + std::to_string(size_t(s[0]) * s[1] * s[2]) + " values");
    }
  }
  return shapes;
}

void validate(const Model& model) {
  const BlobShapes shapes = validate_structure(model);
  if (model.update) validate_update(model, shapes);
}

}  // namespace edgetrain
