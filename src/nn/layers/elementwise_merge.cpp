// Element-wise merges of several inputs: Core ML's `add`, `multiply`, `average`, `max` and `min`.
// With one input, add is x + alpha and multiply alpha · x (average, max and min pass it through).
//
// Inputs of one shape (any rank) merge value by value. Inputs of rank 3 and up may also differ as
// Core ML's NeuralNetwork.proto documents these layers' limited broadcasting: add, multiply and
// average take [1, 1, 1], [C, 1, 1], [1, H, W] and [C, H, W] together (C and the (H, W) plane each
// either full or 1), max and min [C, 1, 1] with [C, H, W] (the plane only); leading dimensions are
// batch and must match. The output has the full shape. Anything else is refused when the model is
// built or read.
//
// Backward: add and average spread the gradient (summing over broadcast values), multiply scales it
// by the other inputs' product, max and min route it to the first input holding the winning value
// (ties: the first). Forward keeps nothing; multiply, max and min read their inputs again.
#include <algorithm>
#include <functional>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

enum class Merge { kAdd, kMultiply, kAverage, kMax, kMin };

// Where input j's value for the output's (row, channel, pixel) sits: its strides, 0 along an axis
// it broadcasts.
struct Operand {
  int64_t row = 0, channel = 0, pixel = 0;
};

// The output as (n · rows, channels, pixels) and how each input maps onto it.
struct MergeLayout {
  int64_t rows = 1;  // per sample
  int64_t channels = 1, pixels = 1;
  std::vector<Operand> inputs;
};

MergeLayout merge_layout(const std::vector<Shape>& inputs, const Shape& output) {
  MergeLayout layout;
  const bool same =
      std::all_of(inputs.begin(), inputs.end(), [&](const Shape& s) { return s == output; });
  if (same) {  // one flat run of values per sample, any rank
    layout.pixels = output.count();
    layout.inputs.assign(inputs.size(), Operand{layout.pixels, 0, 1});
    return layout;
  }
  const Chw out = classic_view(output);
  layout.rows = out.outer;
  layout.channels = out.c;
  layout.pixels = out.plane();
  for (const Shape& s : inputs) {
    const Chw in = classic_view(s);
    layout.inputs.push_back({in.count(), in.c == 1 ? 0 : in.plane(), in.plane() == 1 ? 0 : 1});
  }
  return layout;
}

// y[p] = f(y[p], x[p · stride]) over a run of `pixels` values; stride 1, or 0 for a broadcast
// value. Split so the contiguous case vectorises.
template <typename F>
void combine(float* y, const float* x, int64_t stride, int64_t pixels, F f) {
  if (stride == 1) {
    for (int64_t p = 0; p < pixels; ++p) y[p] = f(y[p], x[p]);
  } else {
    for (int64_t p = 0; p < pixels; ++p) y[p] = f(y[p], x[0]);
  }
}

class MergeOp : public Op {
 public:
  MergeOp(Merge merge, MergeLayout layout, float alpha)
      : merge_(merge), layout_(std::move(layout)), alpha_(alpha) {}

  void forward(const OpArgs& a) const override {
    const size_t inputs = layout_.inputs.size();
    const int64_t pixels = layout_.pixels;
    for (int64_t r = 0; r < a.n * layout_.rows; ++r) {
      for (int64_t c = 0; c < layout_.channels; ++c) {
        float* y = a.out[0] + (r * layout_.channels + c) * pixels;
        for (size_t j = 0; j < inputs; ++j) {
          const Operand& o = layout_.inputs[j];
          const float* x = a.in[j] + r * o.row + c * o.channel;
          if (j == 0) {
            combine(y, x, o.pixel, pixels, [](float, float v) { return v; });
            continue;
          }
          switch (merge_) {
            case Merge::kAdd:
            case Merge::kAverage:
              combine(y, x, o.pixel, pixels, std::plus<float>());
              break;
            case Merge::kMultiply:
              combine(y, x, o.pixel, pixels, std::multiplies<float>());
              break;
            case Merge::kMax:
              combine(y, x, o.pixel, pixels, [](float s, float v) { return v > s ? v : s; });
              break;
            case Merge::kMin:
              combine(y, x, o.pixel, pixels, [](float s, float v) { return v < s ? v : s; });
              break;
          }
        }
        if (merge_ == Merge::kAverage) {
          for (int64_t p = 0; p < pixels; ++p) y[p] /= float(inputs);
        } else if (inputs == 1 && merge_ == Merge::kAdd) {
          for (int64_t p = 0; p < pixels; ++p) y[p] += alpha_;
        } else if (inputs == 1 && merge_ == Merge::kMultiply) {
          for (int64_t p = 0; p < pixels; ++p) y[p] *= alpha_;
        }
      }
    }
  }

  void backward(const OpArgs& a) const override {
    const size_t inputs = layout_.inputs.size();
    const int64_t pixels = layout_.pixels;
    for (int64_t r = 0; r < a.n * layout_.rows; ++r) {
      for (int64_t c = 0; c < layout_.channels; ++c) {
        const float* dy = a.dout[0] + (r * layout_.channels + c) * pixels;
        // Input j's value and gradient at the output's (r, c, p).
        auto offset = [&](size_t j, int64_t p) {
          const Operand& o = layout_.inputs[j];
          return r * o.row + c * o.channel + p * o.pixel;
        };
        for (int64_t p = 0; p < pixels; ++p) {
          if (merge_ == Merge::kMax || merge_ == Merge::kMin) {
            size_t winner = 0;
            float best = a.in[0][offset(0, p)];
            for (size_t j = 1; j < inputs; ++j) {
              const float v = a.in[j][offset(j, p)];
              if (merge_ == Merge::kMax ? v > best : v < best) {
                best = v;
                winner = j;
              }
            }
            if (a.din[winner]) a.din[winner][offset(winner, p)] += dy[p];
            continue;
          }
          for (size_t j = 0; j < inputs; ++j) {
            if (!a.din[j]) continue;
            a.din[j][offset(j, p)] += dy[p] * factor(a, j, [&](size_t m) { return offset(m, p); });
          }
        }
      }
    }
  }
  bool backward_reads_output() const override { return false; }

 private:
  // ∂y/∂x_j for add, average and multiply; `at(m)` is input m's offset.
  template <typename At>
  float factor(const OpArgs& a, size_t j, At at) const {
    const size_t inputs = layout_.inputs.size();
    switch (merge_) {
      case Merge::kAdd:
        return 1.0f;
      case Merge::kAverage:
        return 1.0f / float(inputs);
      case Merge::kMultiply: {
        if (inputs == 1) return alpha_;
        float product = 1.0f;
        for (size_t m = 0; m < inputs; ++m) {
          if (m != j) product *= a.in[m][at(m)];
        }
        return product;
      }
      default:
        return 0.0f;
    }
  }

  Merge merge_;
  MergeLayout layout_;
  float alpha_;
};

// The output shape: the inputs' own when all agree, else the broadcast of their (C, H, W) views.
Shape merged_shape(const LayerContext& context, bool broadcasts_channels) {
  const std::vector<Shape>& in = context.inputs;
  if (std::all_of(in.begin(), in.end(), [&](const Shape& s) { return s == in[0]; })) return in[0];
  const std::string allowed =
      broadcasts_channels
          ? "inputs of one shape, or of rank 3 and up whose C and (H, W) are each the full size "
            "or 1 ([1, 1, 1], [C, 1, 1], [1, H, W] with [C, H, W], as Core ML documents)"
          : "inputs of one shape, or of rank 3 and up whose (H, W) is the full size or (1, 1) "
            "([C, 1, 1] with [C, H, W], as Core ML documents)";
  const std::string kind = layer_type_name(context.layer);
  Shape out = in[0];
  const int rank = out.rank();
  for (size_t i = 1; i < in.size(); ++i) {
    // Below rank 3 there is no (C, H, W) to broadcast: the first input unlike input 0 is at fault.
    if ((in[i].rank() != rank || rank < 3) && !(in[i] == in[0])) {
      context.fail(context.input_text(i) + " but " + context.input_text(0) + "; " + kind +
                   " takes " + allowed);
    }
  }
  for (const Shape& s : in) {
    for (int d = rank - 3; d < rank; ++d) out[d] = std::max(out[d], s[d]);
  }
  for (size_t i = 0; i < in.size(); ++i) {
    const Shape& s = in[i];
    bool fits = true;
    for (int d = 0; d < rank - 3; ++d) fits = fits && s[d] == out[d];
    const int c = rank - 3, h = rank - 2, w = rank - 1;
    fits = fits && (s[c] == out[c] || (broadcasts_channels && s[c] == 1));
    fits = fits && ((s[h] == out[h] && s[w] == out[w]) || (s[h] == 1 && s[w] == 1));
    if (!fits) {
      context.fail(context.input_text(i) + ", which does not broadcast to " + out.text() + "; " +
                   kind + " takes " + allowed);
    }
  }
  return out;
}

class ElementwiseMergeKind : public LayerKind {
 public:
  int max_inputs() const override { return -1; }
  std::vector<Shape> infer(const LayerContext& context) const override {
    return {merged_shape(context, merge() != Merge::kMax && merge() != Merge::kMin)};
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    return std::make_unique<MergeOp>(merge(), merge_layout(c.inputs, c.outputs[0]), alpha(c.layer));
  }

 protected:
  virtual Merge merge() const = 0;
  virtual float alpha(const Layer&) const { return 0.0f; }
  // "sum of 3 inputs"
  static std::string of_inputs(const char* what, const Layer& layer) {
    return std::string(what) + " of " + std::to_string(layer.inputs.size()) + " inputs";
  }
};

class AddKind : public ElementwiseMergeKind {
 public:
  const char* name() const override { return "add"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kAdd; }
  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    reader.layer().params = Add{message.add().alpha()};
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    message.mutable_add()->set_alpha(std::get<Add>(layer.params).alpha);
  }
  std::string describe(const Layer& layer) const override {
    if (layer.inputs.size() == 1) return "x + " + number_text(alpha(layer));
    return of_inputs("sum", layer);
  }

 private:
  Merge merge() const override { return Merge::kAdd; }
  float alpha(const Layer& layer) const override { return std::get<Add>(layer.params).alpha; }
};

class MultiplyKind : public ElementwiseMergeKind {
 public:
  const char* name() const override { return "multiply"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kMultiply; }
  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    reader.layer().params = Multiply{message.multiply().alpha()};
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    message.mutable_multiply()->set_alpha(std::get<Multiply>(layer.params).alpha);
  }
  std::string describe(const Layer& layer) const override {
    if (layer.inputs.size() == 1) return number_text(alpha(layer)) + " * x";
    return of_inputs("product", layer);
  }

 private:
  Merge merge() const override { return Merge::kMultiply; }
  float alpha(const Layer& layer) const override { return std::get<Multiply>(layer.params).alpha; }
};

class AverageKind : public ElementwiseMergeKind {
 public:
  const char* name() const override { return "average"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kAverage; }
  void read(const spec::NeuralNetworkLayer&, LayerReader& reader) const override {
    reader.layer().params = Average{};
  }
  void write(const Model&, const Layer&, spec::NeuralNetworkLayer& message) const override {
    message.mutable_average();
  }
  std::string describe(const Layer& layer) const override { return of_inputs("mean", layer); }

 private:
  Merge merge() const override { return Merge::kAverage; }
};

class MaxKind : public ElementwiseMergeKind {
 public:
  const char* name() const override { return "max"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kMax; }
  void read(const spec::NeuralNetworkLayer&, LayerReader& reader) const override {
    reader.layer().params = Max{};
  }
  void write(const Model&, const Layer&, spec::NeuralNetworkLayer& message) const override {
    message.mutable_max();
  }
  std::string describe(const Layer& layer) const override { return of_inputs("maximum", layer); }

 private:
  Merge merge() const override { return Merge::kMax; }
};

class MinKind : public ElementwiseMergeKind {
 public:
  const char* name() const override { return "min"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kMin; }
  void read(const spec::NeuralNetworkLayer&, LayerReader& reader) const override {
    reader.layer().params = Min{};
  }
  void write(const Model&, const Layer&, spec::NeuralNetworkLayer& message) const override {
    message.mutable_min();
  }
  std::string describe(const Layer& layer) const override { return of_inputs("minimum", layer); }

 private:
  Merge merge() const override { return Merge::kMin; }
};

}  // namespace

template <>
const LayerKind& kind_for<Add>() {
  static const AddKind kind;
  return kind;
}
template <>
const LayerKind& kind_for<Multiply>() {
  static const MultiplyKind kind;
  return kind;
}
template <>
const LayerKind& kind_for<Average>() {
  static const AverageKind kind;
  return kind;
}
template <>
const LayerKind& kind_for<Max>() {
  static const MaxKind kind;
  return kind;
}
template <>
const LayerKind& kind_for<Min>() {
  static const MinKind kind;
  return kind;
}

}  // namespace edgetrain
