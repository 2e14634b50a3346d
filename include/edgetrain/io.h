/**
 * @file io.h
 * @brief Saving and loading models as Core ML files.
 *
 * A path ending in ".json" holds the JSON text form of a .mlmodel (protobuf's JSON mapping, see
 * coreml.h), any other path the .mlmodel itself. Both are deterministic: the same model always
 * gives the same bytes.
 */
#pragma once

#include <string>

#include "edgetrain/model.h"

namespace edgetrain {

/**
 * Writes `model` to `path` as a .mlmodel (or its JSON form for a ".json" path). Refuses, with an
 * Error listing the failures, an updatable model that Core ML would reject (validate_coreml).
 * Atomic: a temporary file is written, flushed and renamed, so the previous file stays intact
 * until the new one is complete.
 */
void save_model(const Model& model, const std::string& path);

/**
 * Reads a model file written by save_model() or by Core ML tools. Throws Error naming the file and
 * what is wrong with it (the layer or feature and the field); every byte is checked, and sizes
 * before anything is allocated.
 */
Model load_model(const std::string& path);

}  // namespace edgetrain
