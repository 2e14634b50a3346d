// The fusion pass (plan.h, step 3). Patterns are matched on layer kinds; the fused op is
// ops::conv_relu_pool_* (src/ops/conv_relu_pool.cpp), tested against the unfused chain.
#include <algorithm>

#include "nn/fusion.h"
#include "nn/layers/classic.h"
#include "nn/layers/convolution.h"
#include "nn/layers/pooling.h"
#include "ops/ops.h"

namespace edgetrain {
namespace {

class ConvReluPoolOp : public Op {
 public:
  ConvReluPoolOp(ops::ConvReluPoolShape shape, size_t weight, std::optional<size_t> bias,
                 bool trains)
      : shape_(shape), weight_(weight), bias_(bias), trains_(trains) {}
  size_t prepared_floats() const override { return ops::conv_relu_pool_prepared_floats(shape_); }
  void prepare(const OpArgs& a) const override {
    ops::conv_relu_pool_prepare(a.prepared, a.parameters + weight_,
                                bias_ ? a.parameters + *bias_ : nullptr, shape_);
  }
  void forward(const OpArgs& a) const override {
    ops::ConvReluPoolShape shape = shape_;
    shape.conv.batch = a.n;
    ops::conv_relu_pool_forward_prepared(a.out[0], a.saved, a.in[0], a.prepared, shape, a.scratch,
                                         {a.part, a.parts});
  }
  bool splits_sample() const override {
    const ops::Conv2dShape& c = shape_.conv;
    const int64_t multiply_adds = int64_t(c.out_height) * c.out_width * c.out_channels *
                                  c.in_channels * c.kernel_height * c.kernel_width;
    return ops::conv_relu_pool_forward_splits(shape_) && multiply_adds >= kSplitMinMultiplyAdds;
  }
  void backward(const OpArgs& a) const override {
    ops::ConvReluPoolShape shape = shape_;
    shape.conv.batch = a.n;
    float* dweight = trains_ && a.dparameters ? a.dparameters + weight_ : nullptr;
    float* dbias = trains_ && a.dparameters && bias_ ? a.dparameters + *bias_ : nullptr;
    ops::conv_relu_pool_backward(a.din[0], dweight, dbias, a.dout[0], a.saved, a.in[0],
                                 a.parameters + weight_, shape, a.scratch);
  }
  // The ops' workspace less the prepared block, which this op keeps in OpArgs::prepared.
  size_t scratch_floats() const override {
    return ops::conv_relu_pool_workspace_floats(shape_) - prepared_floats();
  }
  // One argmax byte per pooled value.
  size_t saved_bytes_per_sample() const override {
    return size_t(shape_.conv.out_channels) * shape_.out_height * shape_.out_width;
  }
  bool backward_reads_output() const override { return false; }

 private:
  ops::ConvReluPoolShape shape_;
  size_t weight_;
  std::optional<size_t> bias_;
  bool trains_;
};

// A conv → ReLU → pool chain found in the plan.
struct Chain {
  size_t conv = 0, relu = 0, pool = 0;  // step indices
  ops::ConvReluPoolShape shape;
};

bool is_max_pool(const Layer& layer) {
  const auto* pool = std::get_if<Pooling>(&layer.params);
  return pool && pool->type == PoolingType::kMax;
}

}  // namespace

void fuse_steps(Plan& plan, const Model& model, const std::vector<int>& consumers,
                const std::vector<char>& exposed, ops::Products products) {
  auto step_writing = [&](int blob) -> int {
    for (size_t s = 0; s < plan.steps.size(); ++s) {
      const auto& out = plan.steps[s].out;
      if (std::find(out.begin(), out.end(), blob) != out.end()) return int(s);
    }
    return -1;
  };
  auto layer_of = [&](size_t step) -> const Layer& {
    return model.layers[size_t(plan.steps[step].layer)];
  };
  // Private to one reader and not read from outside.
  auto private_to_one = [&](int blob) { return consumers[size_t(blob)] == 1 && !exposed[size_t(blob)]; };

  std::vector<Chain> chains;
  for (size_t p = 0; p < plan.steps.size(); ++p) {
    if (!is_max_pool(layer_of(p))) continue;
    const int relu_step = step_writing(plan.steps[p].in[0]);
    if (relu_step < 0 || !plan.steps[size_t(relu_step)].in_place ||
        !private_to_one(plan.steps[p].in[0])) {
      continue;
    }
    const int conv_step = step_writing(plan.steps[size_t(relu_step)].in[0]);
    if (conv_step < 0 || !std::holds_alternative<Convolution>(layer_of(size_t(conv_step)).params) ||
        !private_to_one(plan.steps[size_t(relu_step)].in[0])) {
      continue;
    }
    const PlanStep& conv = plan.steps[size_t(conv_step)];
    const Shape& conv_in = plan.blob_shapes[size_t(conv.in[0])];
    const Chw in = classic_view(conv_in), conv_out = classic_view(plan.blob_shapes[size_t(conv.out[0])]);
    const Chw pooled = classic_view(plan.blob_shapes[size_t(plan.steps[p].out[0])]);
    if (in.outer != 1 || conv_in.rank() == 2) continue;
    const auto& pool = std::get<Pooling>(layer_of(p).params);
    const ops::Pool2dShape p2 = pool2d_shape(pool, conv_out, pooled);
    if (p2.kernel_height != p2.stride_height || p2.kernel_width != p2.stride_width ||
        p2.pad_top != 0 || p2.pad_left != 0) {
      continue;
    }
    Chain chain{size_t(conv_step), size_t(relu_step), p, {}};
    chain.shape = {.conv = conv2d_shape(std::get<Convolution>(layer_of(size_t(conv_step)).params),
                                        in.c, in.h, in.w, conv_out.c, conv_out.h, conv_out.w),
                   .pool_height = p2.kernel_height,
                   .pool_width = p2.kernel_width,
                   .out_height = pooled.h,
                   .out_width = pooled.w,
                   .products = products};
    if (!ops::conv_relu_pool_supported(chain.shape)) continue;
    chains.push_back(chain);
  }

  // Channel-last between two fused ops, and into a channel-last flatten, which then aliases.
  std::vector<size_t> dropped;
  for (Chain& first : chains) {
    const int out = plan.steps[first.pool].out[0];
    if (!private_to_one(out)) continue;
    for (Chain& second : chains) {
      if (plan.steps[second.conv].in[0] == out) {
        first.shape.output_channel_last = second.shape.input_channel_last = true;
      }
    }
    for (size_t s = 0; s < plan.steps.size(); ++s) {
      const auto* flatten = std::get_if<Flatten>(&layer_of(s).params);
      if (flatten && flatten->order == FlattenOrder::kChannelLast && plan.steps[s].in[0] == out &&
          !exposed[size_t(plan.steps[s].out[0])]) {
        first.shape.output_channel_last = true;
        share_buffer(plan, plan.steps[s].out[0], out);
        dropped.push_back(s);
      }
    }
  }

  for (const Chain& chain : chains) {
    PlanStep& conv = plan.steps[chain.conv];
    const Layer& layer = layer_of(chain.conv);
    const LayerParameter* bias = layer.parameter("bias");
    conv.op = std::make_unique<ConvReluPoolOp>(
        chain.shape, layer.parameter("weights")->slice.offset,
        bias ? std::optional<size_t>(bias->slice.offset) : std::nullopt,
        plan.loss_blob >= 0 && layer.updatable);
    conv.label += "+" + plan.steps[chain.relu].label + "+" + plan.steps[chain.pool].label;
    conv.out = plan.steps[chain.pool].out;
    conv.backward = conv.backward || plan.steps[chain.pool].backward;
    dropped.push_back(chain.relu);
    dropped.push_back(chain.pool);
  }

  // A max-pool after an in-place ReLU it alone reads masks the gradient; the ReLU leaves backward.
  for (size_t p = 0; p < plan.steps.size(); ++p) {
    if (!is_max_pool(layer_of(p)) || std::count(dropped.begin(), dropped.end(), p)) continue;
    const int relu_step = step_writing(plan.steps[p].in[0]);
    if (relu_step < 0 || !plan.steps[size_t(relu_step)].in_place ||
        !private_to_one(plan.steps[p].in[0]) || !plan.steps[p].backward) {
      continue;
    }
    const Chw in = classic_view(plan.blob_shapes[size_t(plan.steps[p].in[0])]);
    const Chw out = classic_view(plan.blob_shapes[size_t(plan.steps[p].out[0])]);
    plan.steps[p].op = max_pool_op(pool2d_shape(std::get<Pooling>(layer_of(p).params), in, out),
                                   in.outer, true);
    plan.steps[size_t(relu_step)].backward = false;
  }

  std::vector<PlanStep> kept;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    if (!std::count(dropped.begin(), dropped.end(), s)) kept.push_back(std::move(plan.steps[s]));
  }
  plan.steps = std::move(kept);
}

}  // namespace edgetrain
