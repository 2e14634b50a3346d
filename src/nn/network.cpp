// The executor: runs a plan's steps forward in order and the marked ones backward in reverse,
// binding each step's buffers once per workspace.
#include "nn/network.h"

#include <algorithm>
#include <cassert>

#include "edgetrain/error.h"

namespace edgetrain {

Network::Network(const Model& model, NetworkOptions options)
    : plan_(make_plan(model, options)), train_(options.train) {
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    const Feature& input = model.inputs[i];
    InputLoad load;
    load.blob = plan_.input_blobs[i];
    load.size = blob_size(load.blob);
    if (input.type == FeatureType::kImage) {
      ImageScaler scaler;
      for (const ImageScaler& candidate : model.preprocessing) {
        if (candidate.feature_name.empty() || candidate.feature_name == input.name) scaler = candidate;
      }
      load.image = true;
      load.scale = 255.0f * scaler.channel_scale;
      switch (input.image.color_space) {
        case ColorSpace::kGrayscale: load.bias = {scaler.gray_bias}; break;
        case ColorSpace::kRGB: load.bias = {scaler.red_bias, scaler.green_bias, scaler.blue_bias}; break;
        case ColorSpace::kBGR: load.bias = {scaler.blue_bias, scaler.green_bias, scaler.red_bias}; break;
      }
    }
    input_size_ += load.size;
    loads_.push_back(std::move(load));
  }
  for (const PlanStep& step : plan_.steps) {
    scratch_floats_ = std::max(scratch_floats_, step.op->scratch_floats());
  }
  for (const PlanStep& step : plan_.steps) {
    const Layer& layer = model.layers[size_t(step.layer)];
    step_layers_.push_back("layer '" + layer.name + "' (" + layer_type_name(layer) + ")");
  }
  size_t offset = 0;
  for (const InputLoad& load : loads_) {
    for (size_t s = 0; s < plan_.steps.size() && !load.image; ++s) {
      const PlanStep& step = plan_.steps[s];
      for (size_t i = 0; i < step.in.size(); ++i) {
        if (step.in[i] == load.blob && step.op->checks_input(i)) {
          feature_checks_.push_back({s, i, offset});
        }
      }
    }
    offset += load.size;
  }
}

void Network::refuse(size_t step, size_t input, const std::string& why) const {
  throw Error(step_layers_[step] + ": input '" + blob_name(plan_.steps[step].in[input]) +
              "': " + why);
}

void Network::check_features(const float* features) const {
  for (const FeatureCheck& check : feature_checks_) {
    const std::string why =
        plan_.steps[check.step].op->invalid_input(check.input, features + check.offset, 1);
    if (!why.empty()) refuse(check.step, check.input, why);
  }
}

int Network::blob(const std::string& name) const {
  auto found = std::find(plan_.blob_names.begin(), plan_.blob_names.end(), name);
  if (found == plan_.blob_names.end()) throw Error("the network has no blob named '" + name + "'");
  return int(found - plan_.blob_names.begin());
}

bool Network::couples_batch() const {
  return std::any_of(plan_.steps.begin(), plan_.steps.end(),
                     [](const PlanStep& step) { return step.op->couples_batch(Mode::kTraining); });
}

std::vector<ParameterSlice> Network::gradients_summed_across_threads() const {
  std::vector<ParameterSlice> slices;
  for (const PlanStep& step : plan_.steps) {
    const ParameterSlice slice = step.op->gradient_summed_across_threads();
    if (slice.size > 0) slices.push_back(slice);
  }
  return slices;
}

size_t Network::buffer_floats(int capacity) const {
  const WorkspaceBytes bytes = workspace_bytes();
  size_t saved = 0;
  for (const PlanStep& step : plan_.steps) saved += step.op->saved_bytes_per_sample();
  return (bytes.per_sample - saved) / sizeof(float) * size_t(capacity);
}

Network::WorkspaceBytes Network::workspace_bytes(bool with_gradients) const {
  // make_workspace's buffers, counted by the same rules.
  WorkspaceBytes bytes{scratch_floats_ * sizeof(float), 0};
  for (const PlanStep& step : plan_.steps)
    bytes.fixed += step.op->prepared_floats() * sizeof(float);
  for (size_t b = 0; b < plan_.blob_names.size(); ++b) {
    if (plan_.buffer[b] != int(b) || !plan_.materialised[b]) continue;
    const bool grad = with_gradients && train_ && plan_.needs_grad[b];
    bytes.per_sample += blob_size(int(b)) * sizeof(float) * (grad ? 2 : 1);
  }
  for (const PlanStep& step : plan_.steps) bytes.per_sample += step.op->saved_bytes_per_sample();
  return bytes;
}

size_t Workspace::allocated_bytes() const {
  size_t bytes = scratch_.size() * sizeof(float);
  for (const auto& values : values_) bytes += values.size() * sizeof(float);
  for (const auto& grads : grads_) bytes += grads.size() * sizeof(float);
  for (const auto& saved : saved_) bytes += saved.size();
  for (const auto& prepared : prepared_) bytes += prepared.size() * sizeof(float);
  return bytes;
}

Workspace Network::make_workspace(int capacity) const {
  Workspace ws;
  ws.capacity_ = capacity;
  ws.buffer_ = plan_.buffer;
  const size_t blobs = plan_.blob_names.size();
  ws.values_.resize(blobs);
  ws.grads_.resize(blobs);
  for (size_t b = 0; b < blobs; ++b) {
    if (plan_.buffer[b] != int(b) || !plan_.materialised[b]) continue;
    ws.values_[b].resize(blob_size(int(b)) * size_t(capacity));
    if (train_ && plan_.needs_grad[b]) ws.grads_[b].resize(blob_size(int(b)) * size_t(capacity));
  }
  ws.scratch_.resize(scratch_floats_);
  for (const PlanStep& step : plan_.steps) {
    ws.saved_.emplace_back(step.op->saved_bytes_per_sample() * size_t(capacity));
    ws.prepared_.emplace_back(step.op->prepared_floats());
  }
  ws.prepared_ready_.assign(plan_.steps.size(), 0);
  for (size_t s = 0; s < plan_.steps.size(); ++s) {
    const PlanStep& step = plan_.steps[s];
    OpArgs args;
    for (size_t i = 0; i < step.in.size(); ++i) {
      args.in.push_back(ws.value(step.in[i]));
      std::vector<float>& grad = ws.grads_[size_t(ws.buffer_[size_t(step.in[i])])];
      args.din.push_back(step.din[i] && !grad.empty() ? grad.data() : nullptr);
    }
    for (int out : step.out) {
      args.out.push_back(ws.value(out));
      std::vector<float>& grad = ws.grads_[size_t(ws.buffer_[size_t(out)])];
      args.dout.push_back(grad.empty() ? nullptr : grad.data());
    }
    args.scratch = ws.scratch_.data();
    args.saved = ws.saved_[s].data();
    args.prepared = ws.prepared_[s].data();
    ws.bound_.push_back(std::move(args));
  }
  return ws;
}

Workspace Network::make_partner_workspace(const Workspace& main) const {
  Workspace partner;
  partner.capacity_ = main.capacity_;
  partner.scratch_.resize(scratch_floats_);
  partner.bound_ = main.bound_;
  partner.prepared_ready_.assign(plan_.steps.size(), 0);
  for (size_t s = 0; s < plan_.steps.size(); ++s) {
    // Its own prepared data too: each thread prepares its copy, so none waits for another's.
    partner.prepared_.emplace_back(plan_.steps[s].op->prepared_floats());
    partner.bound_[s].scratch = partner.scratch_.data();
    partner.bound_[s].prepared = partner.prepared_[s].data();
  }
  return partner;
}

void Network::load_input(Workspace& ws, int i, const float* features) const {
  for (const InputLoad& load : loads_) {
    float* input = ws.value(load.blob) + size_t(i) * load.size;
    if (!load.image) {
      std::copy_n(features, load.size, input);
    } else {
      const size_t plane = load.size / load.bias.size();
      for (size_t c = 0; c < load.bias.size(); ++c) {
        for (size_t p = 0; p < plane; ++p) {
          input[c * plane + p] = features[c * plane + p] * load.scale + load.bias[c];
        }
      }
    }
    features += load.size;
  }
}

void Network::forward(Workspace& ws, const Model& model, int n, const Pass& pass) const {
  for (size_t s = 0; s < plan_.steps.size(); ++s) forward_step(ws, model, n, s, pass);
}

void Network::forward_step(Workspace& ws, const Model& model, int n, size_t s,
                           const Pass& pass) const {
  OpArgs& args = ws.bound_[s];
  args.n = n;
  args.mode = pass.mode;
  args.parameters = model.parameters.data();
  args.state = pass.state;
  args.sync = pass.sync;
  args.thread = pass.thread;
  const Op& op = *plan_.steps[s].op;
  assert(pass.parts == 1 || (op.splits_sample() && pass.mode == Mode::kInference));
  args.part = pass.part;
  args.parts = pass.parts;
  for (size_t i = 0; pass.check_inputs && i < args.in.size(); ++i) {
    if (!op.checks_input(i)) continue;
    const std::string why = op.invalid_input(i, args.in[i], n);
    if (!why.empty()) refuse(s, i, why);
  }
  if (op.prepared_floats() > 0 && !(pass.parameters_unchanged && ws.prepared_ready_[s])) {
    op.prepare(args);
    ws.prepared_ready_[s] = 1;
  }
  op.forward(args);
}

void Network::zero_grads(Workspace& ws, int n) const {
  for (size_t b = 0; b < ws.grads_.size(); ++b) {
    if (!ws.grads_[b].empty()) std::fill_n(ws.grads_[b].data(), blob_size(int(b)) * size_t(n), 0.0f);
  }
}

void Network::backward(Workspace& ws, const Model& model, float* dparameters, int n,
                       bool dparameters_zero) const {
  for (size_t s = plan_.steps.size(); s-- > 0;) {
    backward_step(ws, model, dparameters, n, s, dparameters_zero);
  }
}

void Network::backward_step(Workspace& ws, const Model& model, float* dparameters, int n, size_t s,
                            bool dparameters_zero) const {
  const PlanStep& step = plan_.steps[s];
  if (!step.backward) return;
  OpArgs& args = ws.bound_[s];
  args.n = n;
  args.parameters = model.parameters.data();
  args.dparameters = dparameters;
  args.dparameters_zero = dparameters_zero;
  if (step.in_place) {
    if (args.din[0]) step.op->backward_in_place(args);
  } else {
    step.op->backward(args);
  }
}

Network::StepInfo Network::step_info(size_t s) const {
  const PlanStep& step = plan_.steps[s];
  return {step.label, step.layer, step.backward, !step.din.empty() && step.din[0] != 0};
}

std::string Network::describe_plan() const {
  std::string text;
  for (const PlanStep& step : plan_.steps) {
    text += step.label + ":";
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on `" " + std::string&&`.
    for (int in : step.in) text.append(" ").append(blob_shape(in).text());
    text += " ->";
    for (int out : step.out) text.append(" ").append(blob_shape(out).text());
    if (step.in_place) text += " (in place)";
    if (step.backward) text += " (backward)";
    text += "\n";
  }
  return text;
}

}  // namespace edgetrain
