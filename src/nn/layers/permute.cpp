// Permute (Core ML's classic `permute`): reorders the axes (Seq, C, H, W) of Core ML's rank-5
// [Seq, Batch, C, H, W], keeping Batch in place; output axis k is input axis axes[k]. Per sample:
// (C, H, W) has Seq 1, [Seq, C, H, W] names it, and a rank-5 blob (exact mapping) is the whole
// [Seq, Batch, C, H, W]. Any permutation runs, also those that move Seq: the result is
// [Seq', C', H', W'], or (C', H', W') when Seq' is 1 and the input had no sequence axis.
// Keeps nothing for backward; the identity keeps the bytes (the planner aliases it).
#include <algorithm>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "nn/layers/move_ops.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

// The input as (Seq, Batch, C, H, W).
std::array<int, 5> sequence_view(const Shape& in) {
  if (in.rank() == 5) return {in[0], in[1], in[2], in[3], in[4]};
  if (in.rank() == 4) return {in[0], 1, in[1], in[2], in[3]};
  const Chw v = classic_view(in);
  return {1, 1, v.c, v.h, v.w};
}

// Axis i of (Seq, C, H, W) in (Seq, Batch, C, H, W).
int with_batch(int axis) {
  return axis == 0 ? 0 : axis + 1;
}

bool is_permutation(const std::array<int, 4>& axes) {
  std::array<int, 4> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  return sorted == std::array<int, 4>{0, 1, 2, 3};
}

std::string axes_text(const std::array<int, 4>& axes) {
  return shape_string({axes[0], axes[1], axes[2], axes[3]});
}

class PermuteKind : public LayerKind {
 public:
  const char* name() const override { return "permute"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kPermute; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& axes = std::get<Permute>(context.layer.params).axes;
    if (!is_permutation(axes)) {
      context.fail("axis " + axes_text(axes) + " is not a permutation of [0, 1, 2, 3]");
    }
    const Shape& in = context.inputs[0];
    classic_view(context);  // refuses rank 2
    const std::array<int, 5> v = sequence_view(in);
    std::array<int, 4> out;
    for (size_t k = 0; k < 4; ++k) out[k] = v[size_t(with_batch(axes[k]))];
    if (in.rank() == 5) return {Shape{out[0], v[1], out[1], out[2], out[3]}};
    if (in.rank() <= 3 && out[0] == 1) return {Shape{out[1], out[2], out[3]}};
    return {Shape{out[0], out[1], out[2], out[3]}};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& axes = std::get<Permute>(c.layer.params).axes;
    const std::array<int, 5> v = sequence_view(c.inputs[0]);
    const std::vector<int> dims(v.begin(), v.end());
    const std::vector<int> perm{with_batch(axes[0]), 1, with_batch(axes[1]), with_batch(axes[2]),
                                with_batch(axes[3])};
    return std::make_unique<GatherOp>(ops::AxisGather::transpose(dims, perm), 0.0f,
                                      axes == std::array<int, 4>{0, 1, 2, 3});
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const auto& axis = message.permute().axis();
    Permute permute;
    if (axis.size() != 0 && axis.size() != 4) {  // unset means the identity (Apple's doc)
      reader.fail("axis has " + std::to_string(axis.size()) +
                  " values; Core ML's permute takes 4 (a permutation of [0, 1, 2, 3])");
    }
    for (int k = 0; k < axis.size(); ++k)
      permute.axes[size_t(k)] = reader.checked(axis[k], 3, "axis");
    if (!is_permutation(permute.axes)) {
      reader.fail("axis " + axes_text(permute.axes) + " is not a permutation of [0, 1, 2, 3]");
    }
    reader.layer().params = permute;
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    spec::PermuteLayerParams* p = message.mutable_permute();
    for (int axis : std::get<Permute>(layer.params).axes) p->add_axis(uint64_t(axis));
  }

  std::string notes() const override {
    return "any permutation of (Seq, C, H, W), also those moving Seq";
  }
  std::string describe(const Layer& layer) const override {
    return "axes " + axes_text(std::get<Permute>(layer.params).axes) + " of (Seq, C, H, W)";
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Permute>() {
  static const PermuteKind kind;
  return kind;
}

}  // namespace edgetrain
