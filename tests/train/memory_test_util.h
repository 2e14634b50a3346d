// For the tests of memory bounds (tests/train, tests/cli): a network whose first blob is as large
// as asked (counted, never allocated), and the parts of a refusal's message.
#pragma once

#include <string>

#include "edgetrain/model.h"

namespace edgetrain {

// "<what> needs <needed> of memory, but only <available> is available <where>; <hint>", in parts;
// all empty when the message is not a refusal.
struct Refusal {
  std::string what, needed, available, where, hint;
};
inline Refusal parse_refusal(const std::string& message) {
  const size_t needs = message.find(" needs ");
  const size_t of_memory = message.find(" of memory, but only ", needs);
  const size_t is_available = message.find(" is available ", of_memory);
  const size_t hint = message.find("; ", is_available);
  if (needs == std::string::npos || of_memory == std::string::npos ||
      is_available == std::string::npos || hint == std::string::npos) {
    return {};
  }
  const size_t needed_at = needs + 7, available_at = of_memory + 21, where_at = is_available + 14;
  return {message.substr(0, needs), message.substr(needed_at, of_memory - needed_at),
          message.substr(available_at, is_available - available_at),
          message.substr(where_at, hint - where_at), message.substr(hint + 2)};
}

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
      .optimizer(Adam{.mini_batch_size = {16, std::array<int64_t, 2>{1, 1 << 20}}})
      .epochs({1, std::array<int64_t, 2>{1, 10}})
      .layers({
          {"conv", "image", "c", Convolution{.output_channels = channels, .kernel_channels = 1, .kernel_size = {3, 3}, .padding = Padding::kSame}, kUpdatable},
          {"relu", "c", "r", ReLU()},
          {"pool", "r", "p", Pooling{.type = PoolingType::kAverage, .global = true}},
          {"flatten", "p", "f", Flatten{}},
          {"dense", "f", "d", InnerProduct{.input_channels = channels, .output_channels = 10}, kUpdatable},
          {"softmax", "d", "output", Softmax{}},
      })
      .build();
}

}  // namespace edgetrain
