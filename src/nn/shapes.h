// Internal helpers of shape inference, shared by the builder, the network and the file readers.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "edgetrain/model.h"

namespace edgetrain {

std::string shape_string(const std::array<int, 3>& shape);
std::string shape_string(const std::vector<int64_t>& shape);
// A number as messages print it ("0.001", "1e-08").
std::string number_text(double value);
// Core ML's name of a feature type: FLOAT32, DOUBLE, INT32, Int64, String, image, dictionary.
const char* feature_type_text(FeatureType type);

// A feature's per-sample shape as (C, H, W); throws Error for bad ranks or dimensions.
std::array<int, 3> feature_shape(const Feature& feature);

// Output size and leading padding of a convolution or pooling window over an input (C, H, W).
struct ConvGeometry {
  int out_height = 0, out_width = 0;
  int pad_top = 0, pad_left = 0;
};
ConvGeometry conv_geometry(const ConvolutionParams& conv, const std::array<int, 3>& in);
ConvGeometry pool_geometry(const PoolingParams& pool, const std::array<int, 3>& in);

// Sets every layer's weight and bias slice (layer order, weight then bias) and returns the block's
// size, without allocating it. Throws Error on non-positive sizes or overflow.
size_t layout_parameters(Model& model);

// Everything validate() checks except the update parameters; returns the blob shapes.
BlobShapes validate_structure(const Model& model);
// The blob the network scores in: a classifier's probability blob (label_probability_layer, else
// the last layer's output, as Core ML), else the first output that is not a class label.
std::string network_output_name(const Model& model);

// Checks the update parameters: losses, targets, optimizer defaults inside their allowed values.
void validate_update(const Model& model, const BlobShapes& shapes);
// Throws Error unless `value` is allowed by `parameter` (its set or range); `what` names it.
void check_allowed(const Int64Parameter& parameter, int64_t value, const std::string& what);
void check_allowed(const DoubleParameter& parameter, double value, const std::string& what);

}  // namespace edgetrain
