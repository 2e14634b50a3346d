// Concatenation: Core ML's `concat` (along C, axis -3 of (C, H, W), leading dimensions as batch)
// and `concatND` (along any axis, optionally interleaved). Both are one copy: each input, viewed as
// (rows, block) with rows the axes before the joined one, puts its block of every row side by side
// with the others' in the output's row. Interleaving is the same copy with the joined axis counted
// among the rows (every input then has one shape). Backward copies the gradient back; it keeps and
// reads nothing.
#include <numeric>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/nd_axis.h"

namespace edgetrain {
namespace {

constexpr int64_t kMaxJoined = int64_t(1) << 28;  // a blob's limit (shapes.cpp)

class ConcatOp : public Op {
 public:
  // Input j is (n · rows_per_sample, blocks[j]); the output (n · rows_per_sample, Σ blocks).
  ConcatOp(int64_t rows_per_sample, std::vector<int64_t> blocks)
      : rows_per_sample_(rows_per_sample),
        blocks_(std::move(blocks)),
        row_(std::accumulate(blocks_.begin(), blocks_.end(), int64_t(0))) {}

  void forward(const OpArgs& a) const override {
    const int64_t rows = a.n * rows_per_sample_;
    int64_t offset = 0;
    for (size_t j = 0; j < blocks_.size(); ++j) {
      const int64_t block = blocks_[j];
      for (int64_t r = 0; r < rows; ++r) {
        std::copy_n(a.in[j] + r * block, block, a.out[0] + r * row_ + offset);
      }
      offset += block;
    }
  }
  void backward(const OpArgs& a) const override {
    const int64_t rows = a.n * rows_per_sample_;
    int64_t offset = 0;
    for (size_t j = 0; j < blocks_.size(); ++j) {
      const int64_t block = blocks_[j];
      if (float* din = a.din[j]) {
        for (int64_t r = 0; r < rows; ++r) {
          const float* dout = a.dout[0] + r * row_ + offset;
          for (int64_t k = 0; k < block; ++k) din[r * block + k] += dout[k];
        }
      }
      offset += block;
    }
  }
  bool backward_reads_output() const override { return false; }

 private:
  int64_t rows_per_sample_;
  std::vector<int64_t> blocks_;
  int64_t row_;
};

// Checks every input has input 0's rank and dimensions except along `axis` (along every axis when
// `same_shape`); returns the output shape, the inputs' sizes along `axis` added up.
Shape joined_shape(const LayerContext& context, int axis, bool same_shape,
                   const std::string& rule) {
  const Shape& first = context.inputs[0];
  int64_t joined = 0;
  for (size_t i = 0; i < context.inputs.size(); ++i) {
    const Shape& in = context.inputs[i];
    bool matches = in.rank() == first.rank();
    for (int d = 0; matches && d < in.rank(); ++d) {
      matches = in[d] == first[d] || (d == axis && !same_shape);
    }
    if (!matches) {
      context.fail(context.input_text(i) + " but " + context.input_text(0) + "; " + rule);
    }
    joined += in[axis];
  }
  if (joined > kMaxJoined) context.fail("the joined axis would be longer than 2^28");
  Shape out = first;
  out[axis] = int(joined);
  return out;
}

// The op for inputs joined along `axis` of their per-sample shapes.
std::unique_ptr<Op> concat_op(const std::vector<Shape>& inputs, int axis, bool interleave) {
  const Shape& first = inputs[0];
  int64_t rows = 1, inner = 1;
  for (int d = 0; d < axis; ++d) rows *= first[d];
  for (int d = axis + 1; d < first.rank(); ++d) inner *= first[d];
  if (interleave) rows *= first[axis];  // each input then gives `inner` values per row
  std::vector<int64_t> blocks;
  for (const Shape& in : inputs) blocks.push_back(interleave ? inner : in[axis] * inner);
  return std::make_unique<ConcatOp>(rows, std::move(blocks));
}

class ConcatKind : public LayerKind {
 public:
  const char* name() const override { return "concat"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kConcat; }
  int min_inputs() const override { return 2; }
  int max_inputs() const override { return -1; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    for (size_t i = 0; i < context.inputs.size(); ++i) {
      if (context.inputs[i].rank() < 3) {
        context.fail(context.input_text(i) +
                     ", but concat joins along C of (C, H, W) and needs rank 3 or more (concatND "
                     "joins any axis)");
      }
    }
    return {joined_shape(context, context.inputs[0].rank() - 3, false,
                         "concat joins along C (axis -3), so every other dimension must match")};
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    return concat_op(c.inputs, c.inputs[0].rank() - 3, false);
  }
  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    if (message.concat().sequenceconcat()) {
      reader.fail(
          "sequenceConcat (joining along the sequence axis, -5) is not supported; "
          "edgetrain's concat joins along C (axis -3)");
    }
    reader.layer().params = Concat{};
  }
  void write(const Model&, const Layer&, spec::NeuralNetworkLayer& message) const override {
    message.mutable_concat()->set_sequenceconcat(false);
  }
  std::string describe(const Layer& layer) const override {
    return std::to_string(layer.inputs.size()) + " inputs along channels";
  }
};

class ConcatNDKind : public LayerKind {
 public:
  const char* name() const override { return "concatND"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kConcatND; }
  int min_inputs() const override { return 2; }
  int max_inputs() const override { return -1; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& concat = std::get<ConcatND>(context.layer.params);
    const int axis = nd_axis(context, concat.axis, context.inputs[0].rank());
    if (!concat.interleave) {
      return {joined_shape(context, axis, false,
                           "concatND joins along axis " + std::to_string(concat.axis) +
                               ", so every input must have the same rank and every other "
                               "dimension must match")};
    }
    return {joined_shape(context, axis, true, "an interleaved concatND needs inputs of one shape")};
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& concat = std::get<ConcatND>(c.layer.params);
    const LayerContext context{c.model, c.layer, 0, c.inputs, {}};  // shapes already checked
    return concat_op(c.inputs, nd_axis(context, concat.axis, c.inputs[0].rank()),
                     concat.interleave);
  }
  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::ConcatNDLayerParams& p = message.concatnd();
    // Per-sample ranks go up to 5; Core ML's, with Seq and Batch under the rank-5 mapping, to 7.
    constexpr int kMaxRank = Shape::kMaxRank + 2;
    reader.layer().params =
        ConcatND{reader.checked_signed(p.axis(), -kMaxRank, kMaxRank - 1, "axis"), p.interleave()};
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& concat = std::get<ConcatND>(layer.params);
    message.mutable_concatnd()->set_axis(concat.axis);
    message.mutable_concatnd()->set_interleave(concat.interleave);
  }
  std::string describe(const Layer& layer) const override {
    const auto& concat = std::get<ConcatND>(layer.params);
    return std::to_string(layer.inputs.size()) + " inputs along axis " +
           std::to_string(concat.axis) + (concat.interleave ? ", interleaved" : "");
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Concat>() {
  static const ConcatKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<ConcatND>() {
  static const ConcatNDKind kind;
  return kind;
}

}  // namespace edgetrain
