// The tensors training updates, as other programs see them: every updatable layer's trainable
// LayerParameter entries, named and shaped as Core ML stores them. The one walk over a model's
// weights that the trainer, the C API (src/capi) and federated learning (src/fed) share, so a
// change in how layers keep their parameters is adapted here alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "edgetrain/model.h"

namespace edgetrain {

// A view of one trainable tensor of an updatable layer. `Value` is float or const float.
template <typename Value>
struct TensorView {
  std::string name;            // "<layer>.<tensor>": "dense.weights", "dense.bias", ...
  std::vector<int64_t> shape;  // as Core ML stores it: conv (OC, IC/groups, KH, KW), dense (O, I),
                               // bias (O)
  ParameterSlice slice;        // where its values lie in Model::parameters
  Value* values = nullptr;     // `size` floats inside the model
  size_t size = 0;             // the product of the shape
};

// Every updatable layer's kTrainable tensors (weights, then bias when it has one, ...), in layer
// order; state (batch norm's running statistics) and constants are not among them. The views point
// into the model and stay valid while its structure does. Throws Error naming the tensor when its
// slice lies outside the parameter block or disagrees with its shape (a model not validated).
std::vector<TensorView<float>> trainable_tensors(Model& model);
std::vector<TensorView<const float>> trainable_tensors(const Model& model);

}  // namespace edgetrain
