// Small models for the Core ML tests: an updatable CNN on 8x8 images with three classes.
#pragma once

#include <stdexcept>
#include <string>

#include "edgetrain/model.h"

namespace edgetrain {

// A small updatable CNN: conv (updatable), ReLU, max-pool, flatten, dense (updatable), a linear
// activation when asked, softmax; cross-entropy against the Int32 "output_true", Adam.
inline Model small_model(bool linear_before_softmax = false) {
  ModelBuilder builder;
  builder.metadata({.specification_version = 4, .short_description = "test"})
      .input("image", {1, 8, 8})
      .output("output", {3})
      .training_input("image", {1, 8, 8})
      .training_input("output_true", {1}, FeatureType::kInt32)
      .loss(
          CategoricalCrossEntropy{.name = "lossLayer", .input = "output", .target = "output_true"})
      .optimizer(Adam{})
      .epochs({5, std::array<int64_t, 2>{1, 100}})
      .shuffle(true)
      .layers({
          {"conv1", "image", "c1",
           Convolution{.output_channels = 2, .kernel_channels = 1, .kernel_size = {3, 3}},
           kUpdatable},
          {"relu1", "c1", "r1", ReLU()},
          {"pool1", "r1", "p1", Pooling{}},
          {"flatten", "p1", "f1", Flatten{}},
          {"dense1", "f1", "d1", InnerProduct{.input_channels = 18, .output_channels = 3},
           kUpdatable},
      });
  if (linear_before_softmax) {
    builder.add(Layer{"scale", "d1", "l1", Linear(2.0f)});
    builder.add(Layer{"softmax", "l1", "output", Softmax{}});
  } else {
    builder.add(Layer{"softmax", "d1", "output", Softmax{}});
  }
  return builder.build();
}

inline Layer& layer(Model& model, const std::string& name) {
  for (Layer& l : model.layers) {
    if (l.name == name) return l;
  }
  throw std::runtime_error("no layer " + name);
}

// The same network as another tool would hand it over: not updatable, specification version 1.
inline Model plain_model() {
  Model model = small_model();
  model.update.reset();
  model.training_inputs.clear();
  for (Layer& l : model.layers) l.updatable = false;
  model.metadata.specification_version = 1;
  return model;
}

}  // namespace edgetrain
