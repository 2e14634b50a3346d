// A model compiled for execution: each layer becomes a step with its kernel shapes resolved, and a
// Workspace holds one thread's activations and gradients for up to `capacity` samples.
// Create (validate, resolve shapes) once → make a workspace per thread → run many batches with no
// validation and no allocation.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "edgetrain/model.h"
#include "ops/ops.h"

namespace edgetrain {

struct Workspace {
  int capacity = 0;                          // samples each buffer holds
  std::vector<int> storage;                  // blob → buffer (an in-place ReLU shares its input's)
  std::vector<std::vector<float>> values;    // per buffer: (capacity, blob size)
  std::vector<std::vector<float>> grads;     // per buffer that needs a gradient, else empty
  std::vector<std::vector<int32_t>> argmax;  // per step: max-pool argmax, else empty
  std::vector<std::vector<uint8_t>> window_argmax;  // per step: fused conv+ReLU+pool, else empty
  std::vector<float> scratch;                // conv im2col buffer

  float* value(int blob) { return values[size_t(storage[size_t(blob)])].data(); }
  float* grad(int blob) { return grads[size_t(storage[size_t(blob)])].data(); }
};

class Network {
 public:
  // Throws Error when the model is inconsistent. fuse=false keeps every layer a separate step
  // (the reference the fused ops are tested against).
  explicit Network(const Model& model, bool fuse = true);

  // Inference-only workspaces (with_gradients false) hold no gradient buffers.
  Workspace make_workspace(int capacity, bool with_gradients = true) const;
  // What make_workspace(capacity, with_gradients) allocates is fixed + capacity · per_sample
  // bytes; counted without allocating, so a run that cannot fit is refused first.
  struct WorkspaceBytes {
    size_t fixed = 0, per_sample = 0;
  };
  WorkspaceBytes workspace_bytes(bool with_gradients = true) const;

  int blob(const std::string& name) const;  // throws Error naming an unknown blob
  size_t blob_size(int blob) const { return blob_sizes_[size_t(blob)]; }
  const std::array<int, 3>& blob_shape(int blob) const { return blob_shapes_[size_t(blob)]; }
  int input_blob() const { return input_blob_; }
  // Index of the layer producing a blob, or -1 for a model input.
  int producer(int blob) const { return producers_[size_t(blob)]; }
  bool is_softmax(int layer) const;

  // Writes sample i of the input blob from features scaled to [0, 1], laid out (C, H, W). A
  // multi-array input takes them as they are; an image input gets the raw 0-255 pixel values passed
  // through the model's image scaler, exactly as Core ML feeds an image.
  void load_input(Workspace& workspace, int i, const float* features) const;

  // Runs every layer on the first n samples of the input blob (already filled).
  void forward(Workspace& workspace, const Model& model, int n) const;
  // Runs layers [0, end_layer) backward. The caller has zeroed every grad and seeded the grad of
  // the blobs the loss reads. Adds parameter gradients of updatable layers into dparameters (laid
  // out like model.parameters). Skips work no updatable layer needs.
  void backward(Workspace& workspace, const Model& model, float* dparameters, int n,
                int end_layer) const;
  void zero_grads(Workspace& workspace, int n) const;

 private:
  enum class Kind { kConvolution, kMaxPool, kAvgPool, kActivation, kFlatten, kInnerProduct, kSoftmax };
  struct Step {
    Kind kind;
    int layer = 0;
    int in = 0, out = 0;  // blob indices
    std::array<int, 3> in_shape{}, out_shape{};
    ops::Conv2dShape conv;  // batch filled at run time
    ops::Pool2dShape pool;
    bool average_excludes_padding = true;
    ActivationParams activation;
    bool channel_last = false;
    bool runs_backward = false;  // its output's gradient reaches an updatable layer
    bool needs_dinput = false;   // its input's gradient is needed further back
    // A ReLU whose input feeds nothing else runs in place: its output and gradient share the
    // input's buffers, and backward masks the gradient in place.
    bool in_place = false;
    // ...and when a max-pool alone reads that ReLU, the pool masks its own output gradient by
    // (pooled value > 0), which is the ReLU's mask at every argmax: the ReLU's backward is skipped.
    bool mask_folded_into_pool = false;
    bool pool_masks_relu = false;  // on that max-pool
    // A flatten whose input already holds its output order (channel-first, or a fused op's
    // channel-last output) and feeds nothing else: its output and gradient are its input's
    // buffers, and it does nothing.
    bool aliased = false;
    // A convolution whose output only an in-place ReLU reads, whose output only a max-pool reads
    // (window = stride, no padding) runs all three as one op (ops::conv_relu_pool_*): the
    // convolution step writes the pool's output; the ReLU and pool steps are `absorbed` and skip,
    // and the convolution's output blob gets no buffers at all.
    bool fused = false;
    int fused_out = 0;  // the pool's output blob
    ops::ConvReluPoolShape fused_shape;
    bool absorbed = false;
  };

  void plan_in_place(const Model& model);
  void plan_fusion();
  // `blob` (and whatever shares its buffers) uses `with`'s buffers from now on.
  void share_buffers(int blob, int with);

  std::vector<Step> steps_;
  std::vector<std::string> blob_names_;
  std::vector<std::array<int, 3>> blob_shapes_;
  std::vector<size_t> blob_sizes_;
  std::vector<int> producers_;
  std::vector<bool> blob_needs_grad_;
  std::vector<int> storage_;  // blob → buffer
  std::vector<bool> exposed_;  // per blob: read from outside the layers (outputs, losses)
  std::vector<bool> elided_;  // per buffer: never materialised (inside a fused op)
  int input_blob_ = 0;
  size_t scratch_floats_ = 0;
  bool input_is_identity_ = true;
  float input_scale_ = 1.0f;       // applied to [0, 1] features
  std::vector<float> input_bias_;  // per input channel
};

}  // namespace edgetrain
