// The model description (everything but the parameter values) as JSON, for the model file.
#pragma once

#include <nlohmann/json.hpp>

#include "edgetrain/model.h"

namespace edgetrain {

nlohmann::json model_to_json(const Model& model);
// Reads the description; lays out (but does not fill) the parameter block. Throws Error (or
// nlohmann::json::exception, which callers wrap) on malformed input.
Model model_from_json(const nlohmann::json& json);

}  // namespace edgetrain
