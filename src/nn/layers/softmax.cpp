// Softmax (Core ML's `softmax`) over the channel axis of (C, H, W). Backward reads its output; with
// a cross-entropy loss on it the trainer skips it and seeds its input directly.
#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "ops/ops.h"

namespace edgetrain {
namespace {

class SoftmaxOp : public Op {
 public:
  explicit SoftmaxOp(Chw view) : view_(view) {}
  void forward(const OpArgs& a) const override {
    ops::softmax_forward(a.out[0], a.in[0], rows(a), view_.c, int(view_.plane()));
  }
  void backward(const OpArgs& a) const override {
    if (a.din[0]) {
      ops::softmax_backward(a.din[0], a.dout[0], a.out[0], rows(a), view_.c, int(view_.plane()));
    }
  }

 private:
  int rows(const OpArgs& a) const { return int(a.n * view_.outer); }
  Chw view_;
};

class SoftmaxKind : public LayerKind {
 public:
  const char* name() const override { return "softmax"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kSoftmax; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    classic_view(context);
    return {context.inputs[0]};
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    return std::make_unique<SoftmaxOp>(classic_view(c.inputs[0]));
  }
  void read(const spec::NeuralNetworkLayer&, LayerReader& reader) const override {
    reader.layer().params = Softmax{};
  }
  void write(const Model&, const Layer&, spec::NeuralNetworkLayer& message) const override {
    message.mutable_softmax();
  }
  std::string describe(const Layer&) const override { return "over channels"; }
  std::string notes() const override {
    return "over the channel axis (-3); Core ML back-propagates through it only into a "
           "cross-entropy loss";
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Softmax>() {
  static const SoftmaxKind kind;
  return kind;
}

}  // namespace edgetrain
