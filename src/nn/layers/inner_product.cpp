// Inner product (Core ML's `innerProduct`): weights (out, in) as Core ML stores them, bias (out).
// Contracts the input's trailing dimensions, following Core ML's rule for each rank: under the
// default rank-5 mapping (C, H, W) → (out, 1, 1); under the exact mapping ranks 1-3 contract the
// last dimension ((x1, x2, in) → (x1, x2, out)) and ranks 4-5 the last three. The other leading
// dimensions are rows of one matrix product. Core ML can update it.
//
// Forward keeps nothing: backward reads the input and the weights.
#include "nn/layers/inner_product.h"

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "ops/ops.h"

namespace edgetrain {
namespace {

// How many trailing dimensions of a per-sample shape the layer contracts.
int contracted(const Shape& s, bool exact) {
  if (exact) return s.rank() <= 3 ? 1 : 3;
  return s.rank() == 2 ? 1 : std::min(3, s.rank());
}

struct Contraction {
  int64_t rows = 1;      // per sample
  int64_t features = 1;  // contracted values
};

Contraction contraction(const Shape& s, bool exact) {
  const int k = contracted(s, exact);
  Contraction c;
  for (int axis = 0; axis < s.rank(); ++axis) (axis < s.rank() - k ? c.rows : c.features) *= s[axis];
  return c;
}

class InnerProductOp : public Op {
 public:
  InnerProductOp(Contraction in, int out, size_t weight, std::optional<size_t> bias, bool trains,
                 ops::Products products)
      : in_(in), out_(out), weight_(weight), bias_(bias), trains_(trains), products_(products) {}
  void forward(const OpArgs& a) const override {
    ops::inner_product_forward(a.out[0], a.in[0], a.parameters + weight_,
                               bias_ ? a.parameters + *bias_ : nullptr, rows(a),
                               int(in_.features), out_, products_, {a.part, a.parts});
  }
  bool splits_sample() const override {
    return in_.rows * in_.features * out_ >= kSplitMinMultiplyAdds;
  }
  void backward(const OpArgs& a) const override {
    float* dweight = trains_ && a.dparameters ? a.dparameters + weight_ : nullptr;
    float* dbias = trains_ && a.dparameters && bias_ ? a.dparameters + *bias_ : nullptr;
    const bool shared = dweight != nullptr && sums_across_threads(a);
    if (shared) {
      sum_weight_gradient_across_threads(a);
      dweight = nullptr;
    }
    ops::inner_product_backward(a.din[0], dweight, dbias, a.dout[0], a.in[0],
                                a.parameters + weight_, rows(a), int(in_.features), out_, products_,
                                a.dparameters_zero);
    // Last, so that a thread done early waits having done its own work: the others may still be
    // reading its inputs and output gradient.
    if (shared) a.sync->done_reading();
  }
  bool backward_reads_output() const override { return false; }
  ParameterSlice gradient_summed_across_threads() const override {
    return large() && trains_ ? ParameterSlice{weight_, weight_size()} : ParameterSlice{};
  }

 private:
  int rows(const OpArgs& a) const { return int(a.n * in_.rows); }
  size_t weight_size() const { return size_t(in_.features) * size_t(out_); }
  // Why a large layer's threads share one weight gradient: each thread's product over its own
  // samples would write a whole (O, I) part (LeNet's hidden1: 2.3 MB per thread, more than a core's
  // L2) for the optimizer to read, add and zero; split by rows, each thread writes half a matrix,
  // over twice the samples, once. Below ~256 KB of weights the meeting costs more than it saves.
  bool large() const { return weight_size() >= (size_t(1) << 16); }
  bool sums_across_threads(const OpArgs& a) const {
    return large() && a.mode == Mode::kTraining && a.sync != nullptr && a.sync->threads() > 1;
  }
  // This thread's rows of the weight gradient over every thread's samples, into thread 0's block.
  void sum_weight_gradient_across_threads(const OpArgs& a) const {
    const BatchPart* shared = a.sync->share(a.thread, {a.in[0], a.dout[0], a.dparameters, rows(a)});
    if (shared == nullptr) return;  // a thread stopped with an error: the run is ending
    const int threads = a.sync->threads();
    thread_local std::vector<ops::DenseBatchPart> parts;  // allocates on a thread's first call only
    parts.resize(size_t(threads));
    for (int t = 0; t < threads; ++t)
      parts[size_t(t)] = {shared[t].dout, shared[t].in, shared[t].n};
    ops::inner_product_weight_gradient(shared[0].dparameters + weight_, parts.data(), threads,
                                       int(in_.features), out_, products_, a.dparameters_zero,
                                       {a.thread, threads});
  }
  Contraction in_;
  int out_;
  size_t weight_;
  std::optional<size_t> bias_;
  bool trains_;
  ops::Products products_;
};

class InnerProductKind : public LayerKind {
 public:
  const char* name() const override { return "innerProduct"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kInnerProduct; }
  bool coreml_updatable() const override { return true; }
  bool coreml_backprop(const Layer&) const override { return true; }

  void complete(Layer& layer, const std::vector<Shape>& inputs, const Model& model) const override {
    auto& dense = std::get<InnerProduct>(layer.params);
    if (dense.input_channels == 0 && inputs.size() == 1) {
      const int64_t features = contraction(inputs[0], model.exact_array_mapping).features;
      if (features <= (int64_t(1) << 28)) dense.input_channels = int(features);
    }
  }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& dense = std::get<InnerProduct>(context.layer.params);
    if (dense.output_channels <= 0) context.fail("outputChannels must be positive");
    const Shape& in = context.inputs[0];
    const bool exact = context.model.exact_array_mapping;
    const Contraction c = contraction(in, exact);
    if (c.features != dense.input_channels) {
      const std::string n = std::to_string(dense.input_channels);
      const bool spatial = contracted(in, exact) == 3 && in.rank() >= 3 &&
                           (in[in.rank() - 1] != 1 || in[in.rank() - 2] != 1);
      context.fail(context.input_text(0) + " but inputChannels " + n + " expects " +
                   (contracted(in, exact) == 1 ? "a last dimension of " + n
                                               : "[" + n + ", 1, 1]") +
                   (spatial ? " (add a flatten layer before it)" : ""));
    }
    const int k = contracted(in, exact);
    std::vector<int64_t> dims;
    for (int axis = 0; axis < in.rank() - k; ++axis) dims.push_back(in[axis]);
    dims.push_back(dense.output_channels);
    if (k == 3) dims.insert(dims.end(), {1, 1});
    return {Shape(dims)};
  }

  std::vector<ParameterSpec> parameters(const Layer& layer) const override {
    const auto& dense = std::get<InnerProduct>(layer.params);
    std::vector<ParameterSpec> specs{{.name = "weights",
                                      .shape = {dense.output_channels, dense.input_channels},
                                      .random = true,
                                      .fan_in = dense.input_channels,
                                      .fan_out = dense.output_channels}};
    if (dense.has_bias) specs.push_back({.name = "bias", .shape = {dense.output_channels}});
    return specs;
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& dense = std::get<InnerProduct>(c.layer.params);
    const LayerParameter* bias = c.layer.parameter("bias");
    return std::make_unique<InnerProductOp>(
        contraction(c.inputs[0], c.model.exact_array_mapping), dense.output_channels,
        c.layer.parameter("weights")->slice.offset,
        bias ? std::optional<size_t>(bias->slice.offset) : std::nullopt, c.trains_parameters,
        c.products);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::InnerProductLayerParams& d = message.innerproduct();
    if (d.int8dynamicquantize()) reader.fail("int8DynamicQuantize is not supported");
    InnerProduct dense;
    dense.input_channels = reader.checked(d.inputchannels(), LayerReader::kMaxChannels,
                                          "inputChannels");
    dense.output_channels = reader.checked(d.outputchannels(), LayerReader::kMaxChannels,
                                           "outputChannels");
    dense.has_bias = d.hasbias();
    if (dense.input_channels == 0) reader.fail("inputChannels must be positive");
    if (dense.output_channels == 0) reader.fail("outputChannels must be positive");
    reader.layer().params = dense;
    reader.tensor("weights", d.weights(),
                  uint64_t(dense.output_channels) * uint64_t(dense.input_channels),
                  uint64_t(dense.output_channels));
    if (dense.has_bias) {
      reader.tensor("bias", d.bias(), uint64_t(dense.output_channels),
                    uint64_t(dense.output_channels));
    } else {
      reader.no_tensor(d.bias(), "bias (hasBias is false)");
    }
  }

  void write(const Model& model, const Layer& layer,
             spec::NeuralNetworkLayer& message) const override {
    const auto& dense = std::get<InnerProduct>(layer.params);
    spec::InnerProductLayerParams* d = message.mutable_innerproduct();
    d->set_inputchannels(uint64_t(dense.input_channels));
    d->set_outputchannels(uint64_t(dense.output_channels));
    d->set_hasbias(dense.has_bias);
    write_tensor(model, layer, "weights", d->mutable_weights());
    write_tensor(model, layer, "bias", d->mutable_bias());
  }

  std::string notes() const override {
    return "over every rank Core ML defines (leading dimensions are rows); not "
           "int8DynamicQuantize";
  }
  std::string describe(const Layer& layer) const override {
    const auto& dense = std::get<InnerProduct>(layer.params);
    return std::to_string(dense.input_channels) + " -> " + std::to_string(dense.output_channels) +
           (dense.has_bias ? "" : ", no bias");
  }
};

}  // namespace

std::unique_ptr<Op> make_inner_product_op(int64_t rows_per_sample, int in_features,
                                          int out_features, size_t weights,
                                          std::optional<size_t> bias, bool trains,
                                          ops::Products products) {
  return std::make_unique<InnerProductOp>(Contraction{rows_per_sample, in_features}, out_features,
                                          weights, bias, trains, products);
}

template <>
const LayerKind& kind_for<InnerProduct>() {
  static const InnerProductKind kind;
  return kind;
}

}  // namespace edgetrain
