// Normalisations of one input that keep its shape: Core ML's `softmaxND` (softmax along any axis),
// `l2normalize` (each (C, H, W) block over its L2 norm) and `lrn` (local response normalisation
// across channels). Softmax's backward reads its output; the other two recompute their statistics
// from the forward input (ops/normalize.h).
#include "ops/normalize.h"

#include <cmath>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "nn/layers/nd_axis.h"
#include "nn/shapes.h"
#include "ops/ops.h"

namespace edgetrain {
namespace {

std::string number(float value) {
  return number_text(double(value));
}

// ---- softmaxND ----------------------------------------------------------------------------------

// Softmax over the middle axis of (outer, axis, inner) per sample.
class SoftmaxNDOp : public Op {
 public:
  SoftmaxNDOp(int64_t outer, int axis, int64_t inner) : outer_(outer), axis_(axis), inner_(inner) {}
  void forward(const OpArgs& a) const override {
    ops::softmax_forward(a.out[0], a.in[0], int(a.n * outer_), axis_, int(inner_));
  }
  void backward(const OpArgs& a) const override {
    ops::softmax_backward(a.din[0], a.dout[0], a.out[0], int(a.n * outer_), axis_, int(inner_));
  }

 private:
  int64_t outer_;
  int axis_;
  int64_t inner_;
};

class SoftmaxNDKind : public LayerKind {
 public:
  const char* name() const override { return "softmaxND"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kSoftmaxND; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    nd_axis(context, std::get<SoftmaxND>(context.layer.params).axis, context.inputs[0].rank());
    return {context.inputs[0]};
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const Shape& in = c.inputs[0];
    const int64_t axis = std::get<SoftmaxND>(c.layer.params).axis;
    const int leading = nd_leading_axes(c.model);
    const int at = int((axis < 0 ? axis + in.rank() + leading : axis) - leading);
    int64_t outer = 1, inner = 1;
    for (int a = 0; a < at; ++a) outer *= in[a];
    for (int a = at + 1; a < in.rank(); ++a) inner *= in[a];
    return std::make_unique<SoftmaxNDOp>(outer, in[at], inner);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    reader.layer().params =
        SoftmaxND{reader.checked_signed(message.softmaxnd().axis(), -16, 16, "axis")};
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    message.mutable_softmaxnd()->set_axis(std::get<SoftmaxND>(layer.params).axis);
  }

  std::string notes() const override { return "along any axis"; }
  std::string describe(const Layer& layer) const override {
    return "along axis " + std::to_string(std::get<SoftmaxND>(layer.params).axis);
  }
};

// ---- l2normalize --------------------------------------------------------------------------------

class L2NormalizeOp : public Op {
 public:
  L2NormalizeOp(Chw view, float epsilon) : view_(view), epsilon_(epsilon) {}
  void forward(const OpArgs& a) const override {
    ops::l2_normalize_forward(a.out[0], a.in[0], a.n * view_.outer, view_.count(), epsilon_);
  }
  void backward(const OpArgs& a) const override {
    ops::l2_normalize_backward(a.din[0], a.dout[0], a.in[0], a.n * view_.outer, view_.count(),
                               epsilon_);
  }
  bool backward_reads_output() const override { return false; }

 private:
  Chw view_;
  float epsilon_;
};

class L2NormalizeKind : public LayerKind {
 public:
  const char* name() const override { return "l2normalize"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kL2Normalize; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    classic_view(context);
    const float epsilon = std::get<L2Normalize>(context.layer.params).epsilon;
    if (!(epsilon > 0.0f) || !std::isfinite(epsilon)) {
      context.fail("epsilon " + number(epsilon) + " must be positive");
    }
    return {context.inputs[0]};
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    return std::make_unique<L2NormalizeOp>(classic_view(c.inputs[0]),
                                           std::get<L2Normalize>(c.layer.params).epsilon);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    L2Normalize norm;
    if (message.l2normalize().epsilon() != 0.0f) norm.epsilon = message.l2normalize().epsilon();
    reader.layer().params = norm;
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    message.mutable_l2normalize()->set_epsilon(std::get<L2Normalize>(layer.params).epsilon);
  }

  std::string notes() const override {
    return "over each (C, H, W) block, leading dimensions as batch";
  }
  std::string describe(const Layer& layer) const override {
    return "over (C, H, W), epsilon " + number(std::get<L2Normalize>(layer.params).epsilon);
  }
};

// ---- lrn ----------------------------------------------------------------------------------------

class LrnOp : public Op {
 public:
  LrnOp(Chw view, const LRN& lrn)
      : view_(view),
        shape_{.channels = view.c,
               .plane = view.plane(),
               .size = lrn.local_size,
               .alpha = lrn.alpha,
               .beta = lrn.beta,
               .k = lrn.k} {}
  void forward(const OpArgs& a) const override {
    ops::lrn_forward(a.out[0], a.in[0], with_rows(a), a.scratch);
  }
  void backward(const OpArgs& a) const override {
    ops::lrn_backward(a.din[0], a.dout[0], a.in[0], with_rows(a), a.scratch);
  }
  size_t scratch_floats() const override { return ops::lrn_scratch_floats(shape_); }
  bool backward_reads_output() const override { return false; }

 private:
  ops::LrnShape with_rows(const OpArgs& a) const {
    ops::LrnShape shape = shape_;
    shape.rows = a.n * view_.outer;
    return shape;
  }
  Chw view_;
  ops::LrnShape shape_;
};

class LrnKind : public LayerKind {
 public:
  const char* name() const override { return "lrn"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kLrn; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    classic_view(context);
    const auto& lrn = std::get<LRN>(context.layer.params);
    if (lrn.local_size < 1 || lrn.local_size % 2 == 0) {
      context.fail("localSize " + std::to_string(lrn.local_size) +
                   " must be odd: a window of 2r + 1 channels centred on each (where Core ML "
                   "centres an even window is not specified)");
    }
    if (!std::isfinite(lrn.alpha) || !std::isfinite(lrn.beta)) {
      context.fail("alpha " + number(lrn.alpha) + " and beta " + number(lrn.beta) +
                   " must be finite");
    }
    if (!(lrn.k > 0.0f) || !std::isfinite(lrn.k)) {
      context.fail("k " + number(lrn.k) + " must be positive");
    }
    return {context.inputs[0]};
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    return std::make_unique<LrnOp>(classic_view(c.inputs[0]), std::get<LRN>(c.layer.params));
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::LRNLayerParams& p = message.lrn();
    LRN lrn{p.alpha(), p.beta(),
            reader.checked(p.localsize(), LayerReader::kMaxChannels, "localSize"), p.k()};
    if (lrn.k == 0.0f) lrn.k = 1.0f;
    reader.layer().params = lrn;
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& lrn = std::get<LRN>(layer.params);
    spec::LRNLayerParams* p = message.mutable_lrn();
    p->set_alpha(lrn.alpha);
    p->set_beta(lrn.beta);
    p->set_localsize(uint64_t(lrn.local_size));
    p->set_k(lrn.k);
  }

  std::string notes() const override {
    return "across channels (axis -3), odd localSize (even windows are refused: Core ML does not "
           "say where they sit)";
  }
  std::string describe(const Layer& layer) const override {
    const auto& lrn = std::get<LRN>(layer.params);
    return std::to_string(lrn.local_size) + " channels, alpha " + number(lrn.alpha) + ", beta " +
           number(lrn.beta) + ", k " + number(lrn.k);
  }
};

}  // namespace

template <>
const LayerKind& kind_for<SoftmaxND>() {
  static const SoftmaxNDKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<L2Normalize>() {
  static const L2NormalizeKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<LRN>() {
  static const LrnKind kind;
  return kind;
}

}  // namespace edgetrain
