// The updatable layers' weights and biases as named tensors shaped as Core ML stores them. Today a
// Layer holds a `weight` and a `bias` slice of Model::parameters; this file is the only reader of
// them in the C API.
#include "capi/parameters.h"

#include <variant>

namespace edgetrain::capi {
namespace {

// The weight's shape, or empty for a layer kind without parameters.
std::vector<int64_t> weight_shape(const Layer& layer) {
  if (const auto* conv = std::get_if<ConvolutionParams>(&layer.params)) {
    return {conv->output_channels, conv->kernel_channels, conv->kernel_size[0],
            conv->kernel_size[1]};
  }
  if (const auto* dense = std::get_if<InnerProductParams>(&layer.params)) {
    return {dense->output_channels, dense->input_channels};
  }
  return {};
}

template <typename Value, typename TheModel>
std::vector<TensorView<Value>> tensors_of(TheModel& model) {
  std::vector<TensorView<Value>> tensors;
  for (const Layer& layer : model.layers) {
    if (!layer.updatable) continue;
    const std::vector<int64_t> shape = weight_shape(layer);
    if (layer.weight.size > 0) {
      tensors.push_back(
          {layer.name + ".weight", shape, model.data(layer.weight), layer.weight.size});
    }
    if (layer.bias.size > 0) {
      tensors.push_back({layer.name + ".bias",
                         {int64_t(layer.bias.size)},
                         model.data(layer.bias),
                         layer.bias.size});
    }
  }
  return tensors;
}

}  // namespace

std::vector<TensorView<float>> updatable_tensors(Model& model) {
  return tensors_of<float>(model);
}
std::vector<TensorView<const float>> updatable_tensors(const Model& model) {
  return tensors_of<const float>(model);
}

}  // namespace edgetrain::capi
