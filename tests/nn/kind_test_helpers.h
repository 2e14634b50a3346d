// Helpers of the layer-kind tests: one parameter tensor's values, and the message of the Error a
// call throws.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "edgetrain/error.h"
#include "edgetrain/model.h"

namespace edgetrain {

inline std::vector<float> parameter_values(const Model& model, const char* layer,
                                           const char* name) {
  const LayerParameter& p = *model.layer(layer).parameter(name);
  return std::vector<float>(model.data(p), model.data(p) + p.slice.size);
}

// "no error" when the call throws nothing.
inline std::string error_of(const std::function<void()>& run) {
  try {
    run();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace edgetrain
