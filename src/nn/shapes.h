// Internal helpers of shape inference and validation, shared by the builder, the network and the
// file readers.
#pragma once

#include <string>
#include <vector>

#include "edgetrain/model.h"

namespace edgetrain {

std::string shape_string(const std::vector<int64_t>& shape);
// A number as messages print it ("0.001", "1e-08").
std::string number_text(double value);
// Core ML's name of a feature type: FLOAT32, DOUBLE, INT32, Int64, String, image, dictionary.
const char* feature_type_text(FeatureType type);

// A model input's per-sample shape as the layers see it: an image is (C, H, W); a multi-array
// under the rank-5 mapping is (C, 1, 1) for rank 1, (C, H, W) for rank 3 (or rank 5 with leading
// 1s), and exactly as declared under the exact mapping. Throws Error for bad ranks or dimensions.
Shape feature_shape(const Feature& feature, const Model& model);

// Shape inference that also fills in what each layer's inputs decide (ModelBuilder::build):
// convolution kernel channels, inner-product input channels, per-channel activation sizes.
BlobShapes complete_and_infer_shapes(Model& model);

// Sets every layer's parameter tensors from its kind (names, shapes, roles; kept file flags) and
// returns the block's size, without allocating it. Throws Error on overflow.
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
