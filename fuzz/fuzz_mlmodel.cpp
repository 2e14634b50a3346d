// libFuzzer target: the Core ML reader and validator, the writer and the JSON form behind them,
// and one forward pass of whatever loads.
//
// Input: the bytes of a .mlmodel. For each:
// - parse_mlmodel, then validate_coreml on what it accepts;
// - a model that loads and the writer accepts must read back, and write the same bytes again;
// - a model that loads and is small enough (at most 1e6 parameters, an input of at most 1e5
//   values, bounded blobs and work) runs one prediction on zeros through Predictor;
// - bytes that convert to JSON (loadable or not) must convert back, and give the same JSON again.
// Only edgetrain::Error may escape any of these; everything else is a crash libFuzzer records.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/model.h"
#include "fuzz_util.h"

namespace {

using namespace edgetrain;

constexpr double kMaxParameters = 1e6;
constexpr double kMaxInputValues = 1e5;
constexpr double kMaxBlobValues = 4e6;    // every blob of one forward pass together
constexpr double kMaxMultiplyAdds = 5e7;  // keeps one execution well under a second

[[noreturn]] void crash(const std::string& what) {
  std::fprintf(stderr, "fuzz_mlmodel: %s\n", what.c_str());
  std::abort();
}

// Whether a forward pass is cheap enough to run on every input. Throws Error when the shapes do not
// infer (then Predictor would refuse the model too).
bool small_enough(const Model& model) {
  if (double(model.parameter_count()) > kMaxParameters || model.inputs.empty()) return false;
  const BlobShapes shapes = infer_shapes(model);
  const auto volume = [](const Shape& s) { return double(s.count()); };
  const auto input = shapes.find(model.inputs[0].name);
  if (input == shapes.end() || volume(input->second) > kMaxInputValues) return false;
  double blob_values = 0, multiply_adds = 0;
  for (const auto& [name, shape] : shapes) blob_values += volume(shape);
  for (const Layer& layer : model.layers) {
    if (layer.inputs.empty() || layer.outputs.empty()) return false;
    const auto in = shapes.find(layer.inputs[0]);
    const auto out = shapes.find(layer.outputs[0]);
    if (in == shapes.end() || out == shapes.end()) return false;
    double per_output = 1;  // work per output value
    size_t weights = 0;
    for (const LayerParameter& parameter : layer.parameters) weights += parameter.slice.size;
    if (weights > 0) per_output = double(weights) / std::max(1, out->second[0]);
    if (const auto* pool = std::get_if<Pooling>(&layer.params)) {
      per_output = pool->global ? volume(in->second) / std::max(1, in->second[0])
                                : double(pool->kernel_size[0]) * pool->kernel_size[1];
    }
    multiply_adds += volume(out->second) * std::max(1.0, per_output);
  }
  return blob_values <= kMaxBlobValues && multiply_adds <= kMaxMultiplyAdds;
}

void predict_on_zeros(const Model& model) {
  if (!small_enough(model)) {
    fuzz::accepted("parse_mlmodel (too large to predict on every input)");
    return;
  }
  Predictor predictor(model);
  const std::vector<float> zeros(predictor.input_size(), 0.0f);
  const Prediction prediction = predictor.predict(zeros.data());
  // Every declared output comes back; a classifier's also as probabilities and an arg-max label.
  FUZZ_CHECK(!prediction.outputs.empty());
  if (predictor.kind() == OutputKind::kClassification) {
    FUZZ_CHECK(!prediction.probabilities.empty());
    FUZZ_CHECK(prediction.label >= 0 &&
               size_t(prediction.label) < prediction.probabilities.size());
  }
  fuzz::accepted("Predictor");
}

// What the writer writes, the reader must read, and writing that again gives the same bytes.
void round_trip(const Model& model) {
  std::string bytes;
  try {
    bytes = serialize_mlmodel(model);
  } catch (const Error& error) {
    fuzz::refused("serialize_mlmodel", error);  // refusing a model Core ML would reject is allowed
    return;
  }
  try {
    const Model again = parse_mlmodel(bytes, "rewritten.mlmodel");
    if (serialize_mlmodel(again) != bytes)
      crash("a model read back from the writer writes other bytes");
    fuzz::accepted("serialize_mlmodel, read back");
  } catch (const Error& e) {
    crash(std::string("the writer's own output does not read back: ") + e.what());
  }
}

// The JSON form is lossless both ways: bytes that convert to JSON convert back, and give the same
// JSON again (.mlmodel → JSON → .mlmodel → JSON).
void json_round_trip(const std::string& bytes) {
  std::string json;
  try {
    json = mlmodel_to_json(bytes, "fuzz.mlmodel");
  } catch (const Error& error) {
    fuzz::refused("mlmodel_to_json", error);
    return;
  }
  try {
    const std::string again = mlmodel_to_json(json_to_mlmodel(json, "fuzz.json"), "again.mlmodel");
    if (again != json) crash("JSON → .mlmodel → JSON changes the text");
    fuzz::accepted("mlmodel_to_json, back");
  } catch (const Error& e) {
    crash(std::string("the JSON form of a model does not convert back: ") + e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const Model model = parse_mlmodel(bytes, "fuzz.mlmodel");
    fuzz::accepted("parse_mlmodel");
    const ValidationReport report = validate_coreml(model);
    for (const std::string& error : report.errors) FUZZ_CHECK(!error.empty());
    round_trip(model);
    try {
      predict_on_zeros(model);
    } catch (const Error& error) {
      fuzz::refused("Predictor", error);
    }
  } catch (const Error& error) {
    fuzz::refused("parse_mlmodel", error);
  }
  json_round_trip(bytes);
  return 0;
}
