// Pooling (Core ML's `pooling`): max, average and L2 over windows of (C, H, W) planes, with valid
// (with amounts), same (either asymmetry mode) or includeLastPixel padding, or global over the
// whole plane. Max keeps each output's argmax for backward (int32 per output value); L2 reads its
// input and output; average keeps nothing.
#include <cmath>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/pooling.h"
#include "nn/window.h"

namespace edgetrain {
namespace {

class MaxPoolOp : public Op {
 public:
  MaxPoolOp(ops::Pool2dShape shape, int64_t outer, bool masks_relu)
      : shape_(shape), outer_(outer), masks_relu_(masks_relu) {}
  void forward(const OpArgs& a) const override {
    ops::maxpool2d_forward(a.out[0], argmax(a), a.in[0], batch(a));
  }
  void backward(const OpArgs& a) const override {
    if (!a.din[0]) return;
    const ops::Pool2dShape shape = batch(a);
    if (masks_relu_) {
      // Every reader of the output has run backward, so its gradient is whole: mask it in place.
      const size_t count = size_t(shape.batch) * shape.channels * shape.out_height * shape.out_width;
      ops::relu_backward_in_place(a.dout[0], a.out[0], count);
    }
    ops::maxpool2d_backward(a.din[0], a.dout[0], argmax(a), shape);
  }
  size_t saved_bytes_per_sample() const override {
    return size_t(outer_) * shape_.channels * shape_.out_height * shape_.out_width *
           sizeof(int32_t);
  }

 private:
  ops::Pool2dShape batch(const OpArgs& a) const {
    ops::Pool2dShape shape = shape_;
    shape.batch = int(a.n * outer_);
    return shape;
  }
  static int32_t* argmax(const OpArgs& a) { return reinterpret_cast<int32_t*>(a.saved); }
  ops::Pool2dShape shape_;
  int64_t outer_;
  bool masks_relu_;
};

class AveragePoolOp : public Op {
 public:
  AveragePoolOp(ops::Pool2dShape shape, int64_t outer, bool exclude_padding)
      : shape_(shape), outer_(outer), exclude_padding_(exclude_padding) {}
  void forward(const OpArgs& a) const override {
    ops::avgpool2d_forward(a.out[0], a.in[0], batch(a), exclude_padding_);
  }
  void backward(const OpArgs& a) const override {
    if (a.din[0]) ops::avgpool2d_backward(a.din[0], a.dout[0], batch(a), exclude_padding_);
  }
  bool backward_reads_output() const override { return false; }

 private:
  ops::Pool2dShape batch(const OpArgs& a) const {
    ops::Pool2dShape shape = shape_;
    shape.batch = int(a.n * outer_);
    return shape;
  }
  ops::Pool2dShape shape_;
  int64_t outer_;
  bool exclude_padding_;
};

class L2PoolOp : public Op {
 public:
  L2PoolOp(ops::Pool2dShape shape, int64_t outer) : shape_(shape), outer_(outer) {}
  void forward(const OpArgs& a) const override {
    ops::l2pool2d_forward(a.out[0], a.in[0], batch(a));
  }
  void backward(const OpArgs& a) const override {
    if (a.din[0]) ops::l2pool2d_backward(a.din[0], a.dout[0], a.in[0], a.out[0], batch(a));
  }

 private:
  ops::Pool2dShape batch(const OpArgs& a) const {
    ops::Pool2dShape shape = shape_;
    shape.batch = int(a.n * outer_);
    return shape;
  }
  ops::Pool2dShape shape_;
  int64_t outer_;
};

const char* type_text(PoolingType type) {
  switch (type) {
    case PoolingType::kMax: return "max";
    case PoolingType::kAverage: return "average";
    case PoolingType::kL2: return "L2";
  }
  return "?";
}

class PoolingKind : public LayerKind {
 public:
  const char* name() const override { return "pooling"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kPooling; }
  bool coreml_backprop(const Layer&) const override { return true; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& pool = std::get<Pooling>(context.layer.params);
    const Chw in = classic_view(context);
    if (!pool.global) {
      for (int k = 0; k < 2; ++k) {
        if (pool.kernel_size[k] <= 0 || pool.stride[k] <= 0) {
          context.fail("kernel size and stride must be positive");
        }
      }
      if (pool.include_last_pixel && (pool.padding_amounts[0] != pool.padding_amounts[1] ||
                                      pool.padding_amounts[2] != pool.padding_amounts[3])) {
        context.fail("includeLastPixel padding must be the same on both sides");
      }
    }
    const WindowGeometry g = window_geometry(pooling_window(pool, in.h, in.w), in.h, in.w);
    if (g.out_height <= 0 || g.out_width <= 0) {
      context.fail(context.input_text(0) + ", smaller than the " + size_text(pool.kernel_size) +
                   " pooling window");
    }
    return {classic_shape(context.inputs[0], in.c, g.out_height, g.out_width)};
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& pool = std::get<Pooling>(c.layer.params);
    const Chw in = classic_view(c.inputs[0]), out = classic_view(c.outputs[0]);
    const ops::Pool2dShape shape = pool2d_shape(pool, in, out);
    switch (pool.type) {
      case PoolingType::kMax: return max_pool_op(shape, in.outer, false);
      case PoolingType::kAverage:
        return std::make_unique<AveragePoolOp>(shape, in.outer, pool.average_excludes_padding);
      case PoolingType::kL2: return std::make_unique<L2PoolOp>(shape, in.outer);
    }
    return nullptr;
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::PoolingLayerParams& p = message.pooling();
    Pooling pool;
    switch (p.type()) {
      case spec::PoolingLayerParams::MAX: pool.type = PoolingType::kMax; break;
      case spec::PoolingLayerParams::AVERAGE: pool.type = PoolingType::kAverage; break;
      case spec::PoolingLayerParams::L2: pool.type = PoolingType::kL2; break;
      default: reader.fail("unknown pooling type " + std::to_string(p.type()));
    }
    pool.kernel_size = reader.pair(p.kernelsize(), {3, 3}, "kernelSize");
    pool.stride = reader.pair(p.stride(), {1, 1}, "stride");
    switch (p.PoolingPaddingType_case()) {
      case spec::PoolingLayerParams::kSame:
        pool.padding = Padding::kSame;
        pool.same_mode = reader.same_padding(p.same());
        break;
      case spec::PoolingLayerParams::kIncludeLastPixel: {
        pool.include_last_pixel = true;
        const auto& amounts = p.includelastpixel().paddingamounts();
        if (!amounts.empty() && amounts.size() != 2) {
          reader.fail("includeLastPixel has " + std::to_string(amounts.size()) +
                      " padding amounts, expected 2 ([height, width])");
        }
        if (amounts.size() == 2) {
          const int h = reader.checked(amounts[0], LayerReader::kMaxWindow, "padding height");
          const int w = reader.checked(amounts[1], LayerReader::kMaxWindow, "padding width");
          pool.padding_amounts = {h, h, w, w};
        }
        break;
      }
      default: reader.valid_padding(p.valid(), pool.padding_amounts);
    }
    pool.average_excludes_padding = p.avgpoolexcludepadding();
    pool.global = p.globalpooling();
    reader.layer().params = pool;
  }

  void write(const Model&, const Layer& layer, spec::NeuralNetworkLayer& message) const override {
    const auto& pool = std::get<Pooling>(layer.params);
    spec::PoolingLayerParams* p = message.mutable_pooling();
    p->set_type(pool.type == PoolingType::kMax       ? spec::PoolingLayerParams::MAX
                : pool.type == PoolingType::kAverage ? spec::PoolingLayerParams::AVERAGE
                                                     : spec::PoolingLayerParams::L2);
    write_pair(pool.kernel_size, p->mutable_kernelsize());
    write_pair(pool.stride, p->mutable_stride());
    if (pool.padding == Padding::kSame) {
      write_same_padding(pool.same_mode, p->mutable_same());
    } else if (pool.include_last_pixel) {
      auto* amounts = p->mutable_includelastpixel()->mutable_paddingamounts();
      if (pool.padding_amounts != std::array<int, 4>{0, 0, 0, 0}) {
        amounts->Add(uint64_t(pool.padding_amounts[0]));
        amounts->Add(uint64_t(pool.padding_amounts[2]));
      }
    } else {
      write_valid_padding(pool.padding_amounts, p->mutable_valid());
    }
    p->set_avgpoolexcludepadding(pool.average_excludes_padding);
    p->set_globalpooling(pool.global);
  }

  std::string notes() const override {
    return "max, average (padding counted or not), L2; valid, same, includeLastPixel; global";
  }
  std::string describe(const Layer& layer) const override {
    const auto& pool = std::get<Pooling>(layer.params);
    std::string text = std::string(type_text(pool.type));
    if (pool.global) return text + ", global";
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on `" " + std::string&&`.
    text.append(" ").append(size_text(pool.kernel_size));
    text.append(", stride ").append(size_text(pool.stride));
    if (pool.padding == Padding::kSame) return text + ", same";
    return text + (pool.include_last_pixel ? ", include last pixel" : ", valid");
  }
};

}  // namespace

ops::Pool2dShape pool2d_shape(const Pooling& pool, const Chw& in, const Chw& out) {
  const Window window = pooling_window(pool, in.h, in.w);
  const WindowGeometry g = window_geometry(window, in.h, in.w);
  return {.batch = 0, .channels = in.c, .in_height = in.h, .in_width = in.w,
          .out_height = out.h, .out_width = out.w, .kernel_height = window.kernel[0],
          .kernel_width = window.kernel[1], .stride_height = window.stride[0],
          .stride_width = window.stride[1], .pad_top = g.pad_top, .pad_left = g.pad_left};
}

std::unique_ptr<Op> max_pool_op(const ops::Pool2dShape& shape, int64_t outer, bool masks_relu) {
  return std::make_unique<MaxPoolOp>(shape, outer, masks_relu);
}

template <>
const LayerKind& kind_for<Pooling>() {
  static const PoolingKind kind;
  return kind;
}

}  // namespace edgetrain
