// Convolution (Core ML's `convolution`, not deconvolution): weights (out, in / groups, kh, kw) as
// Core ML stores them, bias (out). Valid padding with or without amounts, same padding in either
// asymmetry mode, stride, dilation, groups. Core ML can update it.
//
// Forward keeps nothing: backward reads the forward input and the weights.
#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "nn/layers/convolution.h"
#include "nn/window.h"
#include "ops/ops.h"

namespace edgetrain {
namespace {

class ConvolutionOp : public Op {
 public:
  ConvolutionOp(ops::Conv2dShape shape, int64_t outer, size_t weight, std::optional<size_t> bias,
                bool trains)
      : shape_(shape), outer_(outer), weight_(weight), bias_(bias), trains_(trains) {}

  void forward(const OpArgs& a) const override {
    ops::Conv2dShape shape = shape_;
    shape.batch = int(a.n * outer_);
    ops::conv2d_forward(a.out[0], a.in[0], a.parameters + weight_,
                        bias_ ? a.parameters + *bias_ : nullptr, shape, a.scratch);
  }
  void backward(const OpArgs& a) const override {
    ops::Conv2dShape shape = shape_;
    shape.batch = int(a.n * outer_);
    float* dweight = trains_ && a.dparameters ? a.dparameters + weight_ : nullptr;
    float* dbias = trains_ && a.dparameters && bias_ ? a.dparameters + *bias_ : nullptr;
    ops::conv2d_backward(a.din[0], dweight, dbias, a.dout[0], a.in[0], a.parameters + weight_,
                         shape, a.scratch);
  }
  size_t scratch_floats() const override { return ops::conv2d_workspace_floats(shape_); }
  bool backward_reads_output() const override { return false; }

 private:
  ops::Conv2dShape shape_;
  int64_t outer_;
  size_t weight_;
  std::optional<size_t> bias_;
  bool trains_;
};

class ConvolutionKind : public LayerKind {
 public:
  const char* name() const override { return "convolution"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kConvolution; }
  bool coreml_updatable() const override { return true; }
  bool coreml_backprop(const Layer&) const override { return true; }

  void complete(Layer& layer, const std::vector<Shape>& inputs, const Model&) const override {
    auto& conv = std::get<Convolution>(layer.params);
    if (conv.kernel_channels == 0 && inputs.size() == 1 && conv.groups > 0 &&
        inputs[0].rank() != 2) {
      const Chw in = classic_view(inputs[0]);
      if (in.c % conv.groups == 0) conv.kernel_channels = in.c / conv.groups;
    }
  }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& conv = std::get<Convolution>(context.layer.params);
    const Chw in = classic_view(context);
    if (conv.output_channels <= 0) context.fail("outputChannels must be positive");
    if (conv.groups <= 0 || conv.output_channels % conv.groups != 0) {
      context.fail("outputChannels " + std::to_string(conv.output_channels) +
                   " is not divisible by nGroups " + std::to_string(conv.groups));
    }
    for (int k = 0; k < 2; ++k) {
      if (conv.kernel_size[k] <= 0 || conv.stride[k] <= 0 || conv.dilation[k] <= 0) {
        context.fail("kernel size, stride and dilation must be positive");
      }
    }
    if (conv.kernel_channels * conv.groups != in.c) {
      context.fail(context.input_text(0) + " but kernelChannels " +
                   std::to_string(conv.kernel_channels) + " x nGroups " +
                   std::to_string(conv.groups) + " expects " +
                   std::to_string(int64_t(conv.kernel_channels) * conv.groups) + " channels");
    }
    const WindowGeometry g = window_geometry(convolution_window(conv), in.h, in.w);
    if (g.out_height <= 0 || g.out_width <= 0) {
      context.fail(context.input_text(0) + ", smaller than the " + size_text(conv.kernel_size) +
                   " kernel (with its dilation and padding)");
    }
    return {classic_shape(context.inputs[0], conv.output_channels, g.out_height, g.out_width)};
  }

  std::vector<ParameterSpec> parameters(const Layer& layer) const override {
    const auto& conv = std::get<Convolution>(layer.params);
    const int64_t area = int64_t(conv.kernel_size[0]) * conv.kernel_size[1];
    std::vector<ParameterSpec> specs{
        {.name = "weights",
         .shape = {conv.output_channels, conv.kernel_channels, conv.kernel_size[0],
                   conv.kernel_size[1]},
         .random = true,
         .fan_in = conv.kernel_channels * area,
         .fan_out = conv.output_channels / std::max(1, conv.groups) * area}};
    if (conv.has_bias) specs.push_back({.name = "bias", .shape = {conv.output_channels}});
    return specs;
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& conv = std::get<Convolution>(c.layer.params);
    const Chw in = classic_view(c.inputs[0]);
    const Chw out = classic_view(c.outputs[0]);
    const LayerParameter* bias = c.layer.parameter("bias");
    return std::make_unique<ConvolutionOp>(
        conv2d_shape(conv, in.c, in.h, in.w, out.c, out.h, out.w), in.outer,
        c.layer.parameter("weights")->slice.offset,
        bias ? std::optional<size_t>(bias->slice.offset) : std::nullopt, c.trains_parameters);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::ConvolutionLayerParams& c = message.convolution();
    if (c.isdeconvolution()) reader.fail("deconvolution is not supported");
    Convolution conv;
    conv.output_channels = reader.checked(c.outputchannels(), LayerReader::kMaxChannels,
                                          "outputChannels");
    conv.kernel_channels = reader.checked(c.kernelchannels(), LayerReader::kMaxChannels,
                                          "kernelChannels");
    conv.groups = c.ngroups() == 0 ? 1 : reader.checked(c.ngroups(), LayerReader::kMaxChannels,
                                                        "nGroups");
    conv.kernel_size = reader.pair(c.kernelsize(), {3, 3}, "kernelSize");
    conv.stride = reader.pair(c.stride(), {1, 1}, "stride");
    conv.dilation = reader.pair(c.dilationfactor(), {1, 1}, "dilationFactor");
    if (c.ConvolutionPaddingType_case() == spec::ConvolutionLayerParams::kSame) {
      conv.padding = Padding::kSame;
      conv.same_mode = reader.same_padding(c.same());
    } else {
      reader.valid_padding(c.valid(), conv.padding_amounts);
    }
    conv.has_bias = c.hasbias();
    if (conv.output_channels == 0) reader.fail("outputChannels must be positive");
    if (conv.kernel_channels == 0) reader.fail("kernelChannels must be positive");
    if (conv.kernel_size[0] == 0 || conv.kernel_size[1] == 0) {
      reader.fail("kernelSize must be positive");
    }
    reader.layer().params = conv;
    uint64_t count = 1;
    for (uint64_t factor : {uint64_t(conv.output_channels), uint64_t(conv.kernel_channels),
                            uint64_t(conv.kernel_size[0]), uint64_t(conv.kernel_size[1])}) {
      if (__builtin_mul_overflow(count, factor, &count)) reader.fail("the weight count overflows");
    }
    reader.tensor("weights", c.weights(), count, uint64_t(conv.output_channels));
    if (conv.has_bias) {
      reader.tensor("bias", c.bias(), uint64_t(conv.output_channels),
                    uint64_t(conv.output_channels));
    } else {
      reader.no_tensor(c.bias(), "bias (hasBias is false)");
    }
  }

  void write(const Model& model, const Layer& layer,
             spec::NeuralNetworkLayer& message) const override {
    const auto& conv = std::get<Convolution>(layer.params);
    spec::ConvolutionLayerParams* c = message.mutable_convolution();
    c->set_outputchannels(uint64_t(conv.output_channels));
    c->set_kernelchannels(uint64_t(conv.kernel_channels));
    c->set_ngroups(uint64_t(conv.groups));
    write_pair(conv.kernel_size, c->mutable_kernelsize());
    write_pair(conv.stride, c->mutable_stride());
    write_pair(conv.dilation, c->mutable_dilationfactor());
    if (conv.padding == Padding::kSame) {
      write_same_padding(conv.same_mode, c->mutable_same());
    } else {
      write_valid_padding(conv.padding_amounts, c->mutable_valid());
    }
    c->set_hasbias(conv.has_bias);
    write_tensor(model, layer, "weights", c->mutable_weights());
    write_tensor(model, layer, "bias", c->mutable_bias());
  }

  std::string notes() const override {
    return "valid padding with or without amounts, same padding in both asymmetry modes, stride, "
           "dilation, groups; not deconvolution";
  }
  std::string describe(const Layer& layer) const override {
    const auto& conv = std::get<Convolution>(layer.params);
    std::string text = std::to_string(conv.output_channels) + " filters " +
                       size_text(conv.kernel_size) + ", stride " + size_text(conv.stride);
    if (conv.dilation != std::array<int, 2>{1, 1}) text += ", dilation " + size_text(conv.dilation);
    if (conv.groups != 1) text += ", " + std::to_string(conv.groups) + " groups";
    if (conv.padding == Padding::kSame) {
      text += conv.same_mode == SamePaddingMode::kTopLeftHeavy ? ", same (top-left heavy)"
                                                               : ", same";
    } else {
      text += ", valid";
      if (conv.padding_amounts != std::array<int, 4>{0, 0, 0, 0}) text += " with padding";
    }
    return text;
  }
};

}  // namespace

ops::Conv2dShape conv2d_shape(const Convolution& conv, int in_c, int in_h, int in_w, int out_c,
                              int out_h, int out_w) {
  const WindowGeometry g = window_geometry(convolution_window(conv), in_h, in_w);
  return {.batch = 0, .in_channels = in_c, .in_height = in_h, .in_width = in_w,
          .out_channels = out_c, .out_height = out_h, .out_width = out_w,
          .kernel_height = conv.kernel_size[0], .kernel_width = conv.kernel_size[1],
          .stride_height = conv.stride[0], .stride_width = conv.stride[1],
          .dilation_height = conv.dilation[0], .dilation_width = conv.dilation[1],
          .pad_top = g.pad_top, .pad_left = g.pad_left, .groups = conv.groups};
}

template <>
const LayerKind& kind_for<Convolution>() {
  static const ConvolutionKind kind;
  return kind;
}

}  // namespace edgetrain
