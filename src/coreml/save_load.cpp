// save_model / load_model: the extension picks the form. ".json" is the JSON text form of a
// .mlmodel (see coreml.h), anything else the Core ML .mlmodel itself.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "coreml/model_spec.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/io.h"
#include "base/atomic_file.h"

namespace edgetrain {
namespace {

bool is_json(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return extension == ".json";
}

}  // namespace

void save_model(const Model& model, const std::string& path) {
  const bool json = is_json(path);
  coreml::spec::Model message;
  std::string bytes;
  try {
    message = coreml::model_to_spec(model);
    if (!json) bytes = coreml::serialize_spec(message);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  if (json) bytes = coreml::spec_to_json(message, path);
  write_file_atomically(path, bytes);
}

Model load_model(const std::string& path) {
  const std::string bytes = read_whole_file(path, coreml::kMaxFileBytes);
  if (!is_json(path)) return parse_mlmodel(bytes, path);
  return coreml::model_from_spec(coreml::spec_from_json(bytes, path), path);
}

}  // namespace edgetrain
