// make_plan: layers → steps, then the rewrites listed in plan.h. Each pass reads and writes only
// the Plan; the executor (network.cpp) never asks how a step came to be.
#include <algorithm>
#include <map>

#include "edgetrain/error.h"
#include "nn/fusion.h"
#include "nn/layer_kind.h"
#include "nn/plan.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

struct Planner {
  const Model& model;
  const NetworkOptions& options;
  Plan plan;
  std::map<std::string, int> index;  // blob name → blob
  std::vector<int> consumers;        // per blob: steps reading it
  std::vector<char> exposed;         // per blob: read from outside the steps (outputs, the loss)

  int blob(const std::string& name) const { return index.at(name); }

  void add_blob(const std::string& name, const Shape& shape, int producer) {
    index[name] = int(plan.blob_names.size());
    plan.blob_names.push_back(name);
    plan.blob_shapes.push_back(shape);
    plan.producer.push_back(producer);
  }

  void compile_layers(const BlobShapes& shapes) {
    for (const Feature& input : model.inputs) {
      plan.input_blobs.push_back(int(plan.blob_names.size()));
      add_blob(input.name, shapes.at(input.name), -1);
    }
    for (size_t i = 0; i < model.layers.size(); ++i) {
      const Layer& layer = model.layers[i];
      CompileContext context{model, layer, {}, {}, options.train && layer.updatable,
                             options.products};
      PlanStep step;
      step.label = layer.name;
      step.layer = int(i);
      for (const std::string& input : layer.inputs) {
        step.in.push_back(blob(input));
        context.inputs.push_back(shapes.at(input));
      }
      for (const std::string& output : layer.outputs) {
        add_blob(output, shapes.at(output), int(i));
        step.out.push_back(blob(output));
        context.outputs.push_back(shapes.at(output));
      }
      step.din.assign(step.in.size(), 0);
      step.op = layer_kind(layer).compile(context);
      plan.steps.push_back(std::move(step));
    }
    const size_t blobs = plan.blob_names.size();
    consumers.assign(blobs, 0);
    for (const PlanStep& step : plan.steps) {
      for (int in : step.in) ++consumers[size_t(in)];
    }
    exposed.assign(blobs, 0);
    auto expose = [&](const std::string& name) {
      if (auto found = index.find(name); found != index.end()) exposed[size_t(found->second)] = 1;
    };
    for (const Feature& output : model.outputs) expose(output.name);
    expose(network_output_name(model));
    if (model.update) {
      for (const Loss& loss : model.update->losses) expose(loss.input);
    }
    plan.buffer.resize(blobs);
    for (size_t b = 0; b < blobs; ++b) plan.buffer[b] = int(b);
  }

  // Pass 1: what runs backward, and which gradients exist.
  void plan_backward() {
    if (!options.train) return;
    if (!model.update || model.update->losses.empty()) {
      throw Error("the model is not updatable: it has no loss to train with");
    }
    const Loss& loss = model.update->losses[0];
    plan.loss_blob = plan.loss_seed_blob = blob(loss.input);
    const size_t blobs = plan.blob_names.size();
    std::vector<char> trainable_below(blobs, 0), reaches_loss(blobs, 0);
    std::vector<char> step_trains(plan.steps.size(), 0);
    for (size_t s = 0; s < plan.steps.size(); ++s) {
      const PlanStep& step = plan.steps[s];
      const Layer& layer = model.layers[size_t(step.layer)];
      bool below = layer.updatable;
      step_trains[s] = below;
      for (int in : step.in) below = below || trainable_below[size_t(in)];
      for (int out : step.out) trainable_below[size_t(out)] = below;
    }
    reaches_loss[size_t(plan.loss_blob)] = 1;
    for (size_t s = plan.steps.size(); s-- > 0;) {
      const PlanStep& step = plan.steps[s];
      bool reaches = false;
      for (int out : step.out) reaches = reaches || reaches_loss[size_t(out)];
      if (reaches) {
        for (int in : step.in) reaches_loss[size_t(in)] = 1;
      }
    }
    // Softmax + cross-entropy: the loss seeds the softmax's input with p - onehot, and the softmax
    // leaves backward (only for a softmax over the whole vector).
    int fused_softmax = -1;
    const int loss_producer = plan.producer[size_t(plan.loss_blob)];
    if (loss.type == LossType::kCategoricalCrossEntropy && loss_producer >= 0 &&
        std::holds_alternative<Softmax>(model.layers[size_t(loss_producer)].params)) {
      const Shape& probabilities = plan.blob_shapes[size_t(plan.loss_blob)];
      if (probabilities.count() == probabilities[0]) {
        fused_softmax = loss_producer;
        plan.loss_seed_blob = plan.steps[size_t(loss_producer)].in[0];
      }
    }
    for (size_t s = 0; s < plan.steps.size(); ++s) {
      PlanStep& step = plan.steps[s];
      bool reaches = false;
      for (int out : step.out) reaches = reaches || reaches_loss[size_t(out)];
      bool below = false;
      for (int in : step.in) below = below || trainable_below[size_t(in)];
      step.backward = reaches && (step_trains[s] || below) && step.layer != fused_softmax;
      for (size_t i = 0; i < step.in.size(); ++i) {
        step.din[i] = step.backward && trainable_below[size_t(step.in[i])];
      }
      const Layer& layer = model.layers[size_t(step.layer)];
      if (step.backward && below && !layer_kind(layer).differentiable(layer)) {
        throw Error("layer '" + layer.name + "' (" + layer_type_name(layer) +
                    ") cannot back-propagate to its inputs, but an updatable layer before it "
                    "needs the loss's gradient");
      }
    }
    plan.needs_grad.assign(blobs, 0);
    for (size_t b = 0; b < blobs; ++b) plan.needs_grad[b] = reaches_loss[b] && trainable_below[b];
  }

  bool alone_on_buffer(int blob_index) const {
    for (size_t b = 0; b < plan.buffer.size(); ++b) {
      if (int(b) != blob_index && plan.buffer[b] == plan.buffer[size_t(blob_index)]) return false;
    }
    return true;
  }

  // Pass 2: in-place ops.
  void plan_in_place() {
    for (PlanStep& step : plan.steps) {
      if (!step.op->runs_in_place()) continue;
      const int in = step.in[0], out = step.out[0];
      const int producer = plan.producer[size_t(in)];
      if (producer < 0 || consumers[size_t(in)] != 1 || exposed[size_t(in)] ||
          exposed[size_t(out)] || !alone_on_buffer(in)) {
        continue;
      }
      const PlanStep* writer = step_of_layer(producer);
      if (!writer || writer->op->backward_reads_output()) continue;
      step.in_place = true;
      share_buffer(plan, out, in);
    }
  }

  PlanStep* step_of_layer(int layer) {
    for (PlanStep& step : plan.steps) {
      if (step.layer == layer) return &step;
    }
    return nullptr;
  }

  // Pass 4: ops that only copy their input share its buffers and leave the plan.
  void plan_aliases() {
    std::vector<PlanStep> kept;
    for (PlanStep& step : plan.steps) {
      const int in = step.in.empty() ? -1 : step.in[0];
      if (step.op->copies_input() && step.in.size() == 1 && step.out.size() == 1 &&
          consumers[size_t(in)] == 1 && !exposed[size_t(in)]) {
        share_buffer(plan, step.out[0], in);
        continue;
      }
      kept.push_back(std::move(step));
    }
    plan.steps = std::move(kept);
  }

  void finish() {
    const size_t blobs = plan.blob_names.size();
    plan.materialised.assign(blobs, 0);
    auto touch = [&](int b) { plan.materialised[size_t(plan.buffer[size_t(b)])] = 1; };
    for (int input : plan.input_blobs) touch(input);
    for (const PlanStep& step : plan.steps) {
      for (int b : step.in) touch(b);
      for (int b : step.out) touch(b);
    }
    for (size_t b = 0; b < blobs; ++b) {
      if (exposed[b]) touch(int(b));
    }
    if (plan.needs_grad.empty()) {
      plan.needs_grad.assign(blobs, 0);
      return;
    }
    // A shared buffer has a gradient when any blob on it needs one.
    std::vector<char> owner_grad(blobs, 0);
    for (size_t b = 0; b < blobs; ++b) {
      if (plan.needs_grad[b]) owner_grad[size_t(plan.buffer[b])] = 1;
    }
    plan.needs_grad = std::move(owner_grad);
  }
};

}  // namespace

void share_buffer(Plan& plan, int blob, int with) {
  const int owner = plan.buffer[size_t(blob)], target = plan.buffer[size_t(with)];
  for (int& buffer : plan.buffer) {
    if (buffer == owner) buffer = target;
  }
}

Plan make_plan(const Model& model, const NetworkOptions& options) {
  validate(model);
  const BlobShapes shapes = infer_shapes(model);
  Planner planner{model, options, {}, {}, {}, {}};
  planner.compile_layers(shapes);
  planner.plan_backward();
  planner.plan_in_place();
  if (options.fuse) {
    fuse_steps(planner.plan, model, planner.consumers, planner.exposed, options.products);
  }
  planner.plan_aliases();
  planner.finish();
  return std::move(planner.plan);
}

}  // namespace edgetrain
