// A plan is data: the steps the executor runs (one per layer, or one for several layers the planner
// fused), which blobs share a buffer, and what runs backward. make_plan() compiles every layer
// through its kind and then rewrites:
//   1. backward: from the loss, the steps whose outputs reach it and that train or lie below
//      something that does; softmax + cross-entropy fused (the loss seeds the softmax's input);
//   2. in place: an op whose backward needs only its output (ReLU) writes over its input when
//      nothing else reads that input and its producer's backward does not read it;
//   3. fusion: convolution → in-place ReLU → max-pool (window = stride) becomes one op whose
//      convolution output never reaches memory; fused layers pass data channel-last; a max-pool
//      after an in-place ReLU masks the gradient itself, and the ReLU leaves backward;
//   4. aliasing: an op that copies its input's bytes (channel-first flatten) shares its buffers
//      and disappears.
// NetworkOptions::fuse = false skips 3 (the reference the fused ops are tested against).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "edgetrain/model.h"
#include "nn/op.h"
#include "ops/ops.h"

namespace edgetrain {

struct NetworkOptions {
  bool fuse = true;
  // Plan backward from the model's (first) loss; the model must be updatable.
  bool train = false;
  // How the layers that can (inner product, the fused convolution's forward) multiply:
  // --precision bf16 asks for bf16 products with fp32 sums (issue #14). The caller checks
  // ops::bf16_supported() first.
  ops::Products products = ops::Products::kFloat32;
};

struct PlanStep {
  std::unique_ptr<Op> op;
  std::string label;          // the layer's name, or "conv1+relu1+pooling1"
  int layer = -1;             // the model layer it runs (the first, when fused)
  std::vector<int> in, out;   // blob indices
  std::vector<char> din;      // per input: backward adds into its gradient
  bool in_place = false;      // out[0] shares in[0]'s buffers; backward runs backward_in_place
  bool backward = false;      // part of the backward pass
};

struct Plan {
  std::vector<std::string> blob_names;
  std::vector<Shape> blob_shapes;
  std::vector<int> producer;     // per blob: the layer writing it, or -1 for a model input
  std::vector<int> input_blobs;  // the model's inputs, in order
  std::vector<PlanStep> steps;   // forward order; backward runs the marked ones in reverse
  std::vector<int> buffer;       // blob → the blob owning the buffer it uses
  std::vector<char> materialised;  // per owning blob: has a values buffer
  std::vector<char> needs_grad;    // per owning blob: has a gradient buffer
  int loss_blob = -1;              // train: the blob the loss reads
  int loss_seed_blob = -1;         // the blob whose gradient the loss seeds
};

// Validates the model and plans it. Throws Error when the model is inconsistent or, when
// training, a layer that cannot back-propagate sits between an updatable layer and the loss.
Plan make_plan(const Model& model, const NetworkOptions& options);

}  // namespace edgetrain
