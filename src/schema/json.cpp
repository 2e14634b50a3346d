// The JSON text form of a .mlmodel: protobuf's JSON mapping of CoreML.Specification.Model with
// Apple's field names. Lossless for every field the schema knows: floats print with enough digits
// to round-trip, 64-bit integers as strings, bytes as base64, so JSON → .mlmodel reproduces the
// bytes (a NaN comes back as the canonical quiet NaN: JSON spells every NaN "NaN"). Fields the
// schema does not know cannot be printed, so converting a file holding any is refused rather than
// silently dropping them.
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>

#include <cctype>

#include "schema/spec.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"

namespace edgetrain {
namespace coreml {
namespace {

// Protobuf's JSON parser reads the number -0 as the integer 0, so a float or double negative zero
// (which its printer writes as -0) would come back positive. Spelt -0.0 it keeps its sign. Only
// number tokens are touched, never text inside strings.
std::string keep_negative_zeros(const std::string& json) {
  std::string out;
  out.reserve(json.size() + 64);
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    out += c;
    if (in_string) {
      if (c == '\\' && i + 1 < json.size()) {
        out += json[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '-' && i + 1 < json.size() && json[i + 1] == '0' &&
               (i == 0 ||
                !(std::isalnum(static_cast<unsigned char>(json[i - 1])) || json[i - 1] == '.'))) {
      const size_t next = i + 2;
      const bool alone =
          next >= json.size() || !(std::isdigit(static_cast<unsigned char>(json[next])) ||
                                   json[next] == '.' || json[next] == 'e' || json[next] == 'E');
      if (alone) {
        out += "0.0";
        ++i;
      }
    }
  }
  return out;
}

// A message with no model in it (e.g. the bytes 08 00, specificationVersion 0 and nothing else)
// would print as {} and convert back to zero bytes, which no reader accepts: refused both ways.
void check_holds_a_model(const spec::Model& message, const std::string& source) {
  if (message.Type_case() == spec::Model::TYPE_NOT_SET && unknown_model_type_field(message) == 0) {
    throw Error(source +
                ": holds no Core ML model (no neuralNetwork, neuralNetworkClassifier or "
                "neuralNetworkRegressor)");
  }
}

}  // namespace

std::string spec_to_json(const spec::Model& message, const std::string& source) {
  check_holds_a_model(message, source);
  const std::string unknown = describe_first_unknown_field(message);
  if (!unknown.empty()) {
    throw Error(source + ": cannot convert to JSON without losing data: " + unknown +
                ", which edgetrain's Core ML schema does not describe");
  }
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    throw Error(source + ": cannot convert to JSON: " + std::string(status.message()));
  }
  return json;
}

spec::Model spec_from_json(const std::string& json_text, const std::string& source) {
  if (json_text.size() > kMaxFileBytes) {
    throw Error(source + ": " + std::to_string(json_text.size()) +
                " bytes of JSON is more than edgetrain reads (2 GiB)");
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a misspelt field is an error, not a silent default
  spec::Model message;
  google::protobuf::LogSilencer quiet;
  const auto status = google::protobuf::util::JsonStringToMessage(keep_negative_zeros(json_text),
                                                                  &message, options);
  if (!status.ok()) {
    throw Error(source + ": not a Core ML model in JSON form: " + std::string(status.message()));
  }
  check_holds_a_model(message, source);
  return message;
}

}  // namespace coreml

std::string mlmodel_to_json(const std::string& mlmodel_bytes, const std::string& source_name) {
  return coreml::spec_to_json(coreml::parse_spec(mlmodel_bytes, source_name), source_name);
}

std::string json_to_mlmodel(const std::string& json_text, const std::string& source_name) {
  return coreml::serialize_spec(coreml::spec_from_json(json_text, source_name));
}

}  // namespace edgetrain
