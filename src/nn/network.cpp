#include "nn/network.h"

#include <algorithm>
#include <map>

#include "edgetrain/error.h"
#include "nn/shapes.h"

namespace edgetrain {

Network::Network(const Model& model, bool fuse) {
  validate(model);
  const BlobShapes shapes = infer_shapes(model);
  std::map<std::string, int> index;
  auto add_blob = [&](const std::string& name, int producer) {
    index[name] = int(blob_names_.size());
    blob_names_.push_back(name);
    const auto& s = shapes.at(name);
    blob_shapes_.push_back(s);
    blob_sizes_.push_back(size_t(s[0]) * s[1] * s[2]);
    producers_.push_back(producer);
  };
  for (const Feature& input : model.inputs) add_blob(input.name, -1);
  input_blob_ = 0;
  const Feature& input = model.inputs[0];
  input_bias_.assign(size_t(blob_shapes_[0][0]), 0.0f);
  if (input.type == FeatureType::kImage) {
    ImageScaler scaler;
    for (const ImageScaler& candidate : model.preprocessing) {
      if (candidate.feature_name.empty() || candidate.feature_name == input.name) scaler = candidate;
    }
    input_is_identity_ = false;
    input_scale_ = 255.0f * scaler.channel_scale;
    switch (input.image.color_space) {
      case ColorSpace::kGrayscale: input_bias_ = {scaler.gray_bias}; break;
      case ColorSpace::kRGB: input_bias_ = {scaler.red_bias, scaler.green_bias, scaler.blue_bias}; break;
      case ColorSpace::kBGR: input_bias_ = {scaler.blue_bias, scaler.green_bias, scaler.red_bias}; break;
    }
  }

  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    Step step{};
    step.layer = int(i);
    step.in = index.at(layer.inputs[0]);
    add_blob(layer.outputs[0], int(i));
    step.out = index.at(layer.outputs[0]);
    step.in_shape = blob_shapes_[size_t(step.in)];
    step.out_shape = blob_shapes_[size_t(step.out)];
    const auto& in = step.in_shape;
    const auto& out = step.out_shape;
    if (auto* conv = std::get_if<ConvolutionParams>(&layer.params)) {
      step.kind = Kind::kConvolution;
      ConvGeometry g = conv_geometry(*conv, in);
      step.conv = {.batch = 0, .in_channels = in[0], .in_height = in[1], .in_width = in[2],
                   .out_channels = out[0], .out_height = out[1], .out_width = out[2],
                   .kernel_height = conv->kernel_size[0], .kernel_width = conv->kernel_size[1],
                   .stride_height = conv->stride[0], .stride_width = conv->stride[1],
                   .dilation_height = conv->dilation[0], .dilation_width = conv->dilation[1],
                   .pad_top = g.pad_top, .pad_left = g.pad_left, .groups = conv->groups};
      scratch_floats_ = std::max(scratch_floats_, ops::conv2d_workspace_floats(step.conv));
    } else if (auto* pool = std::get_if<PoolingParams>(&layer.params)) {
      step.kind = pool->type == PoolingType::kMax ? Kind::kMaxPool : Kind::kAvgPool;
      ConvGeometry g = pool_geometry(*pool, in);
      int kernel_h = pool->global ? in[1] : pool->kernel_size[0];
      int kernel_w = pool->global ? in[2] : pool->kernel_size[1];
      step.pool = {.batch = 0, .channels = in[0], .in_height = in[1], .in_width = in[2],
                   .out_height = out[1], .out_width = out[2], .kernel_height = kernel_h,
                   .kernel_width = kernel_w,
                   .stride_height = pool->global ? 1 : pool->stride[0],
                   .stride_width = pool->global ? 1 : pool->stride[1],
                   .pad_top = g.pad_top, .pad_left = g.pad_left};
      step.average_excludes_padding = pool->average_excludes_padding;
    } else if (auto* activation = std::get_if<ActivationParams>(&layer.params)) {
      step.kind = Kind::kActivation;
      step.activation = *activation;
    } else if (auto* flatten = std::get_if<FlattenParams>(&layer.params)) {
      step.kind = Kind::kFlatten;
      step.channel_last = flatten->order == FlattenOrder::kChannelLast;
    } else if (std::holds_alternative<InnerProductParams>(layer.params)) {
      step.kind = Kind::kInnerProduct;
    } else {
      step.kind = Kind::kSoftmax;
    }
    steps_.push_back(step);
  }

  plan_in_place(model);
  elided_.assign(blob_names_.size(), false);
  if (fuse) plan_fusion();

  // A blob needs a gradient when an updatable layer produced it or sits upstream of it.
  blob_needs_grad_.assign(blob_names_.size(), false);
  for (Step& step : steps_) {
    bool upstream = blob_needs_grad_[size_t(step.in)];
    step.needs_dinput = upstream;
    step.runs_backward = upstream || model.layers[size_t(step.layer)].updatable;
    blob_needs_grad_[size_t(step.out)] = step.runs_backward;
  }
}

void Network::plan_in_place(const Model& model) {
  std::vector<int> consumers(blob_names_.size(), 0);
  for (const Step& step : steps_) ++consumers[size_t(step.in)];
  // Blobs read from outside the layers must keep their own values.
  std::vector<bool>& exposed = exposed_;
  exposed.assign(blob_names_.size(), false);
  for (const Feature& output : model.outputs) {
    if (auto found = std::find(blob_names_.begin(), blob_names_.end(), output.name);
        found != blob_names_.end()) {
      exposed[size_t(found - blob_names_.begin())] = true;
    }
  }
  if (model.update) {
    for (const Loss& loss : model.update->losses) exposed[size_t(blob(loss.input))] = true;
  }
  storage_.resize(blob_names_.size());
  for (size_t b = 0; b < storage_.size(); ++b) storage_[b] = int(b);
  for (Step& step : steps_) {
    const bool relu = step.kind == Kind::kActivation && step.activation.type == ActivationType::kReLU;
    // A channel-first flatten of (C, H, W) to (C·H·W) is the same bytes: share them instead.
    const bool flatten = step.kind == Kind::kFlatten && !step.channel_last;
    if (!(relu || flatten) || producers_[size_t(step.in)] < 0 ||
        consumers[size_t(step.in)] != 1 || exposed[size_t(step.in)] || exposed[size_t(step.out)]) {
      continue;
    }
    (relu ? step.in_place : step.aliased) = true;
    share_buffers(step.out, step.in);
  }
  for (Step& pool : steps_) {
    if (pool.kind != Kind::kMaxPool) continue;
    const int producer = producers_[size_t(pool.in)];
    if (producer < 0 || consumers[size_t(pool.in)] != 1) continue;
    Step& relu = steps_[size_t(producer)];
    if (relu.in_place) {
      relu.mask_folded_into_pool = true;
      pool.pool_masks_relu = true;
    }
  }
}

void Network::plan_fusion() {
  for (Step& pool : steps_) {
    if (pool.kind != Kind::kMaxPool || !pool.pool_masks_relu) continue;
    Step& relu = steps_[size_t(producers_[size_t(pool.in)])];  // in place, read only by the pool
    const int conv_layer = producers_[size_t(relu.in)];
    if (conv_layer < 0) continue;
    Step& conv = steps_[size_t(conv_layer)];
    if (conv.kind != Kind::kConvolution) continue;
    const ops::Pool2dShape& p = pool.pool;
    if (p.kernel_height != p.stride_height || p.kernel_width != p.stride_width || p.pad_top != 0 ||
        p.pad_left != 0) {
      continue;
    }
    ops::ConvReluPoolShape shape{.conv = conv.conv, .pool_height = p.kernel_height,
                                 .pool_width = p.kernel_width, .out_height = p.out_height,
                                 .out_width = p.out_width};
    if (!ops::conv_relu_pool_supported(shape)) continue;
    conv.fused = true;
    conv.fused_out = pool.out;
    conv.fused_shape = shape;
    relu.absorbed = pool.absorbed = true;
    elided_[size_t(storage_[size_t(conv.out)])] = true;
  }
  // A fused op's output read only by another fused op stays channel-last between them. Read only
  // by a channel-last flatten, it is written channel-last too, which is the flatten's output
  // order: the flatten then shares its buffers and does nothing (LeNet's pool2 → flatten).
  std::vector<int> consumers(blob_names_.size(), 0);
  for (const Step& step : steps_) ++consumers[size_t(step.in)];
  for (Step& first : steps_) {
    if (!first.fused || consumers[size_t(first.fused_out)] != 1 || exposed_[size_t(first.fused_out)]) {
      continue;
    }
    for (Step& second : steps_) {
      if (second.fused && second.in == first.fused_out) {
        first.fused_shape.output_channel_last = second.fused_shape.input_channel_last = true;
      }
      if (second.kind == Kind::kFlatten && second.channel_last && second.in == first.fused_out &&
          !exposed_[size_t(second.out)]) {
        first.fused_shape.output_channel_last = true;
        second.aliased = true;
        share_buffers(second.out, second.in);
      }
    }
  }
  for (const Step& step : steps_) {
    if (step.fused) {
      scratch_floats_ =
          std::max(scratch_floats_, ops::conv_relu_pool_workspace_floats(step.fused_shape));
    }
  }
}

void Network::share_buffers(int blob, int with) {
  // Blobs already sharing `blob`'s buffers move along with it.
  const int owner = storage_[size_t(blob)], shared = storage_[size_t(with)];
  for (int& buffer : storage_) {
    if (buffer == owner) buffer = shared;
  }
}

int Network::blob(const std::string& name) const {
  auto found = std::find(blob_names_.begin(), blob_names_.end(), name);
  if (found == blob_names_.end()) throw Error("the network has no blob named '" + name + "'");
  return int(found - blob_names_.begin());
}

bool Network::is_softmax(int layer) const {
  return layer >= 0 && steps_[size_t(layer)].kind == Kind::kSoftmax;
}

Workspace Network::make_workspace(int capacity, bool with_gradients) const {
  Workspace workspace;
  workspace.capacity = capacity;
  workspace.storage = storage_;
  workspace.values.resize(blob_names_.size());
  workspace.grads.resize(blob_names_.size());
  for (size_t b = 0; b < blob_names_.size(); ++b) {
    if (storage_[b] != int(b)) continue;  // shares an earlier blob's buffers
    if (elided_[b]) continue;             // lives only inside a fused op
    workspace.values[b].resize(blob_sizes_[b] * size_t(capacity));
    if (with_gradients && blob_needs_grad_[b]) {
      workspace.grads[b].resize(blob_sizes_[b] * size_t(capacity));
    }
  }
  // An in-place ReLU's input may not need a gradient while its output does (an updatable layer
  // produced neither, but the shared buffer is the same): give the shared buffer one.
  for (size_t b = 0; b < blob_names_.size(); ++b) {
    if (elided_[size_t(storage_[b])]) continue;
    std::vector<float>& grad = workspace.grads[size_t(storage_[b])];
    if (with_gradients && blob_needs_grad_[b] && grad.empty()) {
      grad.resize(blob_sizes_[b] * size_t(capacity));
    }
  }
  for (const Step& step : steps_) {
    const bool pool = step.kind == Kind::kMaxPool && !step.absorbed;
    workspace.argmax.emplace_back(pool ? blob_sizes_[size_t(step.out)] * size_t(capacity) : 0);
    workspace.window_argmax.emplace_back(
        step.fused ? blob_sizes_[size_t(step.fused_out)] * size_t(capacity) : 0);
  }
  workspace.scratch.resize(scratch_floats_);
  return workspace;
}

Network::WorkspaceBytes Network::workspace_bytes(bool with_gradients) const {
  // make_workspace's buffers, counted by the same rules.
  size_t floats = 0;
  std::vector<bool> has_grad(blob_names_.size(), false);  // per buffer
  for (size_t b = 0; b < blob_names_.size(); ++b) {
    if (storage_[b] != int(b) || elided_[b]) continue;
    floats += blob_sizes_[b];
    if (with_gradients && blob_needs_grad_[b]) {
      floats += blob_sizes_[b];
      has_grad[b] = true;
    }
  }
  for (size_t b = 0; b < blob_names_.size(); ++b) {
    const size_t buffer = size_t(storage_[b]);
    if (elided_[buffer] || !with_gradients || !blob_needs_grad_[b] || has_grad[buffer]) continue;
    floats += blob_sizes_[b];
    has_grad[buffer] = true;
  }
  WorkspaceBytes bytes{scratch_floats_ * sizeof(float), floats * sizeof(float)};
  for (const Step& step : steps_) {
    if (step.kind == Kind::kMaxPool && !step.absorbed) {
      bytes.per_sample += blob_sizes_[size_t(step.out)] * sizeof(int32_t);
    }
    if (step.fused) bytes.per_sample += blob_sizes_[size_t(step.fused_out)] * sizeof(uint8_t);
  }
  return bytes;
}

void Network::load_input(Workspace& ws, int i, const float* features) const {
  const size_t size = blob_sizes_[size_t(input_blob_)];
  float* input = ws.value(input_blob_) + size_t(i) * size;
  if (input_is_identity_) {
    std::copy_n(features, size, input);
    return;
  }
  const size_t plane = size / input_bias_.size();
  for (size_t c = 0; c < input_bias_.size(); ++c) {
    for (size_t p = 0; p < plane; ++p) {
      input[c * plane + p] = features[c * plane + p] * input_scale_ + input_bias_[c];
    }
  }
}

void Network::forward(Workspace& ws, const Model& model, int n) const {
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    if (step.absorbed || step.aliased) continue;
    const Layer& layer = model.layers[size_t(step.layer)];
    const float* in = ws.value(step.in);
    const float* bias = layer.bias.size ? model.data(layer.bias) : nullptr;
    if (step.fused) {
      ops::ConvReluPoolShape shape = step.fused_shape;
      shape.conv.batch = n;
      ops::conv_relu_pool_forward(ws.value(step.fused_out), ws.window_argmax[s].data(), in,
                                  model.data(layer.weight), bias, shape, ws.scratch.data());
      continue;
    }
    float* out = ws.value(step.out);
    const size_t count = blob_sizes_[size_t(step.out)] * size_t(n);
    switch (step.kind) {
      case Kind::kConvolution: {
        ops::Conv2dShape shape = step.conv;
        shape.batch = n;
        ops::conv2d_forward(out, in, model.data(layer.weight), bias, shape, ws.scratch.data());
        break;
      }
      case Kind::kMaxPool: {
        ops::Pool2dShape shape = step.pool;
        shape.batch = n;
        ops::maxpool2d_forward(out, ws.argmax[s].data(), in, shape);
        break;
      }
      case Kind::kAvgPool: {
        ops::Pool2dShape shape = step.pool;
        shape.batch = n;
        ops::avgpool2d_forward(out, in, shape, step.average_excludes_padding);
        break;
      }
      case Kind::kActivation:
        switch (step.activation.type) {
          case ActivationType::kReLU: ops::relu_forward(out, in, count); break;
          case ActivationType::kSigmoid: ops::sigmoid_forward(out, in, count); break;
          case ActivationType::kTanh: ops::tanh_forward(out, in, count); break;
          case ActivationType::kLinear:
            ops::linear_forward(out, in, count, step.activation.alpha, step.activation.beta);
            break;
        }
        break;
      case Kind::kFlatten:
        ops::flatten_forward(out, in, n, step.in_shape[0], step.in_shape[1], step.in_shape[2],
                             step.channel_last);
        break;
      case Kind::kInnerProduct:
        ops::inner_product_forward(out, in, model.data(layer.weight), bias, n, step.in_shape[0],
                                   step.out_shape[0]);
        break;
      case Kind::kSoftmax:
        ops::softmax_forward(out, in, n, step.in_shape[0], step.in_shape[1] * step.in_shape[2]);
        break;
    }
  }
}

void Network::zero_grads(Workspace& ws, int n) const {
  for (size_t b = 0; b < blob_names_.size(); ++b) {
    if (storage_[b] == int(b) && !ws.grads[b].empty()) {
      std::fill_n(ws.grads[b].data(), blob_sizes_[b] * size_t(n), 0.0f);
    }
  }
}

void Network::backward(Workspace& ws, const Model& model, float* dparameters, int n,
                       int end_layer) const {
  for (int s = end_layer - 1; s >= 0; --s) {
    const Step& step = steps_[size_t(s)];
    if (!step.runs_backward || step.absorbed || step.aliased) continue;
    const Layer& layer = model.layers[size_t(step.layer)];
    const float* in = ws.value(step.in);
    float* dinput = step.needs_dinput ? ws.grad(step.in) : nullptr;
    float* dweight = layer.updatable ? dparameters + layer.weight.offset : nullptr;
    float* dbias = layer.updatable && layer.bias.size ? dparameters + layer.bias.offset : nullptr;
    if (step.fused) {
      ops::ConvReluPoolShape shape = step.fused_shape;
      shape.conv.batch = n;
      ops::conv_relu_pool_backward(dinput, dweight, dbias, ws.grad(step.fused_out),
                                   ws.window_argmax[size_t(s)].data(), in,
                                   model.data(layer.weight), shape, ws.scratch.data());
      continue;
    }
    const float* out = ws.value(step.out);
    const float* dout = ws.grad(step.out);
    const size_t count = blob_sizes_[size_t(step.out)] * size_t(n);
    switch (step.kind) {
      case Kind::kConvolution: {
        ops::Conv2dShape shape = step.conv;
        shape.batch = n;
        ops::conv2d_backward(dinput, dweight, dbias, dout, in, model.data(layer.weight), shape,
                             ws.scratch.data());
        break;
      }
      case Kind::kInnerProduct:
        ops::inner_product_backward(dinput, dweight, dbias, dout, in, model.data(layer.weight), n,
                                    step.in_shape[0], step.out_shape[0]);
        break;
      default:
        if (!dinput) break;
        switch (step.kind) {
          case Kind::kMaxPool: {
            ops::Pool2dShape shape = step.pool;
            shape.batch = n;
            if (step.pool_masks_relu) {
              // Every reader of it has run backward already.
              ops::relu_backward_in_place(ws.grad(step.out), out, count);
            }
            ops::maxpool2d_backward(dinput, dout, ws.argmax[size_t(s)].data(), shape);
            break;
          }
          case Kind::kAvgPool: {
            ops::Pool2dShape shape = step.pool;
            shape.batch = n;
            ops::avgpool2d_backward(dinput, dout, shape, step.average_excludes_padding);
            break;
          }
          case Kind::kActivation:
            if (step.in_place) {
              if (step.mask_folded_into_pool) break;
              ops::relu_backward_in_place(ws.grad(step.out), out, count);  // the input's too
              break;
            }
            switch (step.activation.type) {
              case ActivationType::kReLU: ops::relu_backward(dinput, dout, out, count); break;
              case ActivationType::kSigmoid: ops::sigmoid_backward(dinput, dout, out, count); break;
              case ActivationType::kTanh: ops::tanh_backward(dinput, dout, out, count); break;
              case ActivationType::kLinear:
                ops::linear_backward(dinput, dout, count, step.activation.alpha);
                break;
            }
            break;
          case Kind::kFlatten:
            ops::flatten_backward(dinput, dout, n, step.in_shape[0], step.in_shape[1],
                                  step.in_shape[2], step.channel_last);
            break;
          case Kind::kSoftmax:
            ops::softmax_backward(dinput, dout, out, n, step.in_shape[0],
                                  step.in_shape[1] * step.in_shape[2]);
            break;
          default: break;
        }
    }
  }
}

}  // namespace edgetrain
