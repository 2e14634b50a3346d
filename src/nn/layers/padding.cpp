// Padding layers, both a separable gather (ops/layout.h) that keeps nothing for backward:
// - `padding` (Core ML's classic PaddingLayerParams) grows the last two dimensions (H, W) of a blob
//   of rank 2 or more (leading dimensions are batch) by (top, bottom, left, right): with a
//   constant, the values reflected about the edge (the edge itself not repeated, as in Apple's
//   example; each amount below the dimension's size) or the edge value replicated. Backward adds
//   every output's gradient into the element it copies, so reflected and replicated borders
//   accumulate into their sources.
// - `constantPad` (spec 4+, ND) pads every axis of the whole tensor with a constant; its axes are
//   Core ML's (nd_axis.h): under the rank-5 mapping the first two pairs pad Seq and Batch and must
//   be 0. padToGivenOutputSizeMode reads one value of each pair as the size to grow to, padded
//   before or after. The amounts as a second input (known only at run time) are not supported.
#include <algorithm>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/move_ops.h"
#include "nn/layers/nd_axis.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

constexpr int64_t kMaxPad = int64_t(1) << 24;

const char* type_name(PaddingType type) {
  switch (type) {
    case PaddingType::kConstant:
      return "constant";
    case PaddingType::kReflection:
      return "reflection";
    case PaddingType::kReplication:
      return "replication";
  }
  return "?";
}

ops::AxisGather::Fill fill_of(PaddingType type) {
  switch (type) {
    case PaddingType::kConstant:
      return ops::AxisGather::Fill::kConstant;
    case PaddingType::kReflection:
      return ops::AxisGather::Fill::kReflect;
    case PaddingType::kReplication:
      return ops::AxisGather::Fill::kReplicate;
  }
  return ops::AxisGather::Fill::kConstant;
}

std::vector<int> dims_of(const Shape& s) {
  std::vector<int> dims;
  for (int64_t d : s.dims()) dims.push_back(int(d));
  return dims;
}

std::unique_ptr<Op> pad_op(const Shape& in, const std::vector<int>& before,
                           const std::vector<int>& after, PaddingType type, float value) {
  const bool identity = std::all_of(before.begin(), before.end(), [](int v) { return v == 0; }) &&
                        std::all_of(after.begin(), after.end(), [](int v) { return v == 0; });
  return std::make_unique<GatherOp>(ops::AxisGather::pad(dims_of(in), before, after, fill_of(type)),
                                    value, identity);
}

// ---- padding ------------------------------------------------------------------------------------

class PadKind : public LayerKind {
 public:
  const char* name() const override { return "padding"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kPadding; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& pad = std::get<Pad>(context.layer.params);
    const Shape& in = context.inputs[0];
    if (in.rank() < 2) {
      context.fail(context.input_text(0) +
                   ", but padding pads the last two dimensions (H, W): it needs rank 2 or more");
    }
    const int height = in[in.rank() - 2], width = in[in.rank() - 1];
    const auto [top, bottom, left, right] = pad.amounts;
    for (int amount : pad.amounts) {
      if (amount < 0 || amount > kMaxPad) {
        context.fail("padding amount " + std::to_string(amount) + " is out of range (0 to " +
                     std::to_string(kMaxPad) + ")");
      }
    }
    if (pad.type == PaddingType::kReflection &&
        (std::max(top, bottom) >= height || std::max(left, right) >= width)) {
      context.fail(context.input_text(0) + ", but reflection padding (top " + std::to_string(top) +
                   ", bottom " + std::to_string(bottom) + ", left " + std::to_string(left) +
                   ", right " + std::to_string(right) +
                   ") mirrors values inside the plane: each amount must be below the height or "
                   "width it pads");
    }
    Shape out = in;
    out[in.rank() - 2] = height + top + bottom;
    out[in.rank() - 1] = width + left + right;
    return {out};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& pad = std::get<Pad>(c.layer.params);
    const Shape& in = c.inputs[0];
    std::vector<int> before(size_t(in.rank()), 0), after(size_t(in.rank()), 0);
    before[size_t(in.rank() - 2)] = pad.amounts[0];
    after[size_t(in.rank() - 2)] = pad.amounts[1];
    before[size_t(in.rank() - 1)] = pad.amounts[2];
    after[size_t(in.rank() - 1)] = pad.amounts[3];
    return pad_op(in, before, after, pad.type, pad.value);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::PaddingLayerParams& p = message.padding();
    Pad pad;
    switch (p.PaddingType_case()) {
      case spec::PaddingLayerParams::kConstant:
        pad.type = PaddingType::kConstant;
        pad.value = p.constant().value();
        break;
      case spec::PaddingLayerParams::kReflection:
        pad.type = PaddingType::kReflection;
        break;
      case spec::PaddingLayerParams::kReplication:
        pad.type = PaddingType::kReplication;
        break;
      default:
        reader.fail("the padding type (constant, reflection or replication) is not set");
    }
    const auto& borders = p.paddingamounts().borderamounts();
    if (!borders.empty() && borders.size() != 2) {
      reader.fail("paddingAmounts has " + std::to_string(borders.size()) +
                  " border amounts, expected 2 ([height, width]) or none");
    }
    if (borders.size() == 2) {
      pad.amounts = {reader.checked(borders[0].startedgesize(), kMaxPad, "padding top"),
                     reader.checked(borders[0].endedgesize(), kMaxPad, "padding bottom"),
                     reader.checked(borders[1].startedgesize(), kMaxPad, "padding left"),
                     reader.checked(borders[1].endedgesize(), kMaxPad, "padding right")};
    }
    reader.layer().params = pad;
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& pad = std::get<Pad>(layer.params);
    spec::PaddingLayerParams* p = message.mutable_padding();
    switch (pad.type) {
      case PaddingType::kConstant:
        p->mutable_constant()->set_value(pad.value);
        break;
      case PaddingType::kReflection:
        p->mutable_reflection();
        break;
      case PaddingType::kReplication:
        p->mutable_replication();
        break;
    }
    auto* borders = p->mutable_paddingamounts()->mutable_borderamounts();
    for (int axis = 0; axis < 2; ++axis) {
      auto* edges = borders->Add();
      edges->set_startedgesize(uint64_t(pad.amounts[size_t(2 * axis)]));
      edges->set_endedgesize(uint64_t(pad.amounts[size_t(2 * axis + 1)]));
    }
  }

  std::string notes() const override {
    return "constant, reflection and replication; any amounts (reflection: below the size)";
  }
  std::string describe(const Layer& layer) const override {
    const auto& pad = std::get<Pad>(layer.params);
    std::string text = type_name(pad.type);
    if (pad.type == PaddingType::kConstant) text.append(" ").append(number_text(pad.value));
    return text + ", top " + std::to_string(pad.amounts[0]) + " bottom " +
           std::to_string(pad.amounts[1]) + " left " + std::to_string(pad.amounts[2]) + " right " +
           std::to_string(pad.amounts[3]);
  }
};

// ---- constantPad --------------------------------------------------------------------------------

struct PadAmounts {
  std::vector<int> before, after;  // per per-sample axis
};

// The per-sample amounts of a layer whose padAmounts were checked by ConstantPadKind::infer.
PadAmounts per_sample_amounts(const ConstantPad& pad, const Shape& in, int leading) {
  PadAmounts amounts;
  for (int axis = 0; axis < in.rank(); ++axis) {
    const size_t at = 2 * size_t(axis + leading);
    int before = int(pad.pad_amounts[at]), after = int(pad.pad_amounts[at + 1]);
    if (pad.pad_to_given_output_size) {  // the non-zero one is the size to reach
      before = std::max(0, before - in[axis]);
      after = std::max(0, after - in[axis]);
    }
    amounts.before.push_back(before);
    amounts.after.push_back(after);
  }
  return amounts;
}

class ConstantPadKind : public LayerKind {
 public:
  const char* name() const override { return "constantPad"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kConstantPad; }
  int max_inputs() const override { return 2; }  // the second is refused with a reason in infer

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& pad = std::get<ConstantPad>(context.layer.params);
    if (context.inputs.size() == 2) {
      context.fail(
          "padAmounts from a second input (known only at run time) is not supported; "
          "give padAmounts in the layer");
    }
    const Shape& in = context.inputs[0];
    const int leading = nd_leading_axes(context.model);
    const int full = in.rank() + leading;
    if (pad.pad_amounts.size() != 2 * size_t(full)) {
      context.fail(context.input_text(0) + ", so padAmounts needs " + std::to_string(2 * full) +
                   " values (before and after each of the tensor's " + std::to_string(full) +
                   " axes" + (leading ? ", Seq and Batch first under the rank-5 mapping" : "") +
                   "), not " + std::to_string(pad.pad_amounts.size()));
    }
    for (size_t i = 0; i < pad.pad_amounts.size(); ++i) {
      const int64_t amount = pad.pad_amounts[i];
      if (amount < 0 || amount > kMaxPad) {
        context.fail("padAmounts[" + std::to_string(i) + "] " + std::to_string(amount) +
                     " is out of range (0 to " + std::to_string(kMaxPad) + ")");
      }
      if (pad.pad_to_given_output_size && i % 2 == 1 && amount > 0 && pad.pad_amounts[i - 1] > 0) {
        context.fail("padToGivenOutputSizeMode is set and padAmounts gives both values of axis " +
                     std::to_string(i / 2) + "; only one may be non-zero");
      }
      if (i < 2 * size_t(leading) && amount > (pad.pad_to_given_output_size ? 1 : 0)) {
        context.fail("padAmounts pads Core ML's " + std::string(i < 2 ? "sequence" : "batch") +
                     " axis (under the rank-5 array mapping a per-sample blob is [Seq, Batch, "
                     "...]); only the per-sample axes can be padded");
      }
    }
    const PadAmounts amounts = per_sample_amounts(pad, in, leading);
    Shape out = in;
    for (int axis = 0; axis < in.rank(); ++axis) {
      const int64_t size =
          int64_t(in[axis]) + amounts.before[size_t(axis)] + amounts.after[size_t(axis)];
      if (size > (int64_t(1) << 28)) context.fail("the padded tensor is too large");
      out[axis] = int(size);
    }
    return {out};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& pad = std::get<ConstantPad>(c.layer.params);
    const PadAmounts amounts = per_sample_amounts(pad, c.inputs[0], nd_leading_axes(c.model));
    return pad_op(c.inputs[0], amounts.before, amounts.after, PaddingType::kConstant, pad.value);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::ConstantPaddingLayerParams& p = message.constantpad();
    ConstantPad pad;
    pad.value = p.value();
    pad.pad_to_given_output_size = p.padtogivenoutputsizemode();
    constexpr int kMaxAmounts = 2 * (Shape::kMaxRank + 2);
    if (p.padamounts_size() > kMaxAmounts || p.padamounts_size() % 2 != 0) {
      reader.fail("padAmounts has " + std::to_string(p.padamounts_size()) +
                  " values; it holds (before, after) for each axis, at most " +
                  std::to_string(kMaxAmounts));
    }
    for (uint64_t amount : p.padamounts()) {
      pad.pad_amounts.push_back(reader.checked(amount, kMaxPad, "padAmounts"));
    }
    reader.layer().params = pad;
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& pad = std::get<ConstantPad>(layer.params);
    spec::ConstantPaddingLayerParams* p = message.mutable_constantpad();
    p->set_value(pad.value);
    for (int64_t amount : pad.pad_amounts) p->add_padamounts(uint64_t(amount));
    p->set_padtogivenoutputsizemode(pad.pad_to_given_output_size);
  }

  std::string notes() const override {
    return "every axis, padToGivenOutputSizeMode; not amounts from a second input";
  }
  std::string describe(const Layer& layer) const override {
    const auto& pad = std::get<ConstantPad>(layer.params);
    return "value " + number_text(pad.value) + ", " +
           (pad.pad_to_given_output_size ? "to sizes " : "amounts ") +
           shape_string(pad.pad_amounts);
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Pad>() {
  static const PadKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<ConstantPad>() {
  static const ConstantPadKind kind;
  return kind;
}

}  // namespace edgetrain
