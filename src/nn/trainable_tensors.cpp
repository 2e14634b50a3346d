// Every updatable layer's trainable tensors, in layer order (nn/trainable_tensors.h).
#include "nn/trainable_tensors.h"

#include "edgetrain/error.h"

namespace edgetrain {
namespace {

template <typename Value, typename TheModel>
std::vector<TensorView<Value>> tensors_of(TheModel& model) {
  std::vector<TensorView<Value>> tensors;
  for (const Layer& layer : model.layers) {
    if (!layer.updatable) continue;
    for (const LayerParameter& parameter : layer.parameters) {
      if (parameter.role != ParameterRole::kTrainable) continue;
      std::string name = layer.name + "." + parameter.name;
      size_t count = 1;
      for (int64_t dimension : parameter.shape) count *= size_t(dimension);
      const ParameterSlice& slice = parameter.slice;
      if (count != slice.size || slice.offset > model.parameters.size() ||
          slice.size > model.parameters.size() - slice.offset) {
        throw Error("tensor '" + name + "' (" + std::to_string(slice.size) + " values at " +
                    std::to_string(slice.offset) + ") does not fit its shape or the model's " +
                    std::to_string(model.parameters.size()) + " parameters");
      }
      tensors.push_back({std::move(name), parameter.shape, slice, model.data(slice), slice.size});
    }
  }
  return tensors;
}

}  // namespace

std::vector<TensorView<float>> trainable_tensors(Model& model) {
  return tensors_of<float>(model);
}
std::vector<TensorView<const float>> trainable_tensors(const Model& model) {
  return tensors_of<const float>(model);
}

}  // namespace edgetrain
