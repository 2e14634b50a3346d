// The C API's errors, version, memory and models: loading, saving, converting, sizes and the
// updatable parameters as one flat float array (through nn/trainable_tensors.h).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "capi/capi_internal.h"
#include "edgetrain/coreml.h"
#include "edgetrain/io.h"
#include "edgetrain/version.h"
#include "nn/shapes.h"
#include "nn/trainable_tensors.h"

namespace edgetrain::capi {
namespace {

thread_local std::string last_error;

// Copies `bytes` into memory from malloc (released by edgetrain_free), with a NUL after them.
char* malloc_copy(const std::string& bytes) {
  char* memory = static_cast<char*>(std::malloc(bytes.size() + 1));
  if (memory == nullptr) throw std::bad_alloc();
  std::memcpy(memory, bytes.data(), bytes.size());
  memory[bytes.size()] = '\0';
  return memory;
}

edgetrain_model* new_model(Model model) {
  auto handle = std::make_unique<edgetrain_model>();
  handle->model = std::move(model);
  return handle.release();
}

size_t parameter_count(const Model& model) {
  size_t count = 0;
  for (const auto& tensor : trainable_tensors(model)) count += tensor.size;
  return count;
}

void check_parameter_count(const Model& model, size_t count) {
  const size_t expected = parameter_count(model);
  if (count != expected) {
    throw InvalidArgument("the model has " + std::to_string(expected) +
                          " updatable parameters, got room for " + std::to_string(count));
  }
}

}  // namespace

edgetrain_status fail(edgetrain_status status, const char* message) noexcept {
  try {
    last_error = message;
  } catch (...) {
    last_error.clear();  // no memory for the message: the status still says what happened
  }
  return status;
}

size_t checked_product(size_t a, size_t b, const char* what) {
  if (b != 0 && a > std::numeric_limits<size_t>::max() / b) {
    throw InvalidArgument(std::string(what) + " overflows: " + std::to_string(a) + " x " +
                          std::to_string(b));
  }
  return a * b;
}

}  // namespace edgetrain::capi

using edgetrain::Model;
using edgetrain::capi::guarded;
using edgetrain::capi::InvalidArgument;
using edgetrain::capi::require;

extern "C" {

const char* edgetrain_last_error(void) {
  return edgetrain::capi::last_error.c_str();
}

const char* edgetrain_version_string(void) {
  return edgetrain::version();
}

void edgetrain_free(void* memory) {
  std::free(memory);
}

edgetrain_status edgetrain_model_load(const char* path, edgetrain_model** model) {
  return guarded([&] {
    require(path, "path");
    require(model, "model");
    *model = edgetrain::capi::new_model(edgetrain::load_model(path));
  });
}

edgetrain_status edgetrain_model_from_json(const char* json, edgetrain_model** model) {
  return guarded([&] {
    require(json, "json");
    require(model, "model");
    const std::string source = "JSON text";
    const std::string bytes = edgetrain::json_to_mlmodel(json, source);
    *model = edgetrain::capi::new_model(edgetrain::parse_mlmodel(bytes, source));
  });
}

edgetrain_status edgetrain_model_from_bytes(const void* bytes, size_t size,
                                            edgetrain_model** model) {
  return guarded([&] {
    require(bytes, "bytes");
    require(model, "model");
    const std::string data(static_cast<const char*>(bytes), size);
    *model = edgetrain::capi::new_model(edgetrain::parse_mlmodel(data, ".mlmodel bytes"));
  });
}

edgetrain_status edgetrain_model_save(const edgetrain_model* model, const char* path) {
  return guarded([&] {
    require(model, "model");
    require(path, "path");
    edgetrain::save_model(model->model, path);
  });
}

edgetrain_status edgetrain_model_to_json(const edgetrain_model* model, char** json) {
  return guarded([&] {
    require(model, "model");
    require(json, "json");
    const std::string bytes = edgetrain::serialize_mlmodel(model->model);
    *json = edgetrain::capi::malloc_copy(edgetrain::mlmodel_to_json(bytes, "the model"));
  });
}

edgetrain_status edgetrain_model_to_bytes(const edgetrain_model* model, void** bytes,
                                          size_t* size) {
  return guarded([&] {
    require(model, "model");
    require(bytes, "bytes");
    require(size, "size");
    const std::string data = edgetrain::serialize_mlmodel(model->model);
    *bytes = edgetrain::capi::malloc_copy(data);
    *size = data.size();
  });
}

void edgetrain_model_free(edgetrain_model* model) {
  delete model;
}

edgetrain_status edgetrain_model_input_size(const edgetrain_model* model, size_t* size) {
  return guarded([&] {
    require(model, "model");
    require(size, "size");
    // Every input's values, in the model's input order (what predict and the data take).
    size_t total = 0;
    for (const edgetrain::Feature& input : model->model.inputs) {
      total += size_t(edgetrain::feature_shape(input, model->model).count());
    }
    *size = total;
  });
}

edgetrain_status edgetrain_model_output_size(const edgetrain_model* model, size_t* size) {
  return guarded([&] {
    require(model, "model");
    require(size, "size");
    const auto shapes = edgetrain::infer_shapes(model->model);
    *size = size_t(shapes.at(edgetrain::network_output_name(model->model)).count());
  });
}

edgetrain_status edgetrain_model_initialize(edgetrain_model* model, uint64_t seed) {
  return guarded([&] {
    require(model, "model");
    edgetrain::initialize_parameters(model->model, seed, edgetrain::Initializer::kGlorotUniform);
    model->predictor.reset();
  });
}

edgetrain_status edgetrain_model_tensor_count(const edgetrain_model* model, size_t* count) {
  return guarded([&] {
    require(model, "model");
    require(count, "count");
    *count = edgetrain::trainable_tensors(model->model).size();
  });
}

edgetrain_status edgetrain_model_tensor(const edgetrain_model* model, size_t index,
                                        edgetrain_tensor_info* info) {
  return guarded([&] {
    require(model, "model");
    require(info, "info");
    const auto tensors = edgetrain::trainable_tensors(model->model);
    if (index >= tensors.size()) {
      throw InvalidArgument("tensor " + std::to_string(index) + " asked for; the model has " +
                            std::to_string(tensors.size()));
    }
    // The names live in the handle, so the pointer handed out outlives this call.
    auto& names = model->tensor_names;
    if (names.size() != tensors.size()) {
      names.clear();
      for (const auto& tensor : tensors) names.push_back(tensor.name);
    }
    edgetrain_tensor_info result{};
    size_t offset = 0;
    for (size_t i = 0; i < index; ++i) offset += tensors[i].size;
    const auto& tensor = tensors[index];
    if (tensor.shape.size() > EDGETRAIN_MAX_RANK) throw edgetrain::Error("tensor rank too large");
    result.name = names[index].c_str();
    result.rank = tensor.shape.size();
    for (size_t d = 0; d < tensor.shape.size(); ++d) result.shape[d] = tensor.shape[d];
    result.size = tensor.size;
    result.offset = offset;
    *info = result;
  });
}

edgetrain_status edgetrain_model_parameter_count(const edgetrain_model* model, size_t* count) {
  return guarded([&] {
    require(model, "model");
    require(count, "count");
    *count = edgetrain::capi::parameter_count(model->model);
  });
}

edgetrain_status edgetrain_model_get_parameters(const edgetrain_model* model, float* values,
                                                size_t count) {
  return guarded([&] {
    require(model, "model");
    edgetrain::capi::check_parameter_count(model->model, count);
    if (count > 0) require(values, "values");
    for (const auto& tensor : edgetrain::trainable_tensors(model->model)) {
      std::memcpy(values, tensor.values, tensor.size * sizeof(float));
      values += tensor.size;
    }
  });
}

edgetrain_status edgetrain_model_set_parameters(edgetrain_model* model, const float* values,
                                                size_t count) {
  return guarded([&] {
    require(model, "model");
    edgetrain::capi::check_parameter_count(model->model, count);
    if (count > 0) require(values, "values");
    const auto tensors = edgetrain::trainable_tensors(model->model);
    // Checked in full before anything is written, so a refusal leaves the model as it was.
    const float* value = values;
    for (const auto& tensor : tensors) {
      for (size_t i = 0; i < tensor.size; ++i, ++value) {
        if (!std::isfinite(*value)) {
          throw InvalidArgument(tensor.name + "[" + std::to_string(i) + "] is " +
                                std::to_string(*value) + "; parameters must be finite");
        }
      }
    }
    for (const auto& tensor : tensors) {
      std::memcpy(tensor.values, values, tensor.size * sizeof(float));
      values += tensor.size;
    }
    model->predictor.reset();
  });
}

}  // extern "C"
