// Core ML's WeightParams: the encodings edgetrain reads (float32, float32 raw bytes, float16,
// linear and look-up-table quantisation of 1-8 bits) widened to float32, with every size checked
// against what the layer's dimensions imply before anything is allocated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "schema/spec.h"

namespace edgetrain::coreml {

float half_to_float(uint16_t half);

// Throws Error("<where>: ...") unless `weights` holds exactly `expected` values in one encoding
// edgetrain reads; `channels` is the leading (output-channel) dimension, which per-channel
// quantisation scales index. Returns true when the values are half precision or quantised.
bool check_weights(const spec::WeightParams& weights, uint64_t expected, uint64_t channels,
                   const std::string& where);

// Writes the `count` values to dst (count floats), after check_weights accepted them.
void decode_weights(const spec::WeightParams& weights, size_t count, size_t channels, float* dst);

}  // namespace edgetrain::coreml
