// The exchanged vector: the updatable layers' trainable tensors as nn/trainable_tensors.h lists
// them (the walk the trainer and the C API share). Every other part of src/fed and src/flower reads
// or writes a model's weights through the functions below.
#include <algorithm>

#include "edgetrain/error.h"
#include "edgetrain/fed.h"
#include "nn/trainable_tensors.h"

namespace edgetrain::fed {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

size_t element_count(const std::vector<int64_t>& shape) {
  size_t count = 1;
  for (int64_t dimension : shape) {
    if (dimension < 0 || __builtin_mul_overflow(count, size_t(dimension), &count)) {
      throw Error("tensor shape " + shape_text(shape) + " is negative or too large");
    }
  }
  return count;
}

Shapes exchanged_shapes(const Model& model) {
  Shapes shapes;
  for (const TensorView<const float>& tensor : trainable_tensors(model)) {
    shapes.push_back(tensor.shape);
  }
  return shapes;
}

Tensors exchanged_parameters(const Model& model) {
  Tensors tensors;
  for (const TensorView<const float>& tensor : trainable_tensors(model)) {
    tensors.push_back(
        {tensor.shape, std::vector<float>(tensor.values, tensor.values + tensor.size)});
  }
  return tensors;
}

std::string shape_mismatch(const Shapes& expected, const Shapes& given) {
  if (expected.size() != given.size()) {
    return "expected " + std::to_string(expected.size()) + " tensors, got " +
           std::to_string(given.size());
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] != given[i]) {
      return "tensor " + std::to_string(i) + ": expected shape " + shape_text(expected[i]) +
             ", got " + shape_text(given[i]);
    }
  }
  return "";
}

void set_exchanged_parameters(Model& model, const Tensors& tensors) {
  const std::vector<TensorView<float>> views = trainable_tensors(model);
  Shapes expected, given;
  for (const TensorView<float>& view : views) expected.push_back(view.shape);
  for (const Tensor& t : tensors) given.push_back(t.shape);
  if (std::string mismatch = shape_mismatch(expected, given); !mismatch.empty()) {
    throw Error("the parameters do not fit the model: " + mismatch);
  }
  for (size_t i = 0; i < views.size(); ++i) {
    if (tensors[i].values.size() != views[i].size) {
      throw Error("tensor " + std::to_string(i) + " ('" + views[i].name + "') holds " +
                  std::to_string(tensors[i].values.size()) + " values, its shape says " +
                  std::to_string(views[i].size));
    }
  }
  for (size_t i = 0; i < views.size(); ++i) {
    std::copy(tensors[i].values.begin(), tensors[i].values.end(), views[i].values);
  }
}

}  // namespace edgetrain::fed
