// The exchanged vector: the one place federated code reads or writes a model's weights. Every
// other part of src/fed and src/flower goes through these functions, so a change in how layers
// keep their parameters is adapted here alone.
#include <algorithm>

#include "edgetrain/error.h"
#include "edgetrain/fed.h"

namespace edgetrain::fed {
namespace {

// One exchanged tensor: where it lives in the parameter block and its Core ML shape.
struct ExchangedSlice {
  ParameterSlice slice;
  std::vector<int64_t> shape;
};

// Updatable convolution and inner-product layers, in layer order: weights, then bias if any.
std::vector<ExchangedSlice> exchanged_slices(const Model& model) {
  std::vector<ExchangedSlice> slices;
  for (const Layer& layer : model.layers) {
    if (!layer.updatable) continue;
    std::vector<int64_t> weight_shape, bias_shape;
    if (const auto* conv = std::get_if<ConvolutionParams>(&layer.params)) {
      weight_shape = {conv->output_channels, conv->kernel_channels, conv->kernel_size[0],
                      conv->kernel_size[1]};
      bias_shape = {conv->output_channels};
    } else if (const auto* dense = std::get_if<InnerProductParams>(&layer.params)) {
      weight_shape = {dense->output_channels, dense->input_channels};
      bias_shape = {dense->output_channels};
    } else {
      throw Error("layer '" + layer.name + "' (" + layer_type_name(layer) +
                  ") is updatable but has no weights to exchange");
    }
    if (element_count(weight_shape) != layer.weight.size) {
      throw Error("layer '" + layer.name + "': its weights hold " +
                  std::to_string(layer.weight.size) + " values, its shape says " +
                  std::to_string(element_count(weight_shape)));
    }
    slices.push_back({layer.weight, weight_shape});
    if (layer.bias.size > 0) {
      if (element_count(bias_shape) != layer.bias.size) {
        throw Error("layer '" + layer.name + "': its bias holds " +
                    std::to_string(layer.bias.size) + " values, expected " +
                    std::to_string(element_count(bias_shape)));
      }
      slices.push_back({layer.bias, bias_shape});
    }
  }
  for (const ExchangedSlice& s : slices) {
    if (s.slice.offset + s.slice.size > model.parameters.size()) {
      throw Error("the model's parameter block is smaller than its layers say");
    }
  }
  return slices;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

size_t element_count(const std::vector<int64_t>& shape) {
  size_t count = 1;
  for (int64_t dimension : shape) {
    if (dimension < 0 || __builtin_mul_overflow(count, size_t(dimension), &count)) {
      throw Error("tensor shape " + shape_text(shape) + " is negative or too large");
    }
  }
  return count;
}

Shapes exchanged_shapes(const Model& model) {
  Shapes shapes;
  for (const ExchangedSlice& s : exchanged_slices(model)) shapes.push_back(s.shape);
  return shapes;
}

Tensors exchanged_parameters(const Model& model) {
  Tensors tensors;
  for (const ExchangedSlice& s : exchanged_slices(model)) {
    const float* values = model.data(s.slice);
    tensors.push_back({s.shape, std::vector<float>(values, values + s.slice.size)});
  }
  return tensors;
}

std::string shape_mismatch(const Shapes& expected, const Shapes& given) {
  if (expected.size() != given.size()) {
    return "expected " + std::to_string(expected.size()) + " tensors, got " +
           std::to_string(given.size());
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] != given[i]) {
      return "tensor " + std::to_string(i) + ": expected shape " + shape_text(expected[i]) +
             ", got " + shape_text(given[i]);
    }
  }
  return "";
}

void set_exchanged_parameters(Model& model, const Tensors& tensors) {
  const std::vector<ExchangedSlice> slices = exchanged_slices(model);
  Shapes expected, given;
  for (const ExchangedSlice& s : slices) expected.push_back(s.shape);
  for (const Tensor& t : tensors) given.push_back(t.shape);
  if (std::string mismatch = shape_mismatch(expected, given); !mismatch.empty()) {
    throw Error("the parameters do not fit the model: " + mismatch);
  }
  for (size_t i = 0; i < slices.size(); ++i) {
    if (tensors[i].values.size() != slices[i].slice.size) {
      throw Error("tensor " + std::to_string(i) + " holds " +
                  std::to_string(tensors[i].values.size()) + " values, its shape says " +
                  std::to_string(slices[i].slice.size));
    }
  }
  for (size_t i = 0; i < slices.size(); ++i) {
    std::copy(tensors[i].values.begin(), tensors[i].values.end(), model.data(slices[i].slice));
  }
}

}  // namespace edgetrain::fed
