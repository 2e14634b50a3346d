// edgetrain's model file: "EDGETRAIN-MODEL\n" magic, a uint64 LE byte count and that many bytes of
// JSON describing the model, a uint64 LE float count and the parameter block as float32 LE.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "edgetrain/error.h"
#include "edgetrain/io.h"
#include "io/atomic_file.h"
#include "io/model_json.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

constexpr char kMagic[] = "EDGETRAIN-MODEL\n";
constexpr size_t kMagicSize = sizeof(kMagic) - 1;
static_assert(std::endian::native == std::endian::little, "the model file is little-endian");

void append_u64(std::string& out, uint64_t value) {
  char bytes[8];
  std::memcpy(bytes, &value, 8);
  out.append(bytes, 8);
}

}  // namespace

void save_model(const Model& model, const std::string& path) {
  validate(model);
  const std::string description = model_to_json(model).dump();
  std::string bytes(kMagic, kMagicSize);
  append_u64(bytes, description.size());
  bytes += description;
  append_u64(bytes, model.parameters.size());
  bytes.append(reinterpret_cast<const char*>(model.parameters.data()),
               model.parameters.size() * sizeof(float));
  write_file_atomically(path, bytes);
}

Model load_model(const std::string& path) {
  const std::string bytes = read_whole_file(path);
  auto fail = [&](const std::string& why) -> Error { return Error(path + ": " + why); };
  size_t position = 0;
  auto read_u64 = [&](const char* field) {
    if (bytes.size() - position < 8) throw fail(std::string("truncated before the ") + field);
    uint64_t value;
    std::memcpy(&value, bytes.data() + position, 8);
    position += 8;
    return value;
  };
  if (bytes.size() < kMagicSize || bytes.compare(0, kMagicSize, kMagic) != 0) {
    throw fail("not an edgetrain model file (bad magic bytes)");
  }
  position = kMagicSize;
  const uint64_t description_size = read_u64("description size");
  if (description_size > bytes.size() - position) {
    throw fail("the description claims " + std::to_string(description_size) +
               " bytes but only " + std::to_string(bytes.size() - position) + " remain");
  }
  Model model;
  try {
    model = model_from_json(nlohmann::json::parse(bytes.substr(position, description_size)));
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("malformed model description: ") + e.what());
  } catch (const Error& e) {
    throw fail(e.what());
  }
  position += description_size;
  const uint64_t count = read_u64("parameter count");
  const size_t remaining = bytes.size() - position;
  if (count > remaining / sizeof(float) || count * sizeof(float) != remaining) {
    throw fail("the parameter block claims " + std::to_string(count) + " floats but " +
               std::to_string(remaining) + " bytes remain");
  }
  try {
    const size_t needed = layout_parameters(model);
    if (needed != count) {
      throw Error("the layers need " + std::to_string(needed) + " parameters but the file holds " +
                  std::to_string(count));
    }
    model.parameters.resize(count);
    std::memcpy(model.parameters.data(), bytes.data() + position, count * sizeof(float));
    validate(model);
  } catch (const Error& e) {
    throw fail(e.what());
  }
  return model;
}

}  // namespace edgetrain
