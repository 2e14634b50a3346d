// A network whose first blob is as large as asked, for the tests of memory bounds (tests/train,
// tests/cli): the blob is counted, never allocated.
#pragma once

#include "edgetrain/model.h"

namespace edgetrain {

// A network whose first blob is huge: a (1, side, side) image, a 3x3 "same" convolution to
// `channels` planes (channels · side² floats a sample), global average pooling and a dense layer.
inline Model wide_model(int channels, int side) {
  return ModelBuilder()
      .metadata({.specification_version = 4, .short_description = "wide"})
      .input("image", {1, side, side})
      .output("output", {10})
      .training_input("image", {1, side, side})
      .training_input("output_true", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "output", .target = "output_true"})
      .optimizer(Adam{.mini_batch_size = {16, {}, std::array<int64_t, 2>{1, 1 << 20}}})
      .epochs({1, {}, std::array<int64_t, 2>{1, 10}})
      .layers({
          Convolution{.name = "conv",
                      .input = "image",
                      .output = "c",
                      .output_channels = channels,
                      .kernel_channels = 1,
                      .kernel_size = {3, 3},
                      .padding = Padding::kSame,
                      .updatable = true},
          ReLU{.name = "relu", .input = "c", .output = "r"},
          Pooling{.name = "pool",
                  .input = "r",
                  .output = "p",
                  .type = PoolingType::kAverage,
                  .global = true},
          Flatten{.name = "flatten", .input = "p", .output = "f"},
          InnerProduct{.name = "dense",
                       .input = "f",
                       .output = "d",
                       .input_channels = channels,
                       .output_channels = 10,
                       .updatable = true},
          Softmax{.name = "softmax", .input = "d", .output = "output"},
      })
      .build();
}

}  // namespace edgetrain
