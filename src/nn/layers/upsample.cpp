// Core ML's `upsample` of the (H, W) plane of (C, H, W), leading dimensions as batch: nearest
// neighbour by whole factors, or bilinear on one of Core ML's three grids (LinearUpsampleMode),
// by whole or (with aligned corners, true or false) fractional factors. Both run as separable
// two-tap resampling (ops/resample.h); backward spreads each gradient over the inputs it read.
#include <cmath>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "nn/shapes.h"
#include "ops/resample.h"

namespace edgetrain {
namespace {

constexpr double kMaxFactor = 65536.0;

class UpsampleOp : public Op {
 public:
  UpsampleOp(Chw view, ops::Taps height, ops::Taps width)
      : view_(view), height_(std::move(height)), width_(std::move(width)) {}
  void forward(const OpArgs& a) const override {
    ops::resample_forward(a.out[0], a.in[0], rows(a), view_.h, view_.w, height_, width_);
  }
  void backward(const OpArgs& a) const override {
    ops::resample_backward(a.din[0], a.dout[0], rows(a), view_.h, view_.w, height_, width_);
  }
  bool backward_reads_output() const override { return false; }

 private:
  int64_t rows(const OpArgs& a) const { return a.n * view_.outer * view_.c; }
  Chw view_;
  ops::Taps height_, width_;
};

// The output size of one axis: size · factor, rounded down for fractional factors.
int64_t scaled(int size, float factor) {
  return int64_t(std::floor(double(size) * factor));
}

std::string number(float value) {
  return number_text(double(value));
}

class UpsampleKind : public LayerKind {
 public:
  const char* name() const override { return "upsample"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kUpsample; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& up = std::get<Upsample>(context.layer.params);
    const Shape& in = context.inputs[0];
    if (in.rank() < 3) {
      context.fail(context.input_text(0) +
                   ", but upsample scales (H, W) of (C, H, W): it needs rank 3 or more");
    }
    const bool bilinear = up.mode == UpsampleMode::kBilinear;
    if (!bilinear && up.linear_mode != LinearUpsampleMode::kDefault) {
      context.fail("nearest-neighbour upsampling takes no linearUpsampleMode (Apple's rule)");
    }
    if (up.fractional && (!bilinear || up.linear_mode == LinearUpsampleMode::kDefault)) {
      context.fail(
          "fractional scaling factors need bilinear mode with aligned corners true or "
          "false (Apple's rule)");
    }
    Shape out = in;
    for (int axis = 0; axis < 2; ++axis) {
      const float factor = up.scaling_factor[size_t(axis)];
      const char* which = axis == 0 ? "height" : "width";
      if (!(factor > 0.0f) || !(factor <= kMaxFactor) ||
          (!up.fractional && factor != std::floor(factor))) {
        context.fail(std::string(which) + " scaling factor " + number(factor) + " must be " +
                     (up.fractional ? "positive" : "a whole number") + " up to 65536");
      }
      const int size = in[in.rank() - 2 + axis];
      const int64_t grown = scaled(size, factor);
      if (grown < 1 || grown > (int64_t(1) << 28)) {
        context.fail(context.input_text(0) + ", and its " + which + " " + std::to_string(size) +
                     " times " + number(factor) + " gives " + std::to_string(grown) + " values");
      }
      out[in.rank() - 2 + axis] = int(grown);
    }
    return {out};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& up = std::get<Upsample>(c.layer.params);
    const Chw view = classic_view(c.inputs[0]);
    const Chw out = classic_view(c.outputs[0]);
    auto taps = [&](int in, int grown, float factor) {
      if (up.mode == UpsampleMode::kNearest) return ops::nearest_taps(in, int(factor));
      const ops::Grid grid =
          up.linear_mode == LinearUpsampleMode::kAlignCornersTrue    ? ops::Grid::kAlignCorners
          : up.linear_mode == LinearUpsampleMode::kAlignCornersFalse ? ops::Grid::kHalfPixel
                                                                     : ops::Grid::kDefault;
      return ops::bilinear_taps(in, grown, grid);
    };
    return std::make_unique<UpsampleOp>(view, taps(view.h, out.h, up.scaling_factor[0]),
                                        taps(view.w, out.w, up.scaling_factor[1]));
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::UpsampleLayerParams& p = message.upsample();
    const int whole = p.scalingfactor_size(), fractional = p.fractionalscalingfactor_size();
    // Apple's validator: at most one of the two, and two values when set.
    if ((whole != 0 && whole != 2) || (fractional != 0 && fractional != 2) ||
        (whole && fractional)) {
      reader.fail("scalingFactor has " + std::to_string(whole) +
                  " values and fractionalScalingFactor " + std::to_string(fractional) +
                  "; one of them may be set, with two values ([height, width])");
    }
    if (p.mode() != spec::UpsampleLayerParams::NN &&
        p.mode() != spec::UpsampleLayerParams::BILINEAR) {
      reader.fail("mode " + std::to_string(p.mode()) + " is neither NN nor BILINEAR");
    }
    if (p.linearupsamplemode() < spec::UpsampleLayerParams::DEFAULT ||
        p.linearupsamplemode() > spec::UpsampleLayerParams::ALIGN_CORNERS_FALSE) {
      reader.fail("linearUpsampleMode " + std::to_string(p.linearupsamplemode()) + " is unknown");
    }
    Upsample up;
    up.mode = UpsampleMode(p.mode());
    up.linear_mode = LinearUpsampleMode(p.linearupsamplemode());
    up.scaling_factor = {1.0f, 1.0f};  // Core ML's default
    if (whole) {
      up.scaling_factor = {
          float(reader.checked(p.scalingfactor(0), uint64_t(kMaxFactor), "scalingFactor")),
          float(reader.checked(p.scalingfactor(1), uint64_t(kMaxFactor), "scalingFactor"))};
    } else if (fractional) {
      up.fractional = true;
      up.scaling_factor = {p.fractionalscalingfactor(0), p.fractionalscalingfactor(1)};
    }
    reader.layer().params = up;
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& up = std::get<Upsample>(layer.params);
    spec::UpsampleLayerParams* p = message.mutable_upsample();
    for (float factor : up.scaling_factor) {
      if (up.fractional) {
        p->add_fractionalscalingfactor(factor);
      } else {
        p->add_scalingfactor(uint64_t(factor));
      }
    }
    p->set_mode(spec::UpsampleLayerParams::InterpolationMode(up.mode));
    p->set_linearupsamplemode(spec::UpsampleLayerParams::LinearUpsampleMode(up.linear_mode));
  }

  std::string notes() const override {
    return "nearest neighbour by whole factors; bilinear on the default, align-corners and "
           "half-pixel grids, fractional factors with aligned corners (true or false)";
  }
  std::string describe(const Layer& layer) const override {
    const auto& up = std::get<Upsample>(layer.params);
    static constexpr const char* kGrids[] = {"", ", corners aligned", ", corners not aligned"};
    return (up.mode == UpsampleMode::kNearest ? "nearest x" : "bilinear x") +
           number(up.scaling_factor[0]) + "x" + number(up.scaling_factor[1]) +
           kGrids[int(up.linear_mode)];
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Upsample>() {
  static const UpsampleKind kind;
  return kind;
}

}  // namespace edgetrain
