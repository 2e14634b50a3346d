// Saving and loading models. The format is edgetrain's own (a JSON description of the model followed
// by the little-endian float parameter block); the Core ML `.mlmodel` writer replaces it as the
// default once it exists. Saving is atomic: a temporary file is written, flushed and renamed, so the
// previous file stays intact until the new one is complete.
#pragma once

#include <string>

#include "edgetrain/model.h"

namespace edgetrain {

void save_model(const Model& model, const std::string& path);
// Throws Error naming the file and what is wrong with it; every byte is checked.
Model load_model(const std::string& path);

}  // namespace edgetrain
