// Helpers of the layer-kind tests: one parameter tensor's values, a model of one layer, its Core ML
// round trip, and the message of the Error a call throws.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/model.h"
#include "nn/layer_kind.h"
#include "nn/shapes.h"

namespace edgetrain {

inline std::vector<float> parameter_values(const Model& model, const char* layer,
                                           const char* name) {
  const LayerParameter& p = *model.layer(layer).parameter(name);
  return std::vector<float>(model.data(p), model.data(p) + p.slice.size);
}

// A built model of one layer named "layer": `inputs` model inputs "x" (and "x2") of shape
// `input`, its output "y" declared `output`.
inline Model one_layer(std::vector<int64_t> input, LayerParams params, std::vector<int64_t> output,
                       int inputs = 1) {
  ModelBuilder builder;
  BlobNames names;
  for (int i = 0; i < inputs; ++i) {
    names.push_back(i == 0 ? "x" : "x2");
    builder.input(names.back(), input);
  }
  return builder.output("y", output).add({"layer", names, "y", std::move(params)}).build();
}

// The model written as .mlmodel bytes reads back with its first layer's parameters and every
// blob's shape, and writes the same bytes again.
inline void expect_writes_and_reads_back(const Model& model) {
  const Layer& layer = model.layers[0];
  SCOPED_TRACE(std::string(layer_type_name(layer)) + ": " + layer_kind(layer).describe(layer));
  const std::string bytes = serialize_mlmodel(model);
  const Model read = parse_mlmodel(bytes, "written.mlmodel");
  EXPECT_TRUE(read.layers[0].params == layer.params);
  EXPECT_EQ(infer_shapes(read), infer_shapes(model));
  EXPECT_EQ(serialize_mlmodel(read), bytes);
}

// "no error" when the call throws nothing.
inline std::string error_of(const std::function<void()>& run) {
  try {
    run();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace edgetrain
