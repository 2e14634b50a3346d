// The ND layers that give a tensor a new shape and keep its bytes (spec 4+): reshapeStatic,
// flattenTo2D, squeeze and expandDims. Axes and target shapes are Core ML's, on the whole tensor
// (nd_axis.h). Each runs as KeepBytesOp (move_ops.h), which the planner turns into a shared buffer.
#include <algorithm>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/move_ops.h"
#include "nn/layers/nd_axis.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

// The base of the four kinds: the op, and the output rank every kind checks.
class KeepBytesKind : public LayerKind {
 public:
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    return std::make_unique<KeepBytesOp>(c.inputs[0].count());
  }

 protected:
  static Shape checked_shape(const LayerContext& context, const std::vector<int64_t>& dims) {
    if (dims.empty() || dims.size() > size_t(Shape::kMaxRank)) {
      context.fail("the output would have rank " + std::to_string(dims.size()) +
                   "; per-sample ranks 1 to 5 exist");
    }
    return Shape(dims);
  }
  // "[0, -1]"
  static std::string axes_text(const std::vector<int64_t>& axes) { return shape_string(axes); }
  // Reads Core ML's repeated int64 axes, bounded before anything else is done with them.
  static std::vector<int64_t> read_axes(const google::protobuf::RepeatedField<int64_t>& axes,
                                        LayerReader& reader) {
    if (axes.size() > 2 * Shape::kMaxRank)
      reader.fail("axes has " + std::to_string(axes.size()) + " values");
    std::vector<int64_t> read;
    for (int64_t axis : axes) read.push_back(reader.checked_signed(axis, -16, 16, "axes"));
    return read;
  }
  // Per-sample axes, each once.
  static std::vector<int> distinct_axes(const LayerContext& context,
                                        const std::vector<int64_t>& axes, int rank) {
    std::vector<int> resolved;
    for (int64_t axis : axes) {
      const int at = nd_axis(context, axis, rank);
      if (std::find(resolved.begin(), resolved.end(), at) != resolved.end()) {
        context.fail("axes " + axes_text(axes) + " names axis " + std::to_string(axis) + " twice");
      }
      resolved.push_back(at);
    }
    return resolved;
  }
};

// ---- reshapeStatic ------------------------------------------------------------------------------

class ReshapeStaticKind : public KeepBytesKind {
 public:
  const char* name() const override { return "reshapeStatic"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kReshapeStatic; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const std::vector<int64_t>& target = std::get<ReshapeStatic>(context.layer.params).target_shape;
    const int leading = nd_leading_axes(context.model);
    const std::string text = "targetShape " + shape_string(target);
    if (target.size() <= size_t(leading)) {
      context.fail(text + " is too short" +
                   (leading ? ": under the rank-5 array mapping it starts with [Seq, Batch] = "
                              "[1, 1] and then holds the per-sample shape"
                            : ""));
    }
    for (int axis = 0; axis < leading; ++axis) {
      if (target[size_t(axis)] != 1) {
        context.fail(
            text + " sets Core ML's " + (axis == 0 ? "sequence" : "batch") + " axis to " +
            std::to_string(target[size_t(axis)]) +
            "; under the rank-5 array mapping a sample is [Seq, Batch, ...] = [1, 1, ...]");
      }
    }
    std::vector<int64_t> dims(target.begin() + leading, target.end());
    const int64_t count = context.inputs[0].count();
    int64_t known = 1;  // product of the given sizes while it stays within count
    bool fits = true;
    int inferred = -1;
    for (size_t axis = 0; axis < dims.size(); ++axis) {
      const int64_t d = dims[axis];
      if (d == -1) {
        if (inferred >= 0) context.fail(text + " has more than one -1");
        inferred = int(axis);
      } else if (d <= 0) {
        context.fail(text + " has size " + std::to_string(d) +
                     "; reshapeStatic takes positive sizes and one -1 (0, keep a dimension, is "
                     "rankPreservingReshape's)");
      } else if (known > count / d) {
        fits = false;
      } else {
        known *= d;
      }
    }
    if (!fits || (inferred >= 0 ? count % known != 0 : known != count)) {
      context.fail(context.input_text(0) + ", " + std::to_string(count) + " values, which " + text +
                   " cannot hold");
    }
    if (inferred >= 0) dims[size_t(inferred)] = count / known;
    return {checked_shape(context, dims)};
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const auto& target = message.reshapestatic().targetshape();
    if (target.empty() || target.size() > Shape::kMaxRank + 2) {
      reader.fail("targetShape has " + std::to_string(target.size()) + " values (1 to " +
                  std::to_string(Shape::kMaxRank + 2) + ")");
    }
    ReshapeStatic reshape;
    for (int64_t d : target) {
      reshape.target_shape.push_back(reader.checked_signed(d, -1, int64_t(1) << 28, "targetShape"));
    }
    reader.layer().params = reshape;
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    for (int64_t d : std::get<ReshapeStatic>(layer.params).target_shape) {
      message.mutable_reshapestatic()->add_targetshape(d);
    }
  }

  std::string notes() const override { return "one size may be -1 (inferred)"; }
  std::string describe(const Layer& layer) const override {
    return "to " + shape_string(std::get<ReshapeStatic>(layer.params).target_shape);
  }
};

// ---- flattenTo2D --------------------------------------------------------------------------------

class FlattenTo2DKind : public KeepBytesKind {
 public:
  const char* name() const override { return "flattenTo2D"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kFlattenTo2D; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const Shape& in = context.inputs[0];
    // Apple's validator: axis in [-rank, rank).
    const int axis = nd_axis(context, std::get<FlattenTo2D>(context.layer.params).axis, in.rank());
    int64_t rows = 1, columns = 1;
    for (int a = 0; a < in.rank(); ++a) (a < axis ? rows : columns) *= in[a];
    return {checked_shape(context, {rows, columns})};
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    reader.layer().params =
        FlattenTo2D{reader.checked_signed(message.flattento2d().axis(), -16, 16, "axis")};
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    message.mutable_flattento2d()->set_axis(std::get<FlattenTo2D>(layer.params).axis);
  }

  std::string notes() const override { return "axis in [-rank, rank)"; }
  std::string describe(const Layer& layer) const override {
    return "at axis " + std::to_string(std::get<FlattenTo2D>(layer.params).axis);
  }
};

// ---- squeeze ------------------------------------------------------------------------------------

class SqueezeKind : public KeepBytesKind {
 public:
  const char* name() const override { return "squeeze"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kSqueeze; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& squeeze = std::get<Squeeze>(context.layer.params);
    const Shape& in = context.inputs[0];
    std::vector<char> removed(size_t(in.rank()), 0);
    if (squeeze.squeeze_all) {
      for (int a = 0; a < in.rank(); ++a) removed[size_t(a)] = in[a] == 1;
    } else {
      if (squeeze.axes.empty()) context.fail("axes is empty and squeezeAll is not set");
      for (int a : distinct_axes(context, squeeze.axes, in.rank())) {
        if (in[a] != 1) {
          context.fail(context.input_text(0) + ", so axis " + std::to_string(a) + " has size " +
                       std::to_string(in[a]) + " and cannot be squeezed (axes " +
                       axes_text(squeeze.axes) + ")");
        }
        removed[size_t(a)] = 1;
      }
    }
    std::vector<int64_t> dims;
    for (int a = 0; a < in.rank(); ++a) {
      if (!removed[size_t(a)]) dims.push_back(in[a]);
    }
    if (dims.empty()) dims.push_back(1);  // Core ML: a rank-1 result stays rank 1
    return {checked_shape(context, dims)};
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::SqueezeLayerParams& p = message.squeeze();
    reader.layer().params = Squeeze{read_axes(p.axes(), reader), p.squeezeall()};
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& squeeze = std::get<Squeeze>(layer.params);
    spec::SqueezeLayerParams* p = message.mutable_squeeze();
    for (int64_t axis : squeeze.axes) p->add_axes(axis);
    p->set_squeezeall(squeeze.squeeze_all);
  }

  std::string notes() const override { return "named axes or squeezeAll"; }
  std::string describe(const Layer& layer) const override {
    const auto& squeeze = std::get<Squeeze>(layer.params);
    return squeeze.squeeze_all ? "every axis of size 1" : "axes " + axes_text(squeeze.axes);
  }
};

// ---- expandDims ---------------------------------------------------------------------------------

class ExpandDimsKind : public KeepBytesKind {
 public:
  const char* name() const override { return "expandDims"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kExpandDims; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& axes = std::get<ExpandDims>(context.layer.params).axes;
    const Shape& in = context.inputs[0];
    if (axes.empty()) context.fail("axes is empty");
    const int rank = in.rank() + int(axes.size());  // axes name positions of the output
    if (rank > Shape::kMaxRank) {
      context.fail(context.input_text(0) + "; adding " + std::to_string(axes.size()) +
                   " axes would give rank " + std::to_string(rank) + " per sample, more than 5");
    }
    const std::vector<int> added = distinct_axes(context, axes, rank);
    std::vector<int64_t> dims;
    for (int a = 0, from = 0; a < rank; ++a) {
      const bool unit = std::find(added.begin(), added.end(), a) != added.end();
      dims.push_back(unit ? 1 : in[from++]);
    }
    return {checked_shape(context, dims)};
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    reader.layer().params = ExpandDims{read_axes(message.expanddims().axes(), reader)};
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    for (int64_t axis : std::get<ExpandDims>(layer.params).axes) {
      message.mutable_expanddims()->add_axes(axis);
    }
  }

  std::string notes() const override { return "negative axes count from the end of the output"; }
  std::string describe(const Layer& layer) const override {
    return "axes " + axes_text(std::get<ExpandDims>(layer.params).axes);
  }
};

}  // namespace

template <>
const LayerKind& kind_for<ReshapeStatic>() {
  static const ReshapeStaticKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<FlattenTo2D>() {
  static const FlattenTo2DKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<Squeeze>() {
  static const SqueezeKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<ExpandDims>() {
  static const ExpandDimsKind kind;
  return kind;
}

}  // namespace edgetrain
