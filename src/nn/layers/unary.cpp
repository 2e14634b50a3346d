// Element-wise functions of one input: Core ML's `unary` (sqrt, rsqrt, inverse, power, exp, log,
// abs, threshold, on scale · x + shift) and `clip`. Any rank; the output has the input's shape.
// Both keep nothing for backward, which reads the forward input (ops/unary.h).
#include "ops/unary.h"

#include <cmath>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

std::string number(float value) {
  return number_text(double(value));
}

void check_finite(const LayerContext& context, float value, const char* field) {
  if (!std::isfinite(value))
    context.fail(std::string(field) + " " + number(value) + " is not finite");
}

// ---- unary --------------------------------------------------------------------------------------

class UnaryOp : public Op {
 public:
  UnaryOp(size_t size, UnaryFunction function) : size_(size), function_(function) {}
  void forward(const OpArgs& a) const override {
    ops::unary_forward(a.out[0], a.in[0], size_t(a.n) * size_, function_);
  }
  void backward(const OpArgs& a) const override {
    ops::unary_backward(a.din[0], a.dout[0], a.in[0], size_t(a.n) * size_, function_);
  }
  bool backward_reads_output() const override { return false; }

 private:
  size_t size_;
  UnaryFunction function_;
};

// Apple's names of the operations, in UnaryOperation order.
constexpr const char* kOperationNames[] = {"sqrt", "rsqrt", "inverse", "power",
                                           "exp",  "log",   "abs",     "threshold"};
static_assert(std::size(kOperationNames) == size_t(UnaryOperation::kThreshold) + 1);

class UnaryKind : public LayerKind {
 public:
  const char* name() const override { return "unary"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kUnary; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& f = std::get<UnaryFunction>(context.layer.params);
    check_finite(context, f.alpha, "alpha");
    check_finite(context, f.shift, "shift");
    check_finite(context, f.scale, "scale");
    if (!(f.epsilon > 0.0f) || !std::isfinite(f.epsilon)) {
      context.fail("epsilon " + number(f.epsilon) + " must be positive");
    }
    return {context.inputs[0]};
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    return std::make_unique<UnaryOp>(size_t(c.inputs[0].count()),
                                     std::get<UnaryFunction>(c.layer.params));
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::UnaryFunctionLayerParams& p = message.unary();
    if (p.type() < spec::UnaryFunctionLayerParams::SQRT ||
        p.type() > spec::UnaryFunctionLayerParams::THRESHOLD) {
      reader.fail("type " + std::to_string(p.type()) + " is not a unary function of Core ML's");
    }
    UnaryFunction f;
    f.operation = UnaryOperation(p.type());
    f.alpha = p.alpha();
    if (p.epsilon() != 0.0f) f.epsilon = p.epsilon();
    f.shift = p.shift();
    if (p.scale() != 0.0f) f.scale = p.scale();
    reader.layer().params = f;
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& f = std::get<UnaryFunction>(layer.params);
    spec::UnaryFunctionLayerParams* p = message.mutable_unary();
    p->set_type(spec::UnaryFunctionLayerParams::Operation(f.operation));
    p->set_alpha(f.alpha);
    p->set_epsilon(f.epsilon);
    p->set_shift(f.shift);
    p->set_scale(f.scale);
  }

  std::string notes() const override {
    return "sqrt, rsqrt, inverse, power, exp, log, abs, threshold, with scale, shift and epsilon";
  }
  std::string describe(const Layer& layer) const override {
    const auto& f = std::get<UnaryFunction>(layer.params);
    std::string text = kOperationNames[int(f.operation)];
    if (f.operation == UnaryOperation::kPower || f.operation == UnaryOperation::kThreshold) {
      text.append(" ").append(number(f.alpha));  // piecewise: GCC 12 -Wrestrict false positive
    }
    if (f.scale != 1.0f || f.shift != 0.0f) {
      text += " of " + number(f.scale) + " * x + " + number(f.shift);
    }
    return text;
  }
};

// ---- clip ---------------------------------------------------------------------------------------

class ClipOp : public Op {
 public:
  ClipOp(size_t size, Clip clip) : size_(size), clip_(clip) {}
  void forward(const OpArgs& a) const override {
    ops::clip_forward(a.out[0], a.in[0], size_t(a.n) * size_, clip_.min_value, clip_.max_value);
  }
  void backward(const OpArgs& a) const override {
    ops::clip_backward(a.din[0], a.dout[0], a.in[0], size_t(a.n) * size_, clip_.min_value,
                       clip_.max_value);
  }
  bool backward_reads_output() const override { return false; }

 private:
  size_t size_;
  Clip clip_;
};

class ClipKind : public LayerKind {
 public:
  const char* name() const override { return "clip"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kClip; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& clip = std::get<Clip>(context.layer.params);
    // Apple's validator: minVal may not exceed maxVal. Infinite bounds are no bounds.
    if (std::isnan(clip.min_value) || std::isnan(clip.max_value) ||
        clip.min_value > clip.max_value) {
      context.fail("minVal " + number(clip.min_value) + " must not exceed maxVal " +
                   number(clip.max_value));
    }
    return {context.inputs[0]};
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    return std::make_unique<ClipOp>(size_t(c.inputs[0].count()), std::get<Clip>(c.layer.params));
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    reader.layer().params = Clip{message.clip().minval(), message.clip().maxval()};
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& clip = std::get<Clip>(layer.params);
    message.mutable_clip()->set_minval(clip.min_value);
    message.mutable_clip()->set_maxval(clip.max_value);
  }

  std::string notes() const override { return "minVal <= maxVal"; }
  std::string describe(const Layer& layer) const override {
    const auto& clip = std::get<Clip>(layer.params);
    return "to [" + number(clip.min_value) + ", " + number(clip.max_value) + "]";
  }
};

}  // namespace

template <>
const LayerKind& kind_for<UnaryFunction>() {
  static const UnaryKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<Clip>() {
  static const ClipKind kind;
  return kind;
}

}  // namespace edgetrain
