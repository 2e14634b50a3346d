// Between edgetrain's Model and Core ML's protobuf message (src/schema/coreml.proto): converting
// one to the other. The layers themselves are each kind's own (src/nn/layers/).
#pragma once

#include <string>

#include "edgetrain/model.h"
#include "schema/spec.h"

namespace edgetrain::coreml {

// Checks every field and size before allocating the parameter block. Throws Error naming `source`,
// the layer or feature and the field.
Model model_from_spec(const spec::Model& message, const std::string& source);
// The reader's parts around the layers (read_description.cpp); `kind` is "input", "output" or
// "training input" and `source` starts every error.
Feature feature_from_spec(const spec::FeatureDescription& description, const std::string& kind,
                          const std::string& source);
UpdateParameters update_from_spec(const spec::NetworkUpdateParameters& update,
                                  const std::string& source);
// Checks the model (its structure, and validate_coreml() when it is updatable) and builds the
// message.
spec::Model model_to_spec(const Model& model);

}  // namespace edgetrain::coreml
