// Core ML's schema as edgetrain compiles it (src/schema/coreml.proto): parsing and serialising the
// protobuf message, its JSON form, and the names of the parts of Apple's schema that edgetrain's
// subset leaves out. Below the layers: each layer kind reads and writes its own message
// (src/nn/layers/), and src/coreml/ turns whole messages into models and back.
#pragma once

#include <cstddef>
#include <string>

#include "schema/coreml.pb.h"

namespace edgetrain {
namespace spec = CoreML::Specification;  // layer kinds read and write their own messages
}  // namespace edgetrain

namespace edgetrain::coreml {

namespace spec = CoreML::Specification;

// Protobuf cannot parse messages of 2 GiB or more; larger files are refused before reading.
constexpr size_t kMaxFileBytes = 0x7fffffff;

// Parses .mlmodel bytes. Throws Error naming `source` when they are not a Core ML model.
spec::Model parse_spec(const std::string& bytes, const std::string& source);
// Deterministic: the same message always gives the same bytes (map entries sorted).
std::string serialize_spec(const spec::Model& message);

// Protobuf's JSON mapping with Apple's field names. Converting to JSON refuses (Error naming the
// place and field number) a message holding fields this schema does not describe, which JSON would
// silently drop.
std::string spec_to_json(const spec::Model& message, const std::string& source);
spec::Model spec_from_json(const std::string& json_text, const std::string& source);

// Apple's names for the parts of its schema that this subset does not declare, from their field
// numbers: "uniDirectionalLSTM" for NeuralNetworkLayer field 420, "pipeline" for Model field 202.
// Empty when the number is not one Apple assigns there.
std::string layer_type_name_for_field(int number);
std::string model_type_name_for_field(int number);
// The first unknown field number that names a layer type (any unknown number from 100 up when
// none is in Apple's table) / a model type; 0 when there is none.
int unknown_layer_type_field(const spec::NeuralNetworkLayer& layer);
int unknown_model_type_field(const spec::Model& message);
// "place holds field N (name)" for the first field anywhere in `message` that this schema does not
// describe; empty when there is none.
std::string describe_first_unknown_field(const google::protobuf::Message& message);

}  // namespace edgetrain::coreml
