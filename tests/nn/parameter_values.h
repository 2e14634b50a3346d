// Test helper: the values of one parameter tensor of a model's layer, by names.
#pragma once

#include <vector>

#include "edgetrain/model.h"

namespace edgetrain {

inline std::vector<float> parameter_values(const Model& model, const char* layer,
                                           const char* name) {
  const LayerParameter& p = *model.layer(layer).parameter(name);
  return std::vector<float>(model.data(p), model.data(p) + p.slice.size);
}

}  // namespace edgetrain
