// Flatten (Core ML's `flatten`): (C, H, W) → (C·H·W, 1, 1), in (C, H, W) order, or channel-last in
// (H, W, C) order. Channel-first is the input's bytes unchanged, so the planner gives it its input's
// buffer and runs nothing. Keeps nothing for backward.
#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "ops/ops.h"

namespace edgetrain {
namespace {

class FlattenOp : public Op {
 public:
  FlattenOp(Chw view, bool channel_last) : view_(view), channel_last_(channel_last) {}
  void forward(const OpArgs& a) const override {
    ops::flatten_forward(a.out[0], a.in[0], rows(a), view_.c, view_.h, view_.w, channel_last_);
  }
  void backward(const OpArgs& a) const override {
    if (a.din[0]) {
      ops::flatten_backward(a.din[0], a.dout[0], rows(a), view_.c, view_.h, view_.w, channel_last_);
    }
  }
  bool backward_reads_output() const override { return false; }
  bool copies_input() const override { return !channel_last_; }

 private:
  int rows(const OpArgs& a) const { return int(a.n * view_.outer); }
  Chw view_;
  bool channel_last_;
};

class FlattenKind : public LayerKind {
 public:
  const char* name() const override { return "flatten"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kFlatten; }
  bool coreml_backprop(const Layer&) const override { return true; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const Chw in = classic_view(context);
    return {classic_shape(context.inputs[0], int(in.count()), 1, 1)};  // ≤ 2^28, checked later
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    return std::make_unique<FlattenOp>(
        classic_view(c.inputs[0]),
        std::get<Flatten>(c.layer.params).order == FlattenOrder::kChannelLast);
  }
  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    switch (message.flatten().mode()) {
      case spec::FlattenLayerParams::CHANNEL_FIRST:
        reader.layer().params = Flatten{FlattenOrder::kChannelFirst};
        break;
      case spec::FlattenLayerParams::CHANNEL_LAST:
        reader.layer().params = Flatten{FlattenOrder::kChannelLast};
        break;
      default: reader.fail("unknown mode " + std::to_string(message.flatten().mode()));
    }
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    message.mutable_flatten()->set_mode(std::get<Flatten>(layer.params).order ==
                                                FlattenOrder::kChannelLast
                                            ? spec::FlattenLayerParams::CHANNEL_LAST
                                            : spec::FlattenLayerParams::CHANNEL_FIRST);
  }
  std::string notes() const override { return "channel-first and channel-last order"; }
  std::string describe(const Layer& layer) const override {
    return std::get<Flatten>(layer.params).order == FlattenOrder::kChannelLast ? "channel-last"
                                                                               : "channel-first";
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Flatten>() {
  static const FlattenKind kind;
  return kind;
}

}  // namespace edgetrain
