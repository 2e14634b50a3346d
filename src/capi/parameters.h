// The updatable parameters as named tensors: the one place the C API touches a model's weights, so
// a change in how layers keep their parameters is adapted here alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "edgetrain/model.h"

namespace edgetrain::capi {

// A view of one weight or bias tensor of an updatable layer. `Value` is float or const float.
template <typename Value>
struct TensorView {
  std::string name;            // "<layer>.<tensor>": "dense.weights", "dense.bias", ...
  std::vector<int64_t> shape;  // as Core ML stores it: conv (OC, IC/groups, KH, KW), dense (O, I),
                               // bias (O)
  Value* values = nullptr;     // `size` floats inside the model
  size_t size = 0;             // the product of the shape
};

// Every updatable layer's trainable tensors (weights, then bias when it has one, ...), in layer
// order. The views point into the model and stay valid while its structure does.
std::vector<TensorView<float>> updatable_tensors(Model& model);
std::vector<TensorView<const float>> updatable_tensors(const Model& model);

}  // namespace edgetrain::capi
