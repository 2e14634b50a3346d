// Reshape (Core ML's classic `reshape`): a blob's (C, H, W) blocks, its leading dimensions being
// the sequence (Core ML's [Seq, 1, C, H, W]; a per-sample (C, H, W) has Seq 1), take a new shape. A
// target [C', H', W'] reshapes each block and keeps the sequence; [Seq', C', H', W'] reshapes the
// whole sample: (C', H', W') when Seq' is 1 and the input had no sequence axis, [Seq', C', H', W']
// otherwise (a rank-5 [Seq, 1, C, H, W] gives [Seq', 1, C', H', W']).
//
// CHANNEL_FIRST keeps the bytes: the planner gives the output its input's buffer and runs nothing.
// CHANNEL_LAST, as Apple's ReshapeLayerParams says, flattens each block in (H, W, C) order,
// reshapes the values to [Seq', H', W', C'] and permutes every block back to (C', H', W').
// Keeps nothing for backward.
#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "nn/layers/move_ops.h"
#include "nn/shapes.h"
#include "ops/layout.h"

namespace edgetrain {
namespace {

ops::Blocks blocks_of(const Shape& s) {
  const Chw v = classic_view(s);
  return {v.outer, v.c, v.h, v.w};
}

// CHANNEL_LAST: the blocks pass through (H, W, C) order on both sides.
class ChannelLastReshapeOp : public Op {
 public:
  ChannelLastReshapeOp(ops::Blocks in, ops::Blocks out) : in_(in), out_(out) {}
  void forward(const OpArgs& a) const override {
    ops::reshape_channel_last_forward(a.out[0], a.in[0], a.scratch, a.n, in_, out_);
  }
  void backward(const OpArgs& a) const override {
    if (a.din[0]) {
      ops::reshape_channel_last_backward(a.din[0], a.dout[0], a.scratch, a.n, in_, out_);
    }
  }
  size_t scratch_floats() const override { return size_t(in_.seq * in_.count()); }  // one sample
  bool backward_reads_output() const override { return false; }

 private:
  ops::Blocks in_, out_;
};

class ReshapeKind : public LayerKind {
 public:
  const char* name() const override { return "reshape"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kReshape; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& reshape = std::get<Reshape>(context.layer.params);
    const std::vector<int64_t>& target = reshape.target_shape;
    if (target.size() != 3 && target.size() != 4) {
      context.fail("targetShape has " + std::to_string(target.size()) +
                   " values; Core ML's reshape takes [C, H, W] or [Seq, C, H, W]");
    }
    int64_t target_count = 1;
    for (int64_t d : target) {
      if (d <= 0 || d > (int64_t(1) << 28)) {
        context.fail("targetShape " + shape_string(target) + " has size " + std::to_string(d) +
                     "; every size must be positive");
      }
      target_count *= d;
      if (target_count > (int64_t(1) << 28)) {
        context.fail("targetShape " + shape_string(target) + " holds more than 2^28 values");
      }
    }
    const Shape& in = context.inputs[0];
    const Chw v = classic_view(context);
    const size_t k = target.size() - 3;  // where (C', H', W') start in the target
    const int c = int(target[k]), h = int(target[k + 1]), w = int(target[k + 2]);
    if (target.size() == 3) {
      if (target_count != v.count()) {
        context.fail(context.input_text(0) + ": each (C, H, W) block holds " +
                     std::to_string(v.count()) + " values but targetShape " + shape_string(target) +
                     " holds " + std::to_string(target_count));
      }
      return {classic_shape(in, c, h, w)};
    }
    if (target_count != v.outer * v.count()) {
      context.fail(context.input_text(0) + ", " + std::to_string(v.outer * v.count()) +
                   " values, but targetShape " + shape_string(target) + " holds " +
                   std::to_string(target_count));
    }
    const int seq = int(target[0]);
    if (in.rank() == 5) {
      if (in[1] != 1) {
        context.fail(context.input_text(0) +
                     ": a [Seq, C, H, W] target needs the batch axis "
                     "(axis 1 of [Seq, Batch, C, H, W]) to be 1");
      }
      return {Shape{seq, 1, c, h, w}};
    }
    if (in.rank() <= 3 && seq == 1) return {Shape{c, h, w}};
    return {Shape{seq, c, h, w}};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    if (std::get<Reshape>(c.layer.params).order == ReshapeOrder::kChannelFirst) {
      return std::make_unique<KeepBytesOp>(c.inputs[0].count());
    }
    return std::make_unique<ChannelLastReshapeOp>(blocks_of(c.inputs[0]), blocks_of(c.outputs[0]));
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::ReshapeLayerParams& p = message.reshape();
    Reshape reshape;
    if (p.targetshape_size() != 3 && p.targetshape_size() != 4) {
      reader.fail("targetShape has " + std::to_string(p.targetshape_size()) +
                  " values; Core ML's reshape takes [C, H, W] or [Seq, C, H, W]");
    }
    for (int64_t d : p.targetshape()) {
      reshape.target_shape.push_back(reader.checked_signed(d, 1, int64_t(1) << 28, "targetShape"));
    }
    switch (p.mode()) {
      case spec::ReshapeLayerParams::CHANNEL_FIRST:
        reshape.order = ReshapeOrder::kChannelFirst;
        break;
      case spec::ReshapeLayerParams::CHANNEL_LAST:
        reshape.order = ReshapeOrder::kChannelLast;
        break;
      default:
        reader.fail("unknown mode " + std::to_string(p.mode()));
    }
    reader.layer().params = reshape;
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& reshape = std::get<Reshape>(layer.params);
    spec::ReshapeLayerParams* p = message.mutable_reshape();
    for (int64_t d : reshape.target_shape) p->add_targetshape(d);
    p->set_mode(reshape.order == ReshapeOrder::kChannelLast
                    ? spec::ReshapeLayerParams::CHANNEL_LAST
                    : spec::ReshapeLayerParams::CHANNEL_FIRST);
  }

  std::string notes() const override {
    return "[C, H, W] per block or [Seq, C, H, W]; channel-first (shares its input's buffer) and "
           "channel-last order";
  }
  std::string describe(const Layer& layer) const override {
    const auto& reshape = std::get<Reshape>(layer.params);
    return "to " + shape_string(reshape.target_shape) +
           (reshape.order == ReshapeOrder::kChannelLast ? ", channel-last" : ", channel-first");
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Reshape>() {
  static const ReshapeKind kind;
  return kind;
}

}  // namespace edgetrain
