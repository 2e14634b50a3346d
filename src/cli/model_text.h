// How the command line names the parts of a model: feature types, layers, update parameters and
// class labels, in the words Core ML tools use.
#pragma once

#include <cstddef>
#include <string>

#include "edgetrain/model.h"

namespace edgetrain::cli {

// "image 28x28 GRAYSCALE", "multiArray FLOAT32 [1, 28, 28]", "Int64", "dictionary Int64 -> Double".
std::string feature_type_text(const Feature& feature);
// "convolution 32 filters 3x3, stride 1x1, valid", "pooling max 2x2, stride 2x2", ...
std::string layer_text(const Layer& layer);
size_t layer_parameter_count(const Layer& layer);
// "0.001 in [0, 1]", "128 of {64, 128}", "missing".
std::string parameter_text(const DoubleParameter& parameter);
std::string parameter_text(const Int64Parameter& parameter);
const char* loss_type_text(LossType type);    // "categorical cross-entropy", "mean squared error"
const char* model_kind_text(ModelKind kind);  // "neuralNetwork", "neuralNetworkClassifier", ...

// The class label of class index k: a classifier's label, else k itself.
std::string class_label_text(const Model& model, size_t k);

}  // namespace edgetrain::cli
