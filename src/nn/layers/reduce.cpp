// Reductions: Core ML's classic `reduce` (over C, H, W, HW or CHW, the output keeping the input's
// rank with 1 on the reduced axes, leading dimensions as batch) and the ND reductions of spec 4+
// (reduceSum, reduceMean, reduceMax, reduceMin, reduceProd, reduceL1, reduceL2, reduceLogSum,
// reduceSumSquare, reduceLogSumExp: Core ML's axes on the whole tensor, keepDims, reduceAll). All
// run ops/reduce.h; backward reads the forward input and output. The classic argmax has no
// gradient.
#include "ops/reduce.h"

#include <algorithm>
#include <cmath>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/nd_axis.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

class ReduceOp : public Op {
 public:
  ReduceOp(ops::ReduceGeometry geometry, ops::Reduction reduction, float epsilon)
      : geometry_(std::move(geometry)), reduction_(reduction), epsilon_(epsilon) {}
  void forward(const OpArgs& a) const override {
    ops::reduce_forward(a.out[0], a.in[0], a.n, geometry_, reduction_, epsilon_);
  }
  void backward(const OpArgs& a) const override {
    ops::reduce_backward(a.din[0], a.dout[0], a.out[0], a.in[0], a.n, geometry_, reduction_,
                         epsilon_);
  }

 private:
  ops::ReduceGeometry geometry_;
  ops::Reduction reduction_;
  float epsilon_;
};

std::vector<int> dims_of(const Shape& shape) {
  std::vector<int> dims;
  for (int a = 0; a < shape.rank(); ++a) dims.push_back(shape[a]);
  return dims;
}

// ---- reduce (classic) ---------------------------------------------------------------------------

constexpr const char* kClassicNames[] = {"sum", "average", "product", "log-sum", "sum of squares",
                                         "L1",  "L2",      "max",     "min",     "argmax"};
static_assert(std::size(kClassicNames) == size_t(ReduceOperation::kArgMax) + 1);
constexpr const char* kAxesNames[] = {"CHW", "HW", "C", "H", "W"};

ops::Reduction classic_reduction(ReduceOperation operation) {
  switch (operation) {
    case ReduceOperation::kSum:
      return ops::Reduction::kSum;
    case ReduceOperation::kAverage:
      return ops::Reduction::kMean;
    case ReduceOperation::kProduct:
      return ops::Reduction::kProduct;
    case ReduceOperation::kLogSum:
      return ops::Reduction::kSumLog;
    case ReduceOperation::kSumSquare:
      return ops::Reduction::kSumSquare;
    case ReduceOperation::kL1:
      return ops::Reduction::kL1;
    case ReduceOperation::kL2:
      return ops::Reduction::kL2;
    case ReduceOperation::kMax:
      return ops::Reduction::kMax;
    case ReduceOperation::kMin:
      return ops::Reduction::kMin;
    case ReduceOperation::kArgMax:
      return ops::Reduction::kArgMax;
  }
  return ops::Reduction::kSum;
}

// The last axes a classic reduce takes: (first from the end, how many).
std::pair<int, int> classic_axes(ReduceAxes axes) {
  switch (axes) {
    case ReduceAxes::kCHW:
      return {3, 3};
    case ReduceAxes::kHW:
      return {2, 2};
    case ReduceAxes::kC:
      return {3, 1};
    case ReduceAxes::kH:
      return {2, 1};
    case ReduceAxes::kW:
      return {1, 1};
  }
  return {1, 1};
}

std::vector<bool> classic_reduced(const Reduce& reduce, int rank) {
  const auto [from_end, count] = classic_axes(reduce.axes);
  std::vector<bool> reduced(size_t(rank), false);
  for (int a = rank - from_end; a < rank - from_end + count; ++a) reduced[size_t(a)] = true;
  return reduced;
}

class ReduceKind : public LayerKind {
 public:
  const char* name() const override { return "reduce"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kReduce; }
  bool differentiable(const Layer& layer) const override {
    return std::get<Reduce>(layer.params).operation != ReduceOperation::kArgMax;
  }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& reduce = std::get<Reduce>(context.layer.params);
    const Shape& in = context.inputs[0];
    const auto [from_end, count] = classic_axes(reduce.axes);
    const std::string axes = kAxesNames[int(reduce.axes)];
    if (in.rank() < from_end) {
      context.fail(context.input_text(0) + ", but reducing over " + axes + " (axis -" +
                   std::to_string(from_end) + ") needs rank " + std::to_string(from_end) +
                   " or more");
    }
    if (reduce.operation == ReduceOperation::kArgMax && count > 1) {
      context.fail("argmax reduces over one axis (C, H or W), not " + axes);
    }
    if (!(reduce.epsilon > 0.0f) || !std::isfinite(reduce.epsilon)) {
      context.fail("epsilon " + number_text(reduce.epsilon) + " must be positive");
    }
    Shape out = in;
    const std::vector<bool> reduced = classic_reduced(reduce, in.rank());
    for (int a = 0; a < in.rank(); ++a) {
      if (reduced[size_t(a)]) out[a] = 1;
    }
    return {out};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& reduce = std::get<Reduce>(c.layer.params);
    return std::make_unique<ReduceOp>(
        ops::ReduceGeometry::over(dims_of(c.inputs[0]),
                                  classic_reduced(reduce, c.inputs[0].rank())),
        classic_reduction(reduce.operation), reduce.epsilon);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::ReduceLayerParams& p = message.reduce();
    if (p.mode() < spec::ReduceLayerParams::SUM || p.mode() > spec::ReduceLayerParams::ARGMAX) {
      reader.fail("mode " + std::to_string(p.mode()) + " is not a reduction of Core ML's");
    }
    if (p.axis() < spec::ReduceLayerParams::CHW || p.axis() > spec::ReduceLayerParams::W) {
      reader.fail("axis " + std::to_string(p.axis()) + " is not one of CHW, HW, C, H, W");
    }
    Reduce reduce{ReduceOperation(p.mode()), ReduceAxes(p.axis())};
    if (p.epsilon() != 0.0f) reduce.epsilon = p.epsilon();
    reader.layer().params = reduce;
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& reduce = std::get<Reduce>(layer.params);
    spec::ReduceLayerParams* p = message.mutable_reduce();
    p->set_mode(spec::ReduceLayerParams::ReduceOperation(reduce.operation));
    p->set_axis(spec::ReduceLayerParams::ReduceAxis(reduce.axes));
    p->set_epsilon(reduce.epsilon);
  }

  std::string notes() const override {
    return "sum, average, product, log-sum, sum of squares, L1, L2, max, min over CHW, HW, C, H "
           "or W; argmax over C, H or W (no gradient)";
  }
  std::string describe(const Layer& layer) const override {
    const auto& reduce = std::get<Reduce>(layer.params);
    return std::string(kClassicNames[int(reduce.operation)]) + " over " +
           kAxesNames[int(reduce.axes)];
  }
};

// ---- The ND reductions --------------------------------------------------------------------------

// Per ND reduction: Core ML's name, field and message.
template <typename Params>
struct ReduceNDTraits;
#define EDGETRAIN_REDUCE_ND(Type, field_name, Field, accessor, Message)          \
  template <>                                                                    \
  struct ReduceNDTraits<Type> {                                                  \
    static constexpr const char* name = field_name;                              \
    static constexpr int field = spec::NeuralNetworkLayer::Field;                \
    static const spec::Message& message(const spec::NeuralNetworkLayer& layer) { \
      return layer.accessor();                                                   \
    }                                                                            \
    static spec::Message* mutable_message(spec::NeuralNetworkLayer& layer) {     \
      return layer.mutable_##accessor();                                         \
    }                                                                            \
  };
EDGETRAIN_REDUCE_ND(ReduceSum, "reduceSum", kReduceSum, reducesum, ReduceSumLayerParams)
EDGETRAIN_REDUCE_ND(ReduceMean, "reduceMean", kReduceMean, reducemean, ReduceMeanLayerParams)
EDGETRAIN_REDUCE_ND(ReduceMax, "reduceMax", kReduceMax, reducemax, ReduceMaxLayerParams)
EDGETRAIN_REDUCE_ND(ReduceMin, "reduceMin", kReduceMin, reducemin, ReduceMinLayerParams)
EDGETRAIN_REDUCE_ND(ReduceProd, "reduceProd", kReduceProd, reduceprod, ReduceProdLayerParams)
EDGETRAIN_REDUCE_ND(ReduceL1, "reduceL1", kReduceL1, reducel1, ReduceL1LayerParams)
EDGETRAIN_REDUCE_ND(ReduceL2, "reduceL2", kReduceL2, reducel2, ReduceL2LayerParams)
EDGETRAIN_REDUCE_ND(ReduceLogSum, "reduceLogSum", kReduceLogSum, reducelogsum,
                    ReduceLogSumLayerParams)
EDGETRAIN_REDUCE_ND(ReduceSumSquare, "reduceSumSquare", kReduceSumSquare, reducesumsquare,
                    ReduceSumSquareLayerParams)
EDGETRAIN_REDUCE_ND(ReduceLogSumExp, "reduceLogSumExp", kReduceLogSumExp, reducelogsumexp,
                    ReduceLogSumExpLayerParams)
#undef EDGETRAIN_REDUCE_ND

ops::Reduction nd_reduction(ReduceNDOperation operation) {
  switch (operation) {
    case ReduceNDOperation::kSum:
      return ops::Reduction::kSum;
    case ReduceNDOperation::kMean:
      return ops::Reduction::kMean;
    case ReduceNDOperation::kMax:
      return ops::Reduction::kMax;
    case ReduceNDOperation::kMin:
      return ops::Reduction::kMin;
    case ReduceNDOperation::kProduct:
      return ops::Reduction::kProduct;
    case ReduceNDOperation::kL1:
      return ops::Reduction::kL1;
    case ReduceNDOperation::kL2:
      return ops::Reduction::kL2;
    case ReduceNDOperation::kLogSum:
      return ops::Reduction::kLogSum;
    case ReduceNDOperation::kSumSquare:
      return ops::Reduction::kSumSquare;
    case ReduceNDOperation::kLogSumExp:
      return ops::Reduction::kLogSumExp;
  }
  return ops::Reduction::kSum;
}

template <typename Params>
class ReduceNDKind : public LayerKind {
  using Traits = ReduceNDTraits<Params>;

 public:
  const char* name() const override { return Traits::name; }
  int coreml_field() const override { return Traits::field; }

  // Which per-sample axes are reduced (the axes already checked).
  static std::vector<bool> reduced_axes(const Model& model, const Params& p, int rank) {
    std::vector<bool> reduced(size_t(rank), p.reduce_all);
    if (p.reduce_all) return reduced;
    const int leading = nd_leading_axes(model);
    for (int64_t axis : p.axes)
      reduced[size_t((axis < 0 ? axis + rank + leading : axis) - leading)] = true;
    return reduced;
  }

  // Throws through the context for axes out of range or named twice, or none.
  static void check_axes(const LayerContext& context, const Params& p) {
    if (p.reduce_all) return;
    if (p.axes.empty()) context.fail("axes is empty and reduceAll is not set");
    std::vector<bool> named(size_t(context.inputs[0].rank()), false);
    for (int64_t axis : p.axes) {
      const int at = nd_axis(context, axis, context.inputs[0].rank());
      if (named[size_t(at)]) {
        context.fail("axes " + shape_string(p.axes) + " names axis " + std::to_string(axis) +
                     " twice");
      }
      named[size_t(at)] = true;
    }
  }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& p = std::get<Params>(context.layer.params);
    const Shape& in = context.inputs[0];
    check_axes(context, p);
    const std::vector<bool> reduced = reduced_axes(context.model, p, in.rank());
    std::vector<int64_t> dims;
    for (int a = 0; a < in.rank(); ++a) {
      if (!reduced[size_t(a)]) {
        dims.push_back(in[a]);
      } else if (p.keep_dims) {
        dims.push_back(1);
      }
    }
    if (dims.empty()) dims.push_back(1);  // Core ML: a rank-1 [1] when every axis goes
    return {Shape(dims)};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& p = std::get<Params>(c.layer.params);
    return std::make_unique<ReduceOp>(
        ops::ReduceGeometry::over(dims_of(c.inputs[0]),
                                  reduced_axes(c.model, p, c.inputs[0].rank())),
        nd_reduction(Params::operation), 0.0f);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const auto& m = Traits::message(message);
    if (m.axes_size() > 2 * Shape::kMaxRank) {
      reader.fail("axes has " + std::to_string(m.axes_size()) + " values");
    }
    Params p;
    for (int64_t axis : m.axes()) p.axes.push_back(reader.checked_signed(axis, -16, 16, "axes"));
    p.keep_dims = m.keepdims();
    p.reduce_all = m.reduceall();
    reader.layer().params = p;
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& p = std::get<Params>(layer.params);
    auto* m = Traits::mutable_message(message);
    for (int64_t axis : p.axes) m->add_axes(axis);
    m->set_keepdims(p.keep_dims);
    m->set_reduceall(p.reduce_all);
  }

  std::string notes() const override {
    return "axes or reduceAll; keepDims or not (a rank-1 [1] when no axis is left)";
  }
  std::string describe(const Layer& layer) const override {
    const auto& p = std::get<Params>(layer.params);
    return std::string(p.reduce_all ? "over every axis" : "over axes " + shape_string(p.axes)) +
           (p.keep_dims ? ", kept as 1" : "");
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Reduce>() {
  static const ReduceKind kind;
  return kind;
}

#define EDGETRAIN_REDUCE_ND_KIND(Type)    \
  template <>                             \
  const LayerKind& kind_for<Type>() {     \
    static const ReduceNDKind<Type> kind; \
    return kind;                          \
  }
EDGETRAIN_REDUCE_ND_KIND(ReduceSum)
EDGETRAIN_REDUCE_ND_KIND(ReduceMean)
EDGETRAIN_REDUCE_ND_KIND(ReduceMax)
EDGETRAIN_REDUCE_ND_KIND(ReduceMin)
EDGETRAIN_REDUCE_ND_KIND(ReduceProd)
EDGETRAIN_REDUCE_ND_KIND(ReduceL1)
EDGETRAIN_REDUCE_ND_KIND(ReduceL2)
EDGETRAIN_REDUCE_ND_KIND(ReduceLogSum)
EDGETRAIN_REDUCE_ND_KIND(ReduceSumSquare)
EDGETRAIN_REDUCE_ND_KIND(ReduceLogSumExp)
#undef EDGETRAIN_REDUCE_ND_KIND

}  // namespace edgetrain
