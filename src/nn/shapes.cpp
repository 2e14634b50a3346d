// Shape inference and model validation, the same for every layer kind: each kind infers its own
// outputs (src/nn/layers/); here are the walk over the graph, the names, the sizes and the
// parameter block. Every check runs once, when a model is built or read; kernels only assert.
#include "nn/shapes.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <set>
#include <sstream>

#include "edgetrain/error.h"
#include "nn/layer_kind.h"

namespace edgetrain {
namespace {

// Every blob (and so every buffer size computed from it) stays well inside int and size_t.
constexpr int64_t kMaxBlobValues = int64_t(1) << 28;

std::string describe(size_t index, const Layer& layer) {
  return "layer " + std::to_string(index) + " '" + layer.name + "' (" + layer_type_name(layer) + ")";
}

// The walk shared by infer_shapes and complete_and_infer_shapes; `completing` is the model itself
// when the layers' inferable fields are to be filled in.
BlobShapes walk(const Model& model, Model* completing) {
  BlobShapes shapes;
  std::map<std::string, std::string> producer;  // blob → "layer i 'name' (type)" or "model input"
  for (const Feature& input : model.inputs) {
    if (shapes.count(input.name)) throw Error("model input '" + input.name + "' is declared twice");
    shapes.emplace(input.name, feature_shape(input, model));
    producer[input.name] = "model input '" + input.name + "'";
  }
  std::set<std::string> layer_names;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    const LayerKind& kind = layer_kind(layer);
    if (layer.name.empty()) throw Error("layer " + std::to_string(i) + " has no name");
    const std::string where = describe(i, layer);
    if (!layer_names.insert(layer.name).second) throw Error(where + ": the layer name is used twice");
    const int inputs = int(layer.inputs.size()), outputs = int(layer.outputs.size());
    if (inputs < kind.min_inputs() || (kind.max_inputs() >= 0 && inputs > kind.max_inputs())) {
      const std::string expected =
          kind.max_inputs() < 0 ? "at least " + std::to_string(kind.min_inputs())
          : kind.min_inputs() == kind.max_inputs()
              ? std::to_string(kind.min_inputs())
              : std::to_string(kind.min_inputs()) + " to " + std::to_string(kind.max_inputs());
      throw Error(where + ": takes " + expected + " input" + (expected == "1" ? "" : "s") +
                  ", got " + std::to_string(inputs));
    }
    if (kind.outputs() >= 0 && outputs != kind.outputs()) {  // -1: the kind's infer checks
      throw Error(where + ": produces " + std::to_string(kind.outputs()) + " output" +
                  (kind.outputs() == 1 ? "" : "s") + ", got " + std::to_string(outputs));
    }
    LayerContext context{model, layer, i, {}, {}};
    for (const std::string& input : layer.inputs) {
      auto found = shapes.find(input);
      if (found == shapes.end()) {
        throw Error(where + ": input '" + input +
                    "' is neither a model input nor the output of an earlier layer");
      }
      context.inputs.push_back(found->second);
      context.sources.push_back(producer[input]);
    }
    if (completing) kind.complete(completing->layers[i], context.inputs, model);
    const std::vector<Shape> out = kind.infer(context);
    for (const Shape& shape : context.inputs) {
      if (shape.count() > kMaxBlobValues) {
        throw Error(where + ": an input holds more than 2^28 values per sample");
      }
    }
    for (size_t o = 0; o < out.size(); ++o) {
      const std::string& name = layer.outputs[o];
      if (out[o].count() > kMaxBlobValues || out[o].rank() < 1) {
        throw Error(where + ": output '" + name + "' would hold " + std::to_string(out[o].count()) +
                    " values per sample, more than 2^28");
      }
      if (shapes.count(name)) {
        throw Error(where + ": output '" + name + "' is already produced by " + producer[name]);
      }
      shapes.emplace(name, out[o]);
      producer[name] = where;
    }
  }
  return shapes;
}

}  // namespace

// ---- Shape ------------------------------------------------------------------------------------

Shape::Shape(std::initializer_list<int> dimensions) {
  assert(dimensions.size() >= 1 && dimensions.size() <= size_t(kMaxRank));
  for (int d : dimensions) dims_[size_t(rank_++)] = d;
}

Shape::Shape(const std::vector<int64_t>& dimensions) {
  if (dimensions.empty() || dimensions.size() > size_t(kMaxRank)) {
    throw Error("a shape has rank " + std::to_string(dimensions.size()) + "; ranks 1 to 5 exist");
  }
  for (int64_t d : dimensions) {
    if (d < 0 || d > kMaxBlobValues) {
      throw Error("shape " + shape_string(dimensions) + " has dimension " + std::to_string(d));
    }
    dims_[size_t(rank_++)] = int(d);
  }
}

int64_t Shape::count() const {
  int64_t product = 1;
  for (int axis = 0; axis < rank_; ++axis) {
    product *= dims_[size_t(axis)];
    if (product > (int64_t(1) << 40)) return product;  // far past any limit; no overflow
  }
  return product;
}

std::vector<int64_t> Shape::dims() const {
  return std::vector<int64_t>(dims_.begin(), dims_.begin() + rank_);
}

bool Shape::operator==(const Shape& other) const {
  return rank_ == other.rank_ && std::equal(dims_.begin(), dims_.begin() + rank_, other.dims_.begin());
}

std::string Shape::text() const { return shape_string(dims()); }

// ---- Helpers ----------------------------------------------------------------------------------

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string number_text(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

const char* feature_type_text(FeatureType type) {
  static constexpr const char* kNames[] = {"FLOAT32", "DOUBLE", "INT32",     "Int64",
                                           "String",  "image",  "dictionary"};
  return kNames[int(type)];
}

const LayerParameter* Layer::parameter(const std::string& parameter_name) const {
  for (const LayerParameter& p : parameters) {
    if (p.name == parameter_name) return &p;
  }
  return nullptr;
}

const Layer& Model::layer(const std::string& name) const {
  for (const Layer& layer : layers) {
    if (layer.name == name) return layer;
  }
  throw Error("the model has no layer named '" + name + "'");
}

// ---- LayerContext -------------------------------------------------------------------------------

std::string LayerContext::where() const { return describe(index, layer); }

std::string LayerContext::input_text(size_t input) const {
  return "input '" + layer.inputs[input] + "' from " + sources[input] + " has shape " +
         inputs[input].text();
}

void LayerContext::fail(const std::string& what) const { throw Error(where() + ": " + what); }

// ---- Features and shapes ----------------------------------------------------------------------

Shape feature_shape(const Feature& feature, const Model& model) {
  if (feature.type == FeatureType::kImage) {
    const ImageFormat& image = feature.image;
    if (image.width <= 0 || image.height <= 0 || image.width > 65536 || image.height > 65536) {
      throw Error("image feature '" + feature.name + "' is " + std::to_string(image.width) + "x" +
                  std::to_string(image.height) + ": width and height must be 1..65536");
    }
    return {image.color_space == ColorSpace::kGrayscale ? 1 : 3, int(image.height),
            int(image.width)};
  }
  const auto& s = feature.shape;
  for (int64_t d : s) {
    if (d <= 0 || d > (int64_t(1) << 24)) {
      throw Error("feature '" + feature.name + "' has shape " + shape_string(s) +
                  ": every dimension must be between 1 and 16777216");
    }
  }
  if (model.exact_array_mapping) {
    if (s.empty() || s.size() > 5) {
      throw Error("feature '" + feature.name + "' has shape " + shape_string(s) +
                  ": expected rank 1 to 5");
    }
    return Shape(s);
  }
  if (s.size() == 1) return {int(s[0]), 1, 1};
  if (s.size() == 3) return {int(s[0]), int(s[1]), int(s[2])};
  if (s.size() == 5 && s[0] == 1 && s[1] == 1) return {int(s[2]), int(s[3]), int(s[4])};
  throw Error("feature '" + feature.name + "' has shape " + shape_string(s) +
              ": under Core ML's rank-5 mapping a multi-array input is [C], [C, H, W] or "
              "[1, 1, C, H, W] (the exact mapping, arrayInputShapeMapping 1, keeps other ranks)");
}

BlobShapes infer_shapes(const Model& model) { return walk(model, nullptr); }

BlobShapes complete_and_infer_shapes(Model& model) { return walk(model, &model); }

size_t layout_parameters(Model& model) {
  // Layer order, each kind's tensors in its order, so the block reads like the network.
  size_t offset = 0;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    Layer& layer = model.layers[i];
    std::vector<LayerParameter> laid_out;
    for (const ParameterSpec& spec : layer_kind(layer).parameters(layer)) {
      size_t size = 1;
      for (int64_t d : spec.shape) {
        if (d <= 0 || __builtin_mul_overflow(size, size_t(d), &size)) {
          throw Error(describe(i, layer) + ": parameter '" + spec.name + "' has shape " +
                      shape_string(spec.shape) + "; every dimension must be positive");
        }
      }
      LayerParameter parameter{spec.name, spec.shape, {offset, size}, spec.role, std::nullopt};
      if (const LayerParameter* before = layer.parameter(spec.name)) {
        parameter.file_updatable = before->file_updatable;
      }
      laid_out.push_back(std::move(parameter));
      if (__builtin_add_overflow(offset, size, &offset) || offset > (size_t(1) << 40)) {
        throw Error(describe(i, layer) + ": the model's parameter count is too large");
      }
    }
    layer.parameters = std::move(laid_out);
  }
  return offset;
}

std::string network_output_name(const Model& model) {
  if (model.kind == ModelKind::kClassifier) {
    // As Core ML: the named probability blob, else the last layer's output.
    if (!model.label_probability_layer.empty()) return model.label_probability_layer;
    if (!model.layers.empty() && !model.layers.back().outputs.empty()) {
      return model.layers.back().outputs[0];
    }
  }
  for (const Feature& output : model.outputs) {
    if (output.type != FeatureType::kInt64 && output.type != FeatureType::kString) return output.name;
  }
  return "";
}

BlobShapes validate_structure(const Model& model) {
  if (model.inputs.empty()) throw Error("the model has no inputs");
  if (model.outputs.empty()) throw Error("the model has no outputs");
  if (model.layers.empty()) throw Error("the model has no layers");
  BlobShapes shapes = infer_shapes(model);
  // The parameter block: each layer's tensors as its kind lays them out, inside the block.
  size_t parameters = 0;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    const std::vector<ParameterSpec> specs = layer_kind(layer).parameters(layer);
    bool matches = specs.size() == layer.parameters.size();
    for (size_t p = 0; matches && p < specs.size(); ++p) {
      const LayerParameter& have = layer.parameters[p];
      size_t size = 1;
      for (int64_t d : specs[p].shape) size *= size_t(d);
      matches = have.name == specs[p].name && have.shape == specs[p].shape &&
                have.slice.size == size && have.role == specs[p].role;
      parameters = std::max(parameters, have.slice.offset + have.slice.size);
    }
    if (!matches) {
      throw Error(describe(i, layer) + ": its parameter tensors do not match its kind's (lay the "
                  "parameters out again after changing a layer)");
    }
  }
  if (parameters != model.parameters.size()) {
    throw Error("the parameter block holds " + std::to_string(model.parameters.size()) +
                " values but the layers need " + std::to_string(parameters));
  }
  const bool classifier = model.kind == ModelKind::kClassifier;
  for (const Feature& output : model.outputs) {
    if (output.type == FeatureType::kInt64 || output.type == FeatureType::kString) {
      // A classifier's predicted class label comes from the probabilities, not from a layer.
      if (classifier && (model.metadata.predicted_feature_name.empty() ||
                         output.name == model.metadata.predicted_feature_name)) {
        continue;
      }
      throw Error("model output '" + output.name + "' is a " +
                  (output.type == FeatureType::kInt64 ? "Int64" : "String") +
                  " scalar, which only a classifier's predicted class label can be");
    }
    auto found = shapes.find(output.name);
    if (found == shapes.end()) {
      // A classifier's probabilities dictionary is made from its probability blob (checked below).
      if (classifier && output.type == FeatureType::kDictionary) continue;
      throw Error("model output '" + output.name + "' is not produced by any layer");
    }
    int64_t declared = 1;
    for (int64_t d : output.shape) declared *= d;
    if (output.type != FeatureType::kDictionary && !output.shape.empty() &&
        declared != found->second.count()) {
      throw Error("model output '" + output.name + "' is declared " + shape_string(output.shape) +
                  " but the network produces " + found->second.text());
    }
  }
  if (classifier) {
    const size_t labels = model.class_labels.size();
    if (labels == 0) throw Error("the model is a classifier but has no class labels");
    const std::string scores = network_output_name(model);
    auto found = shapes.find(scores);
    if (found == shapes.end()) {
      throw Error("the classifier's probabilities '" + scores + "' are not produced by any layer");
    }
    if (size_t(found->second.count()) != labels) {
      throw Error("the classifier has " + std::to_string(labels) + " class labels but its output '" +
                  scores + "' has " + std::to_string(found->second.count()) + " values");
    }
  }
  return shapes;
}

void validate(const Model& model) {
  const BlobShapes shapes = validate_structure(model);
  if (model.update) validate_update(model, shapes);
}

}  // namespace edgetrain
