// Layers without inputs: Core ML's `loadConstant` (a (C, H, W) tensor, Core ML's [1, 1, C, H, W])
// and `loadConstantND` (any shape of rank 1 to 5). Each holds its values as the parameter tensor
// "data" (ParameterRole::kConstant: training never changes it) and writes them into every sample of
// its output. Nothing flows backward through a constant.
#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/nd_axis.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

constexpr uint64_t kMaxValues = uint64_t(1) << 28;  // a blob's limit (shapes.cpp)

class LoadConstantOp : public Op {
 public:
  LoadConstantOp(size_t data, size_t count) : data_(data), count_(count) {}
  void forward(const OpArgs& a) const override {
    for (int s = 0; s < a.n; ++s) {
      std::copy_n(a.parameters + data_, count_, a.out[0] + size_t(s) * count_);
    }
  }
  bool backward_reads_output() const override { return false; }

 private:
  size_t data_, count_;
};

// The product of a file's shape values, each 1 to 2^28 and the product too; throws through the
// reader otherwise.
uint64_t checked_count(const google::protobuf::RepeatedField<uint64_t>& shape,
                       LayerReader& reader) {
  uint64_t count = 1;
  for (uint64_t d : shape) {
    if (d == 0 || d > kMaxValues || count * d > kMaxValues) {
      reader.fail("shape " + shape_string({shape.begin(), shape.end()}) +
                  " must have positive sizes and at most 2^28 values");
    }
    count *= d;
  }
  return count;
}

// Writes the shape and the values of either kind's message.
template <typename Message, typename Dims>
void write_constant(const Model& model, const Layer& layer, const Dims& shape, Message* message) {
  for (auto d : shape) message->add_shape(uint64_t(d));
  write_tensor(model, layer, "data", message->mutable_data());
}

// The common part of both kinds: no input, the data tensor, its op.
class ConstantKind : public LayerKind {
 public:
  int min_inputs() const override { return 0; }
  int max_inputs() const override { return 0; }
  bool differentiable(const Layer&) const override { return false; }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const LayerParameter* data = c.layer.parameter("data");
    return std::make_unique<LoadConstantOp>(data->slice.offset, data->slice.size);
  }
};

// ---- loadConstant -------------------------------------------------------------------------------

class LoadConstantKind : public ConstantKind {
 public:
  const char* name() const override { return "loadConstant"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kLoadConstant; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& shape = std::get<LoadConstant>(context.layer.params).shape;
    int64_t count = 1;
    for (int d : shape) {
      if (d < 1 || count * d > int64_t(kMaxValues)) {
        context.fail("shape " + shape_string({shape[0], shape[1], shape[2]}) +
                     " must have positive sizes and at most 2^28 values");
      }
      count *= d;
    }
    // Core ML's output is [1, 1, C, H, W]: per sample (C, H, W) under the rank-5 mapping.
    if (context.model.exact_array_mapping) return {Shape{1, 1, shape[0], shape[1], shape[2]}};
    return {Shape{shape[0], shape[1], shape[2]}};
  }
  std::vector<ParameterSpec> parameters(const Layer& layer) const override {
    const auto& shape = std::get<LoadConstant>(layer.params).shape;
    return {{.name = "data",
             .shape = {shape[0], shape[1], shape[2]},
             .role = ParameterRole::kConstant}};
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::LoadConstantLayerParams& p = message.loadconstant();
    if (p.shape_size() != 3) {
      reader.fail("shape has " + std::to_string(p.shape_size()) + " values; it is [C, H, W]");
    }
    const uint64_t count = checked_count(p.shape(), reader);
    reader.layer().params = LoadConstant{{int(p.shape(0)), int(p.shape(1)), int(p.shape(2))}};
    reader.tensor("data", p.data(), count, p.shape(0));  // per-channel quantisation over C
  }
  void write(const Model& model, const Layer& layer,
             spec::NeuralNetworkLayer& message) const override {
    write_constant(model, layer, std::get<LoadConstant>(layer.params).shape,
                   message.mutable_loadconstant());
  }

  std::string notes() const override {
    return "(C, H, W) values, Core ML's [1, 1, C, H, W]; fixed in training";
  }
  std::string describe(const Layer& layer) const override {
    const auto& shape = std::get<LoadConstant>(layer.params).shape;
    return "constant " + shape_string({shape[0], shape[1], shape[2]});
  }
};

// ---- loadConstantND -----------------------------------------------------------------------------

class LoadConstantNDKind : public ConstantKind {
 public:
  const char* name() const override { return "loadConstantND"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kLoadConstantND; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& shape = std::get<LoadConstantND>(context.layer.params).shape;
    const int leading = nd_leading_axes(context.model);
    const std::string text = "shape " + shape_string(shape);
    // Apple's validator: rank 1 to 5, which under the rank-5 mapping holds Seq and Batch too.
    if (shape.size() <= size_t(leading) || shape.size() > size_t(Shape::kMaxRank)) {
      context.fail(text + (leading ? " must be [1, 1] (Seq, Batch under the rank-5 mapping) and "
                                     "the per-sample shape, rank 3 to 5 in all"
                                   : " must have rank 1 to 5"));
    }
    int64_t count = 1;
    for (size_t a = 0; a < shape.size(); ++a) {
      if (a < size_t(leading) && shape[a] != 1) {
        context.fail(
            text + " sets Core ML's " + (a == 0 ? "sequence" : "batch") + " axis to " +
            std::to_string(shape[a]) +
            "; under the rank-5 array mapping a sample is [Seq, Batch, ...] = [1, 1, ...]");
      }
      if (shape[a] < 1 || shape[a] > int64_t(kMaxValues) ||
          count * shape[a] > int64_t(kMaxValues)) {
        context.fail(text + " must have positive sizes and at most 2^28 values");
      }
      count *= shape[a];
    }
    return {Shape(std::vector<int64_t>(shape.begin() + leading, shape.end()))};
  }
  std::vector<ParameterSpec> parameters(const Layer& layer) const override {
    return {{.name = "data",
             .shape = std::get<LoadConstantND>(layer.params).shape,
             .role = ParameterRole::kConstant}};
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::LoadConstantNDLayerParams& p = message.loadconstantnd();
    // Apple's validator: rank 1 to 5. The rank-5 mapping's leading [1, 1] is checked with shapes.
    if (p.shape_size() < 1 || p.shape_size() > Shape::kMaxRank) {
      reader.fail("shape has " + std::to_string(p.shape_size()) + " values (1 to 5)");
    }
    const uint64_t count = checked_count(p.shape(), reader);
    reader.layer().params = LoadConstantND{{p.shape().begin(), p.shape().end()}};
    reader.tensor("data", p.data(), count, 1);
  }
  void write(const Model& model, const Layer& layer,
             spec::NeuralNetworkLayer& message) const override {
    write_constant(model, layer, std::get<LoadConstantND>(layer.params).shape,
                   message.mutable_loadconstantnd());
  }

  std::string notes() const override {
    return "rank 1 to 5 (under the rank-5 mapping [1, 1, ...]: Seq and Batch first); fixed in "
           "training";
  }
  std::string describe(const Layer& layer) const override {
    return "constant " + shape_string(std::get<LoadConstantND>(layer.params).shape);
  }
};

}  // namespace

template <>
const LayerKind& kind_for<LoadConstant>() {
  static const LoadConstantKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<LoadConstantND>() {
  static const LoadConstantNDKind kind;
  return kind;
}

}  // namespace edgetrain
