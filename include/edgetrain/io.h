// Saving and loading models as Core ML files: a path ending in ".json" holds the JSON text form of
// a .mlmodel (protobuf's JSON mapping, see coreml.h), any other path the .mlmodel itself. Both are
// deterministic: the same model always gives the same bytes. Saving refuses an updatable model that
// Core ML would reject (validate_coreml) and is atomic: a temporary file is written, flushed and
// renamed, so the previous file stays intact until the new one is complete.
#pragma once

#include <string>

#include "edgetrain/model.h"

namespace edgetrain {

void save_model(const Model& model, const std::string& path);
// Throws Error naming the file and what is wrong with it (the layer or feature and the field);
// every byte is checked, and sizes before anything is allocated.
Model load_model(const std::string& path);

}  // namespace edgetrain
