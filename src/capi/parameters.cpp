// The updatable layers' trainable tensors, named "<layer>.<tensor>" and shaped as Core ML stores
// them (each layer's LayerParameter list); the only reader of model weights in the C API.
#include "capi/parameters.h"

namespace edgetrain::capi {
namespace {

template <typename Value, typename TheModel>
std::vector<TensorView<Value>> tensors_of(TheModel& model) {
  std::vector<TensorView<Value>> tensors;
  for (const Layer& layer : model.layers) {
    if (!layer.updatable) continue;
    for (const LayerParameter& parameter : layer.parameters) {
      if (parameter.role != ParameterRole::kTrainable) continue;
      tensors.push_back({layer.name + "." + parameter.name, parameter.shape,
                         model.data(parameter), parameter.slice.size});
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
