// Activation (Core ML's `activation`): every nonlinearity of ActivationParams. Element-wise over any
// rank, except PReLU and parametric softplus, whose alpha (and beta) are per channel of (C, H, W).
// ReLU can run in place (its backward reads only its output); sigmoid and tanh read their output,
// the others their input. Core ML back-propagates through ReLU, sigmoid and tanh only.
#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "ops/nonlinear.h"
#include "ops/ops.h"

namespace edgetrain {
namespace {

size_t count(const OpArgs& a, size_t per_sample) { return size_t(a.n) * per_sample; }

class ReluOp : public Op {
 public:
  explicit ReluOp(size_t size) : size_(size) {}
  void forward(const OpArgs& a) const override {
    ops::relu_forward(a.out[0], a.in[0], count(a, size_));
  }
  void backward(const OpArgs& a) const override {
    ops::relu_backward(a.din[0], a.dout[0], a.out[0], count(a, size_));
  }
  bool runs_in_place() const override { return true; }
  void backward_in_place(const OpArgs& a) const override {
    ops::relu_backward_in_place(a.dout[0], a.out[0], count(a, size_));
  }

 private:
  size_t size_;
};

// Sigmoid and tanh: backward from the output.
class SmoothOp : public Op {
 public:
  SmoothOp(size_t size, bool sigmoid) : size_(size), sigmoid_(sigmoid) {}
  void forward(const OpArgs& a) const override {
    (sigmoid_ ? ops::sigmoid_forward : ops::tanh_forward)(a.out[0], a.in[0], count(a, size_));
  }
  void backward(const OpArgs& a) const override {
    if (!a.din[0]) return;
    (sigmoid_ ? ops::sigmoid_backward : ops::tanh_backward)(a.din[0], a.dout[0], a.out[0],
                                                            count(a, size_));
  }

 private:
  size_t size_;
  bool sigmoid_;
};

class LinearOp : public Op {
 public:
  LinearOp(size_t size, float alpha, float beta) : size_(size), alpha_(alpha), beta_(beta) {}
  void forward(const OpArgs& a) const override {
    ops::linear_forward(a.out[0], a.in[0], count(a, size_), alpha_, beta_);
  }
  void backward(const OpArgs& a) const override {
    if (a.din[0]) ops::linear_backward(a.din[0], a.dout[0], count(a, size_), alpha_);
  }
  bool backward_reads_output() const override { return false; }

 private:
  size_t size_;
  float alpha_, beta_;
};

class NonlinearOp : public Op {
 public:
  NonlinearOp(size_t size, Activation activation) : size_(size), activation_(activation) {}
  void forward(const OpArgs& a) const override {
    ops::nonlinear_forward(a.out[0], a.in[0], count(a, size_), activation_.type, activation_.alpha,
                           activation_.beta);
  }
  void backward(const OpArgs& a) const override {
    ops::nonlinear_backward(a.din[0], a.dout[0], a.in[0], count(a, size_), activation_.type,
                            activation_.alpha, activation_.beta);
  }
  bool backward_reads_output() const override { return false; }

 private:
  size_t size_;
  Activation activation_;
};

// PReLU and parametric softplus: alpha (and beta) per channel.
class ChannelOp : public Op {
 public:
  ChannelOp(Chw view, ActivationType type, size_t alpha, std::optional<size_t> beta, bool trains)
      : view_(view), type_(type), alpha_(alpha), beta_(beta), trains_(trains) {}
  void forward(const OpArgs& a) const override {
    ops::channel_nonlinear_forward(a.out[0], a.in[0], rows(a), view_.c, int(view_.plane()), type_,
                                   a.parameters + alpha_, beta_ ? a.parameters + *beta_ : nullptr);
  }
  void backward(const OpArgs& a) const override {
    float* dalpha = trains_ && a.dparameters ? a.dparameters + alpha_ : nullptr;
    float* dbeta = trains_ && a.dparameters && beta_ ? a.dparameters + *beta_ : nullptr;
    ops::channel_nonlinear_backward(a.din[0], dalpha, dbeta, a.dout[0], a.in[0], rows(a), view_.c,
                                    int(view_.plane()), type_, a.parameters + alpha_,
                                    beta_ ? a.parameters + *beta_ : nullptr);
  }
  bool backward_reads_output() const override { return false; }

 private:
  int rows(const OpArgs& a) const { return int(a.n * view_.outer); }
  Chw view_;
  ActivationType type_;
  size_t alpha_;
  std::optional<size_t> beta_;
  bool trains_;
};

bool per_channel(ActivationType type) {
  return type == ActivationType::kPReLU || type == ActivationType::kParametricSoftplus;
}

// Core ML's field name of each nonlinearity, in ActivationType order.
constexpr const char* kTypeNames[] = {
    "linear", "ReLU", "leakyReLU", "thresholdedReLU", "PReLU",    "tanh",              "scaledTanh",
    "sigmoid", "sigmoidHard", "ELU", "softsign",       "softplus", "parametricSoftplus"};
static_assert(std::size(kTypeNames) == size_t(ActivationType::kParametricSoftplus) + 1,
              "one name per ActivationType");

class ActivationKind : public LayerKind {
 public:
  const char* name() const override { return "activation"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kActivation; }
  bool coreml_backprop(const Layer& layer) const override {
    const ActivationType type = std::get<Activation>(layer.params).type;
    return type == ActivationType::kReLU || type == ActivationType::kSigmoid ||
           type == ActivationType::kTanh;
  }

  void complete(Layer& layer, const std::vector<Shape>& inputs, const Model&) const override {
    auto& activation = std::get<Activation>(layer.params);
    if (per_channel(activation.type) && activation.channels == 0 && inputs.size() == 1 &&
        inputs[0].rank() != 2) {
      activation.channels = classic_view(inputs[0]).c;
    }
  }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& activation = std::get<Activation>(context.layer.params);
    if (per_channel(activation.type)) {
      const Chw in = classic_view(context);
      if (activation.channels != in.c) {
        context.fail(context.input_text(0) + " but its " + kTypeNames[int(activation.type)] +
                     " parameters are for " + std::to_string(activation.channels) + " channels");
      }
    }
    return {context.inputs[0]};
  }

  std::vector<ParameterSpec> parameters(const Layer& layer) const override {
    const auto& activation = std::get<Activation>(layer.params);
    if (activation.type == ActivationType::kPReLU) {
      return {{.name = "alpha", .shape = {activation.channels}, .value = 0.25f}};
    }
    if (activation.type == ActivationType::kParametricSoftplus) {
      return {{.name = "alpha", .shape = {activation.channels}, .value = 1.0f},
              {.name = "beta", .shape = {activation.channels}, .value = 1.0f}};
    }
    return {};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& activation = std::get<Activation>(c.layer.params);
    const size_t size = size_t(c.inputs[0].count());
    switch (activation.type) {
      case ActivationType::kReLU: return std::make_unique<ReluOp>(size);
      case ActivationType::kSigmoid: return std::make_unique<SmoothOp>(size, true);
      case ActivationType::kTanh: return std::make_unique<SmoothOp>(size, false);
      case ActivationType::kLinear:
        return std::make_unique<LinearOp>(size, activation.alpha, activation.beta);
      case ActivationType::kPReLU:
      case ActivationType::kParametricSoftplus: {
        const LayerParameter* beta = c.layer.parameter("beta");
        return std::make_unique<ChannelOp>(
            classic_view(c.inputs[0]), activation.type, c.layer.parameter("alpha")->slice.offset,
            beta ? std::optional<size_t>(beta->slice.offset) : std::nullopt, c.trains_parameters);
      }
      default: return std::make_unique<NonlinearOp>(size, activation);
    }
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::ActivationParams& p = message.activation();
    Activation a;
    switch (p.NonlinearityType_case()) {
      case spec::ActivationParams::kLinear:
        a = {ActivationType::kLinear, p.linear().alpha(), p.linear().beta()};
        break;
      case spec::ActivationParams::kReLU: a.type = ActivationType::kReLU; break;
      case spec::ActivationParams::kLeakyReLU:
        a = {ActivationType::kLeakyReLU, p.leakyrelu().alpha()};
        break;
      case spec::ActivationParams::kThresholdedReLU:
        a = {ActivationType::kThresholdedReLU, p.thresholdedrelu().alpha()};
        break;
      case spec::ActivationParams::kPReLU: a.type = ActivationType::kPReLU; break;
      case spec::ActivationParams::kTanh: a.type = ActivationType::kTanh; break;
      case spec::ActivationParams::kScaledTanh:
        a = {ActivationType::kScaledTanh, p.scaledtanh().alpha(), p.scaledtanh().beta()};
        break;
      case spec::ActivationParams::kSigmoid: a.type = ActivationType::kSigmoid; break;
      case spec::ActivationParams::kSigmoidHard:
        a = {ActivationType::kSigmoidHard, p.sigmoidhard().alpha(), p.sigmoidhard().beta()};
        break;
      case spec::ActivationParams::kELU: a = {ActivationType::kELU, p.elu().alpha()}; break;
      case spec::ActivationParams::kSoftsign: a.type = ActivationType::kSoftsign; break;
      case spec::ActivationParams::kSoftplus: a.type = ActivationType::kSoftplus; break;
      case spec::ActivationParams::kParametricSoftplus:
        a.type = ActivationType::kParametricSoftplus;
        break;
      default: reader.fail("sets no activation function");
    }
    // Per-channel parameters: as many as stored (one per channel; checked against the input's
    // channels once shapes are known).
    if (a.type == ActivationType::kPReLU) {
      a.channels = stored_count(p.prelu().alpha(), reader, "alpha");
      reader.layer().params = a;
      reader.tensor("alpha", p.prelu().alpha(), uint64_t(a.channels), uint64_t(a.channels));
      return;
    }
    if (a.type == ActivationType::kParametricSoftplus) {
      a.channels = stored_count(p.parametricsoftplus().alpha(), reader, "alpha");
      reader.layer().params = a;
      reader.tensor("alpha", p.parametricsoftplus().alpha(), uint64_t(a.channels),
                    uint64_t(a.channels));
      reader.tensor("beta", p.parametricsoftplus().beta(), uint64_t(a.channels),
                    uint64_t(a.channels));
      return;
    }
    reader.layer().params = a;
  }

  void write(const Model& model, const Layer& layer,
             spec::NeuralNetworkLayer& message) const override {
    const auto& a = std::get<Activation>(layer.params);
    spec::ActivationParams* p = message.mutable_activation();
    switch (a.type) {
      case ActivationType::kLinear:
        p->mutable_linear()->set_alpha(a.alpha);
        p->mutable_linear()->set_beta(a.beta);
        break;
      case ActivationType::kReLU: p->mutable_relu(); break;
      case ActivationType::kLeakyReLU: p->mutable_leakyrelu()->set_alpha(a.alpha); break;
      case ActivationType::kThresholdedReLU: p->mutable_thresholdedrelu()->set_alpha(a.alpha); break;
      case ActivationType::kPReLU:
        write_tensor(model, layer, "alpha", p->mutable_prelu()->mutable_alpha());
        break;
      case ActivationType::kTanh: p->mutable_tanh(); break;
      case ActivationType::kScaledTanh:
        p->mutable_scaledtanh()->set_alpha(a.alpha);
        p->mutable_scaledtanh()->set_beta(a.beta);
        break;
      case ActivationType::kSigmoid: p->mutable_sigmoid(); break;
      case ActivationType::kSigmoidHard:
        p->mutable_sigmoidhard()->set_alpha(a.alpha);
        p->mutable_sigmoidhard()->set_beta(a.beta);
        break;
      case ActivationType::kELU: p->mutable_elu()->set_alpha(a.alpha); break;
      case ActivationType::kSoftsign: p->mutable_softsign(); break;
      case ActivationType::kSoftplus: p->mutable_softplus(); break;
      case ActivationType::kParametricSoftplus:
        write_tensor(model, layer, "alpha", p->mutable_parametricsoftplus()->mutable_alpha());
        write_tensor(model, layer, "beta", p->mutable_parametricsoftplus()->mutable_beta());
        break;
    }
  }

  std::string notes() const override {
    return "all 13 nonlinearities (linear, ReLU, leaky, thresholded, PReLU, tanh, scaled tanh, "
           "sigmoid, hard sigmoid, ELU, softsign, softplus, parametric softplus); Core ML "
           "back-propagates through ReLU, sigmoid and tanh only";
  }
  std::string describe(const Layer& layer) const override {
    const auto& a = std::get<Activation>(layer.params);
    std::string text = kTypeNames[int(a.type)];
    switch (a.type) {
      case ActivationType::kLinear:
      case ActivationType::kScaledTanh:
      case ActivationType::kSigmoidHard:
        return text + " (alpha " + number(a.alpha) + ", beta " + number(a.beta) + ")";
      case ActivationType::kLeakyReLU:
      case ActivationType::kThresholdedReLU:
      case ActivationType::kELU: return text + " (alpha " + number(a.alpha) + ")";
      default: return text;
    }
  }

 private:
  static int stored_count(const spec::WeightParams& w, LayerReader& reader, const char* what) {
    const uint64_t count = w.floatvalue_size() > 0 ? uint64_t(w.floatvalue_size())
                           : !w.float16value().empty() ? w.float16value().size() / 2
                                                       : w.rawvalue().size() / 4;
    if (count == 0) reader.fail(std::string(what) + " holds no values");
    return reader.checked(count, LayerReader::kMaxChannels, what);
  }
  static std::string number(float value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", double(value));
    return text;
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Activation>() {
  static const ActivationKind kind;
  return kind;
}

}  // namespace edgetrain
