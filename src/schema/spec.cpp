// Parsing and serialising Core ML's protobuf message. Every byte is untrusted.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>

#include "edgetrain/error.h"
#include "schema/spec.h"

namespace edgetrain::coreml {

spec::Model parse_spec(const std::string& bytes, const std::string& source) {
  if (bytes.empty()) throw Error(source + ": the file is empty, not a Core ML model");
  if (bytes.size() > kMaxFileBytes) {
    throw Error(source + ": " + std::to_string(bytes.size()) +
                " bytes is more than a Core ML model can hold (2 GiB)");
  }
  spec::Model message;
  // Protobuf would also log the reason (e.g. a text field that is not UTF-8) to stderr.
  google::protobuf::LogSilencer quiet;
  if (!message.ParseFromArray(bytes.data(), int(bytes.size()))) {
    throw Error(
        source + ": not a Core ML model, or a truncated or corrupt one: its " +
        std::to_string(bytes.size()) +
        " bytes do not parse as CoreML.Specification.Model (or hold text that is not UTF-8)");
  }
  return message;
}

std::string serialize_spec(const spec::Model& message) {
  const size_t size = message.ByteSizeLong();
  if (size > kMaxFileBytes) {
    throw Error("cannot write the model: it needs " + std::to_string(size) +
                " bytes, more than a Core ML model can hold (2 GiB)");
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
  }
  return bytes;
}

}  // namespace edgetrain::coreml
