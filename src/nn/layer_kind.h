// A layer kind's whole contract, in one place per kind (src/nn/layers/*.cpp): shape inference, its
// parameter tensors, what Core ML allows of it, its executable op (forward and backward), Core ML
// read and write, and its description. The kinds are the alternatives of LayerParams
// (include/edgetrain/layers.h); layer_kind() finds a layer's, and a kind without an implementation
// fails to link (kind_for<T>() is defined only in the kind's own file).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgetrain/model.h"
#include "nn/op.h"
#include "ops/ops.h"
#include "schema/spec.h"

namespace edgetrain {

// One layer as shape inference sees it: its input shapes and where each came from.
struct LayerContext {
  const Model& model;
  const Layer& layer;
  size_t index = 0;
  std::vector<Shape> inputs;         // one per input blob
  std::vector<std::string> sources;  // "model input 'x'" or "layer 2 'conv' (convolution)"

  // "layer 3 'dense' (innerProduct)"
  std::string where() const;
  // "input 'flat' from layer 2 'flatten' (flatten) has shape [1152, 1, 1]"
  std::string input_text(size_t input) const;
  // Throws Error("<where>: <what>").
  [[noreturn]] void fail(const std::string& what) const;
};

// How a parameter tensor starts: a uniform draw scaled by fan-in/out (Glorot or He, as the builder
// is told), or a constant (biases 0, a batch norm's scale 1).
struct ParameterSpec {
  std::string name;
  std::vector<int64_t> shape;
  ParameterRole role = ParameterRole::kTrainable;
  bool random = false;  // weights: uniform in ±limit(fan_in, fan_out)
  int64_t fan_in = 0, fan_out = 0;
  float value = 0.0f;  // constants
};

// What compile() gets: the layer, its shapes and how the plan uses it.
struct CompileContext {
  const Model& model;
  const Layer& layer;
  std::vector<Shape> inputs, outputs;
  // Its trainable parameters get gradients (the layer is updatable and the network trains).
  bool trains_parameters = false;
  ops::Products products = ops::Products::kFloat32;  // NetworkOptions::products
};

class LayerReader;  // coreml/layer_io.h

class LayerKind {
 public:
  virtual ~LayerKind() = default;
  // Core ML's name of the layer type ("convolution") and its NeuralNetworkLayer field number.
  virtual const char* name() const = 0;
  virtual int coreml_field() const = 0;
  // Input and output counts it takes; max_inputs -1: any; outputs -1: as many as its parameters
  // say (its infer checks the layer's count).
  virtual int min_inputs() const { return 1; }
  virtual int max_inputs() const { return 1; }
  virtual int outputs() const { return 1; }

  // Fills what the builder may leave 0 because the input shapes decide it.
  virtual void complete(Layer& layer, const std::vector<Shape>& inputs, const Model& model) const {}
  // Output shapes; every error through context.fail, naming both shapes.
  virtual std::vector<Shape> infer(const LayerContext& context) const = 0;
  // Parameter tensors, in the order they are laid out (Core ML's shapes).
  virtual std::vector<ParameterSpec> parameters(const Layer& layer) const { return {}; }

  // Core ML's rules: only convolution and inner product layers can be updatable; back-propagation
  // runs through convolution, inner product, flatten, pooling, batchnorm and the ReLU, sigmoid and
  // tanh activations (Apple's NeuralNetworkValidatorGraph).
  virtual bool coreml_updatable() const { return false; }
  virtual bool coreml_backprop(const Layer& layer) const { return false; }
  // edgetrain can propagate gradients through it to its inputs. False for a kind whose inputs are
  // not values to differentiate (an embedding's indices): it may still train its own parameters,
  // and sit where nothing before it needs a gradient (the start of a graph).
  virtual bool differentiable(const Layer& layer) const { return true; }

  virtual std::unique_ptr<Op> compile(const CompileContext& context) const = 0;

  // Core ML: fills layer.params from the message and registers the stored tensors with the reader
  // (their sizes checked before anything is allocated); writes them back.
  virtual void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const = 0;
  virtual void write(const Model& model, const Layer& layer,
                     spec::NeuralNetworkLayer& message) const = 0;

  // One line for `inspect`: "32 filters 3x3, stride 1, valid".
  virtual std::string describe(const Layer& layer) const = 0;
  // What of Core ML's options it supports, for README's table of layers ("valid and same padding,
  // ..."); empty when it has none to tell.
  virtual std::string notes() const { return ""; }
};

// The kind of a layer, of a variant alternative, and of a Core ML field number (null if none).
const LayerKind& layer_kind(const Layer& layer);
const LayerKind& layer_kind(const LayerParams& params);
const LayerKind* layer_kind_for_field(int field);
// A default-constructed LayerParams holding the kind of `field` (the reader fills it).
LayerParams params_for_field(int field);
// Every kind, in LayerParams order.
std::vector<const LayerKind*> all_layer_kinds();

// Defined once per kind, in the kind's file.
template <typename Params>
const LayerKind& kind_for();

}  // namespace edgetrain
