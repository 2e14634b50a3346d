// Layers that take part of their input: Core ML's `crop` (of the (H, W) plane, by border amounts or
// to a second input's size at an offset), `slice` (classic, along C, H or W), `sliceStatic` (ND,
// every axis, Python's slicing with masks and squeezes) and `split` (the channel axis cut into
// equal parts, one per output). The first three are separable gathers (ops/layout.h:
// AxisGather::slice); split copies blocks. None keeps anything for backward, which adds each
// output's gradient into the element it came from.
#include <algorithm>
#include <optional>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "nn/layers/move_ops.h"
#include "nn/layers/nd_axis.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

std::vector<int> dims_of(const Shape& shape) {
  std::vector<int> dims;
  for (int a = 0; a < shape.rank(); ++a) dims.push_back(shape[a]);
  return dims;
}

// A window of `in`: per axis, count[a] values from start[a] in steps of step[a].
struct Window {
  std::vector<int> start, step, count;
  explicit Window(const Shape& in)
      : start(size_t(in.rank()), 0), step(size_t(in.rank()), 1), count(dims_of(in)) {}
  std::unique_ptr<Op> op(const Shape& in) const {
    const bool whole = std::all_of(start.begin(), start.end(), [](int s) { return s == 0; }) &&
                       std::all_of(step.begin(), step.end(), [](int s) { return s == 1; }) &&
                       count == dims_of(in);
    return std::make_unique<GatherOp>(ops::AxisGather::slice(dims_of(in), start, step, count), 0.0f,
                                      whole);
  }
};

// Python's s[begin:end:step] on an axis of `size`: (first index, count). An absent bound is
// Python's None; negative bounds count from the end; bounds beyond the axis are clamped.
std::pair<int64_t, int64_t> python_slice(int64_t size, std::optional<int64_t> begin,
                                         std::optional<int64_t> end, int64_t step) {
  step = std::clamp(step, -size, size);  // a longer step takes one value all the same
  auto bound = [&](std::optional<int64_t> value, int64_t low, int64_t high, int64_t none) {
    if (!value) return none;
    const int64_t at = *value < 0 ? *value + size : *value;
    return std::clamp(at, low, high);
  };
  if (step > 0) {
    const int64_t first = bound(begin, 0, size, 0), stop = bound(end, 0, size, size);
    return {first, stop > first ? (stop - first + step - 1) / step : 0};
  }
  const int64_t first = bound(begin, -1, size - 1, size - 1), stop = bound(end, -1, size - 1, -1);
  return {first, first > stop ? (first - stop - step - 1) / -step : 0};
}

// ---- crop ---------------------------------------------------------------------------------------

class CropKind : public LayerKind {
 public:
  const char* name() const override { return "crop"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kCrop; }
  int max_inputs() const override { return 2; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    check_ranks(context);
    return {output(context)};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& crop = std::get<Crop>(c.layer.params);
    const Shape& in = c.inputs[0];
    Window w(in);
    const int h = in.rank() - 2;
    const bool amounts = c.inputs.size() == 1;
    w.start[size_t(h)] = amounts ? crop.amounts[0] : crop.offset[0];
    w.start[size_t(h + 1)] = amounts ? crop.amounts[2] : crop.offset[1];
    w.count[size_t(h)] = c.outputs[0][h];
    w.count[size_t(h + 1)] = c.outputs[0][h + 1];
    return w.op(in);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::CropLayerParams& p = message.crop();
    Crop crop;
    // Apple's validator: one input takes exactly two border amounts, two inputs two offsets.
    if (reader.layer().inputs.size() == 2) {
      if (p.offset_size() != 2) {
        reader.fail("offset has " + std::to_string(p.offset_size()) +
                    " values; with two inputs it needs two ([height, width])");
      }
      crop.offset = {reader.checked(p.offset(0), uint64_t(1) << 28, "offset"),
                     reader.checked(p.offset(1), uint64_t(1) << 28, "offset")};
    } else {
      if (p.cropamounts().borderamounts_size() != 2) {
        reader.fail("cropAmounts has " + std::to_string(p.cropamounts().borderamounts_size()) +
                    " border amounts; with one input it needs two ([height, width])");
      }
      spec::ValidPadding padding;
      *padding.mutable_paddingamounts() = p.cropamounts();
      reader.valid_padding(padding, crop.amounts);
    }
    reader.layer().params = crop;
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& crop = std::get<Crop>(layer.params);
    spec::CropLayerParams* p = message.mutable_crop();
    if (layer.inputs.size() == 2) {
      p->add_offset(uint64_t(crop.offset[0]));
      p->add_offset(uint64_t(crop.offset[1]));
      return;
    }
    auto* borders = p->mutable_cropamounts()->mutable_borderamounts();
    for (int axis = 0; axis < 2; ++axis) {
      auto* edges = borders->Add();
      edges->set_startedgesize(uint64_t(crop.amounts[size_t(2 * axis)]));
      edges->set_endedgesize(uint64_t(crop.amounts[size_t(2 * axis + 1)]));
    }
  }

  std::string notes() const override {
    return "border amounts (one input), or the second input's (H, W) at an offset";
  }
  std::string describe(const Layer& layer) const override {
    const auto& crop = std::get<Crop>(layer.params);
    if (layer.inputs.size() == 2) {
      return "to '" + layer.inputs[1] + "''s size at (" + std::to_string(crop.offset[0]) + ", " +
             std::to_string(crop.offset[1]) + ")";
    }
    return "top " + std::to_string(crop.amounts[0]) + ", bottom " +
           std::to_string(crop.amounts[1]) + ", left " + std::to_string(crop.amounts[2]) +
           ", right " + std::to_string(crop.amounts[3]);
  }

 private:
  static void check_ranks(const LayerContext& context) {
    const Shape& in = context.inputs[0];
    if (in.rank() < 3) {
      context.fail(context.input_text(0) +
                   ", but crop cuts (H, W) of (C, H, W): it needs rank 3 or more");
    }
    if (context.inputs.size() == 2 && context.inputs[1].rank() != in.rank()) {
      context.fail(context.input_text(0) + " and " + context.input_text(1) +
                   ": crop's two inputs have one rank");
    }
  }

  static Shape output(const LayerContext& context) {
    const auto& crop = std::get<Crop>(context.layer.params);
    const Shape& in = context.inputs[0];
    const int h = in.rank() - 2;
    Shape out = in;
    for (int axis = 0; axis < 2; ++axis) {
      const int size = in[h + axis];
      const char* which = axis == 0 ? "height" : "width";
      if (context.inputs.size() == 1) {
        const int64_t before = crop.amounts[size_t(2 * axis)];
        const int64_t after = crop.amounts[size_t(2 * axis + 1)];
        if (before < 0 || after < 0 || before + after >= size) {
          context.fail(context.input_text(0) + ", but cropping " + std::to_string(before) +
                       " and " + std::to_string(after) + " off its " + which + " " +
                       std::to_string(size) + " leaves nothing");
        }
        out[h + axis] = int(size - before - after);
      } else {
        const int64_t offset = crop.offset[size_t(axis)];
        const int wanted = context.inputs[1][h + axis];
        if (offset < 0 || offset + wanted > size) {
          context.fail(context.input_text(0) + ", so a window of " + context.input_text(1) +
                       " at " + which + " offset " + std::to_string(offset) +
                       " does not fit inside it");
        }
        out[h + axis] = wanted;
      }
    }
    return out;
  }
};

// ---- slice (classic) ----------------------------------------------------------------------------

constexpr const char* kSliceAxisNames[] = {"channel", "height", "width"};

class SliceKind : public LayerKind {
 public:
  const char* name() const override { return "slice"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kSlice; }

  // The per-sample axis and its window; throws through the context.
  static std::pair<int, std::pair<int64_t, int64_t>> resolve(const LayerContext& context) {
    const auto& slice = std::get<Slice>(context.layer.params);
    const Shape& in = context.inputs[0];
    const int from_end = 3 - int(slice.axis);  // C: -3, H: -2, W: -1
    if (in.rank() < from_end) {
      context.fail(context.input_text(0) + ", but slicing along " +
                   kSliceAxisNames[int(slice.axis)] + " (axis -" + std::to_string(from_end) +
                   ") needs rank " + std::to_string(from_end) + " or more");
    }
    if (slice.stride < 1)
      context.fail("stride " + std::to_string(slice.stride) + " must be positive");
    const int axis = in.rank() - from_end;
    const auto window = python_slice(in[axis], slice.start_index, slice.end_index, slice.stride);
    if (window.second == 0) {
      context.fail(context.input_text(0) + ", and [" + std::to_string(slice.start_index) + ":" +
                   std::to_string(slice.end_index) + ":" + std::to_string(slice.stride) +
                   "] of its " + kSliceAxisNames[int(slice.axis)] + " axis (" +
                   std::to_string(in[axis]) + " values) is empty");
    }
    return {axis, window};
  }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto [axis, window] = resolve(context);
    Shape out = context.inputs[0];
    out[axis] = int(window.second);
    return {out};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& slice = std::get<Slice>(c.layer.params);
    const Shape& in = c.inputs[0];
    const int axis = in.rank() - (3 - int(slice.axis));
    const auto [first, count] =
        python_slice(in[axis], slice.start_index, slice.end_index, slice.stride);
    Window w(in);
    w.start[size_t(axis)] = int(first);
    w.step[size_t(axis)] = slice.stride;
    w.count[size_t(axis)] = int(count);
    return w.op(in);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::SliceLayerParams& p = message.slice();
    if (p.axis() < spec::SliceLayerParams::CHANNEL_AXIS ||
        p.axis() > spec::SliceLayerParams::WIDTH_AXIS) {
      reader.fail("axis " + std::to_string(p.axis()) + " is not CHANNEL, HEIGHT or WIDTH");
    }
    if (p.stride() < 1) reader.fail("stride 0 must be positive");
    reader.layer().params =
        Slice{p.startindex(), p.endindex(), reader.checked(p.stride(), uint64_t(1) << 28, "stride"),
              SliceAxis(p.axis())};
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& slice = std::get<Slice>(layer.params);
    spec::SliceLayerParams* p = message.mutable_slice();
    p->set_startindex(slice.start_index);
    p->set_endindex(slice.end_index);
    p->set_stride(uint64_t(slice.stride));
    p->set_axis(spec::SliceLayerParams::SliceAxis(slice.axis));
  }

  std::string notes() const override {
    return "along C, H or W with Python's [start:end:stride] (negative indices from the end)";
  }
  std::string describe(const Layer& layer) const override {
    const auto& slice = std::get<Slice>(layer.params);
    return std::string(kSliceAxisNames[int(slice.axis)]) + " [" +
           std::to_string(slice.start_index) + ":" + std::to_string(slice.end_index) + ":" +
           std::to_string(slice.stride) + "]";
  }
};

// ---- sliceStatic --------------------------------------------------------------------------------

class SliceStaticKind : public LayerKind {
 public:
  const char* name() const override { return "sliceStatic"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kSliceStatic; }

  // The window over the per-sample axes and which of them are squeezed; throws through the context.
  static std::pair<Window, std::vector<bool>> resolve(const LayerContext& context) {
    const auto& p = std::get<SliceStatic>(context.layer.params);
    const Shape& in = context.inputs[0];
    const int leading = nd_leading_axes(context.model);
    const size_t rank = size_t(in.rank() + leading);
    if (p.begin_ids.size() != rank || p.end_ids.size() != rank || p.strides.size() != rank ||
        p.begin_masks.size() != rank || p.end_masks.size() != rank ||
        (!p.squeeze_masks.empty() && p.squeeze_masks.size() != rank)) {
      context.fail(context.input_text(0) + ", a rank-" + std::to_string(rank) +
                   " tensor for Core ML" +
                   (leading ? " (the rank-5 mapping adds Seq and Batch)" : "") +
                   ", but beginIds, endIds, strides, beginMasks and endMasks (and squeezeMasks "
                   "when set) need one value per axis");
    }
    Window w(in);
    std::vector<bool> squeezed(size_t(in.rank()), false);
    for (size_t a = 0; a < rank; ++a) {
      const bool squeeze = !p.squeeze_masks.empty() && p.squeeze_masks[a];
      const int64_t size = a < size_t(leading) ? 1 : in[int(a) - leading];
      const std::string axis = "axis " + std::to_string(a);
      if (p.strides[a] == 0) context.fail(axis + ": stride 0");
      std::pair<int64_t, int64_t> window;
      if (squeeze) {
        const int64_t at = p.begin_ids[a] < 0 ? p.begin_ids[a] + size : p.begin_ids[a];
        if (at < 0 || at >= size) {
          context.fail(context.input_text(0) + ", so " + axis + " has " + std::to_string(size) +
                       " values and its squeezed index " + std::to_string(p.begin_ids[a]) +
                       " is outside it");
        }
        window = {at, 1};
      } else {
        window = python_slice(
            size, p.begin_masks[a] ? std::nullopt : std::optional<int64_t>(p.begin_ids[a]),
            p.end_masks[a] ? std::nullopt : std::optional<int64_t>(p.end_ids[a]), p.strides[a]);
      }
      if (window.second == 0) {
        context.fail(context.input_text(0) + ", and the slice of " + axis + " is empty");
      }
      if (a < size_t(leading)) {
        if (squeeze) {
          context.fail(axis + " is Core ML's " + (a == 0 ? "sequence" : "batch") +
                       " axis under the rank-5 mapping, which cannot be squeezed");
        }
        continue;  // all of Seq or Batch: one value
      }
      const size_t at = a - size_t(leading);
      w.start[at] = int(window.first);
      w.step[at] = int(std::clamp<int64_t>(p.strides[a], -size, size));
      w.count[at] = int(window.second);
      squeezed[at] = squeeze;
    }
    return {w, squeezed};
  }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto [window, squeezed] = resolve(context);
    std::vector<int64_t> dims;
    for (size_t a = 0; a < squeezed.size(); ++a) {
      if (!squeezed[a]) dims.push_back(window.count[a]);
    }
    if (dims.empty()) dims.push_back(1);  // every axis squeezed: a rank-1 [1]
    return {Shape(dims)};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    // Checked when the shapes were inferred: resolving again cannot fail.
    const LayerContext context{c.model, c.layer, 0, c.inputs, {"its input"}};
    return resolve(context).first.op(c.inputs[0]);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::SliceStaticLayerParams& p = message.slicestatic();
    const int most = Shape::kMaxRank + 2;
    if (p.beginids_size() > most || p.endids_size() > most || p.strides_size() > most ||
        p.beginmasks_size() > most || p.endmasks_size() > most || p.squeezemasks_size() > most) {
      reader.fail("holds more than " + std::to_string(most) + " values per field");
    }
    SliceStatic slice;
    slice.begin_ids.assign(p.beginids().begin(), p.beginids().end());
    slice.end_ids.assign(p.endids().begin(), p.endids().end());
    slice.strides.assign(p.strides().begin(), p.strides().end());
    slice.begin_masks.assign(p.beginmasks().begin(), p.beginmasks().end());
    slice.end_masks.assign(p.endmasks().begin(), p.endmasks().end());
    slice.squeeze_masks.assign(p.squeezemasks().begin(), p.squeezemasks().end());
    reader.layer().params = slice;
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& slice = std::get<SliceStatic>(layer.params);
    spec::SliceStaticLayerParams* p = message.mutable_slicestatic();
    for (int64_t v : slice.begin_ids) p->add_beginids(v);
    for (int64_t v : slice.end_ids) p->add_endids(v);
    for (int64_t v : slice.strides) p->add_strides(v);
    for (bool v : slice.begin_masks) p->add_beginmasks(v);
    for (bool v : slice.end_masks) p->add_endmasks(v);
    for (bool v : slice.squeeze_masks) p->add_squeezemasks(v);
  }

  std::string notes() const override {
    return "every axis, Python's slicing: negative indices and strides, begin and end masks, "
           "squeezeMasks";
  }
  std::string describe(const Layer& layer) const override {
    const auto& slice = std::get<SliceStatic>(layer.params);
    std::string text = "[";
    for (size_t a = 0; a < slice.begin_ids.size(); ++a) {
      if (a) text += ", ";
      if (!slice.squeeze_masks.empty() && slice.squeeze_masks[a]) {
        text += std::to_string(slice.begin_ids[a]);
        continue;
      }
      if (a < slice.begin_masks.size() && !slice.begin_masks[a])
        text += std::to_string(slice.begin_ids[a]);
      text += ":";
      if (a < slice.end_masks.size() && a < slice.end_ids.size() && !slice.end_masks[a]) {
        text += std::to_string(slice.end_ids[a]);
      }
      if (a < slice.strides.size() && slice.strides[a] != 1) {
        text.append(":").append(std::to_string(slice.strides[a]));  // GCC 12 -Wrestrict otherwise
      }
    }
    return text + "]";
  }
};

// ---- split --------------------------------------------------------------------------------------

// Input (rows, parts · block) → output j (rows, block): part j of every row.
class SplitOp : public Op {
 public:
  SplitOp(int64_t rows_per_sample, int64_t block, int parts)
      : rows_per_sample_(rows_per_sample), block_(block), parts_(parts) {}
  void forward(const OpArgs& a) const override {
    const int64_t rows = a.n * rows_per_sample_, row = block_ * parts_;
    for (int j = 0; j < parts_; ++j) {
      for (int64_t r = 0; r < rows; ++r) {
        std::copy_n(a.in[0] + r * row + j * block_, block_, a.out[size_t(j)] + r * block_);
      }
    }
  }
  void backward(const OpArgs& a) const override {
    if (!a.din[0]) return;
    const int64_t rows = a.n * rows_per_sample_, row = block_ * parts_;
    for (int j = 0; j < parts_; ++j) {
      if (!a.dout[size_t(j)]) continue;  // an output nothing downstream differentiates
      for (int64_t r = 0; r < rows; ++r) {
        float* din = a.din[0] + r * row + j * block_;
        const float* dout = a.dout[size_t(j)] + r * block_;
        for (int64_t k = 0; k < block_; ++k) din[k] += dout[k];
      }
    }
  }
  bool backward_reads_output() const override { return false; }

 private:
  int64_t rows_per_sample_, block_;
  int parts_;
};

class SplitKind : public LayerKind {
 public:
  const char* name() const override { return "split"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kSplit; }
  int outputs() const override { return -1; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const int parts = std::get<Split>(context.layer.params).outputs;
    const size_t outputs = context.layer.outputs.size();
    if (outputs < 2 || size_t(parts) != outputs) {
      context.fail("nOutputs is " + std::to_string(parts) + " but the layer names " +
                   std::to_string(outputs) + " outputs; split makes two or more, one per part");
    }
    const Chw in = classic_view(context);
    if (in.c % parts != 0) {
      context.fail(context.input_text(0) + ", whose " + std::to_string(in.c) +
                   " channels (axis -3) do not split into " + std::to_string(parts) +
                   " equal parts");
    }
    Shape out = context.inputs[0];
    out[out.rank() == 1 ? 0 : out.rank() - 3] = in.c / parts;
    return std::vector<Shape>(outputs, out);
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const Chw in = classic_view(c.inputs[0]);
    const int parts = int(c.outputs.size());
    return std::make_unique<SplitOp>(in.outer, int64_t(in.c / parts) * in.plane(), parts);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const uint64_t parts = message.split().noutputs();
    reader.layer().params =
        Split{parts == 0 ? int(reader.layer().outputs.size())
                         : reader.checked(parts, LayerReader::kMaxChannels, "nOutputs")};
  }
  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    message.mutable_split()->set_noutputs(uint64_t(std::get<Split>(layer.params).outputs));
  }

  std::string notes() const override { return "along the channel axis (-3), into equal parts"; }
  std::string describe(const Layer& layer) const override {
    return "channels into " + std::to_string(std::get<Split>(layer.params).outputs) + " parts";
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Crop>() {
  static const CropKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<Slice>() {
  static const SliceKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<SliceStatic>() {
  static const SliceStaticKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<Split>() {
  static const SplitKind kind;
  return kind;
}

}  // namespace edgetrain
