// A model compiled for execution: its plan (plan.h) and the executor that runs it. A Workspace holds
// one thread's activations, gradients and saved values for up to `capacity` samples.
// Create (validate, plan) once → make a workspace per thread → run many batches with no validation
// and no allocation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgetrain/model.h"
#include "nn/op.h"
#include "nn/plan.h"

namespace edgetrain {

class Network;

class Workspace {
 public:
  Workspace() = default;
  Workspace(Workspace&&) = default;
  Workspace& operator=(Workspace&&) = default;
  Workspace(const Workspace&) = delete;  // the bound pointers point into this one's buffers
  Workspace& operator=(const Workspace&) = delete;

  int capacity() const { return capacity_; }
  float* value(int blob) { return values_[size_t(buffer_[size_t(blob)])].data(); }
  float* grad(int blob) { return grads_[size_t(buffer_[size_t(blob)])].data(); }
  // Bytes of every buffer this workspace holds (what Network::workspace_bytes predicts).
  size_t allocated_bytes() const;

 private:
  friend class Network;
  int capacity_ = 0;
  std::vector<int> buffer_;                   // blob → owning blob
  std::vector<std::vector<float>> values_;    // per owning blob: (capacity, blob size)
  std::vector<std::vector<float>> grads_;     // per owning blob that needs one, else empty
  std::vector<std::vector<uint8_t>> saved_;   // per step: what forward keeps for backward
  std::vector<float> scratch_;
  std::vector<std::vector<float>> prepared_;  // per step: Op::prepare()'s output
  std::vector<uint8_t> prepared_ready_;       // per step: prepared_ holds the current parameters'
  std::vector<OpArgs> bound_;                 // per step: its buffers
};

// How one forward pass runs: training mode lets batch-coupled ops use batch statistics (all threads
// call forward together, sharing `sync`) and update running statistics in `state` (the model's
// parameter block; thread 0 writes it).
struct Pass {
  Mode mode = Mode::kInference;
  float* state = nullptr;
  BatchSync* sync = nullptr;
  int thread = 0;
  // Ask each op about its input values before running it (Op::invalid_input) and throw Error
  // naming the layer, the input and the value. Not with `sync`: a thread that throws would leave
  // the others waiting.
  bool check_inputs = false;
  // The parameters are those this workspace's previous forward ran with, unchanged: what the
  // ops prepared from them then (Op::prepare) still holds and is not made again.
  bool parameters_unchanged = false;
  // One sample split across threads: steps that splits_sample() compute part `part` of `parts`
  // (inference only; each thread with its own workspace from make_partner_workspace).
  int part = 0, parts = 1;
};

class Network {
 public:
  // Throws Error when the model is inconsistent (see make_plan).
  explicit Network(const Model& model, NetworkOptions options = {});

  // Gradient buffers exist when the network was planned for training.
  Workspace make_workspace(int capacity) const;
  // A workspace for another thread computing parts of the same samples: `main`'s value buffers
  // (which must outlive it) with scratch of its own. Only for forward_step on steps that
  // splits_sample(); its own value() and grad() are not to be used.
  Workspace make_partner_workspace(const Workspace& main) const;
  // The step's forward can split one sample between threads (Op::splits_sample).
  bool splits_sample(size_t step) const { return plan_.steps[step].op->splits_sample(); }
  // What make_workspace(capacity) allocates is fixed + capacity · per_sample bytes; counted
  // without allocating, so a run that cannot fit is refused first. Gradients count only for a
  // network planned for training, and only when asked.
  struct WorkspaceBytes {
    size_t fixed = 0, per_sample = 0;
  };
  WorkspaceBytes workspace_bytes(bool with_gradients = true) const;
  // The floats of a workspace's value and gradient buffers alone.
  size_t buffer_floats(int capacity) const;

  int blob(const std::string& name) const;  // throws Error naming an unknown blob
  const std::string& blob_name(int blob) const { return plan_.blob_names[size_t(blob)]; }
  size_t blob_size(int blob) const { return size_t(plan_.blob_shapes[size_t(blob)].count()); }
  const Shape& blob_shape(int blob) const { return plan_.blob_shapes[size_t(blob)]; }
  // The layer producing a blob, or -1 for a model input.
  int producer(int blob) const { return plan_.producer[size_t(blob)]; }
  const std::vector<int>& input_blobs() const { return plan_.input_blobs; }
  // Values one sample's features hold: every input's, in the model's input order.
  size_t input_size() const { return input_size_; }

  // Writes sample i of every input from `features` (input_size() values: each input's in turn,
  // laid out as its shape). A multi-array input takes them as they are; an image input gets them
  // as [0, 1] pixels and sees the raw 0-255 values through the model's image scaler, exactly as
  // Core ML feeds an image.
  void load_input(Workspace& workspace, int i, const float* features) const;

  // Whether check_features() checks anything: some op takes a model input it can refuse values
  // of (an embedding's indices).
  bool checks_features() const { return !feature_checks_.empty(); }
  // Throws Error when one sample's features (as load_input takes them) hold a value an op reading
  // that multi-array input directly cannot take, naming the layer, input and value.
  void check_features(const float* features) const;

  // Runs every step on the first n samples of the inputs (already loaded).
  void forward(Workspace& workspace, const Model& model, int n, const Pass& pass = {}) const;
  // Zeroes the gradients of the first n samples; the loss then seeds loss_seed_blob()'s.
  void zero_grads(Workspace& workspace, int n) const;
  // Runs the backward steps, adding parameter gradients of updatable layers into dparameters
  // (laid out like model.parameters). dparameters_zero: the caller guarantees dparameters holds
  // zeros (the trainer's buffers, cleared by the last optimizer step); ops may then write instead
  // of add (Op: OpArgs::dparameters_zero), with the same bits.
  void backward(Workspace& workspace, const Model& model, float* dparameters, int n,
                bool dparameters_zero = false) const;

  // Training plans: the blob the loss reads, and the one whose gradient it seeds (the softmax's
  // input when softmax + cross-entropy run fused).
  int loss_blob() const { return plan_.loss_blob; }
  int loss_seed_blob() const { return plan_.loss_seed_blob; }
  bool softmax_fused_into_loss() const { return plan_.loss_seed_blob != plan_.loss_blob; }
  // Some step's forward needs the whole mini-batch in training (batch statistics).
  bool couples_batch() const;
  // Training with several threads sharing a BatchSync: the parameter ranges whose gradient
  // backward sums over the whole batch into thread 0's block (Op::gradient_summed_across_threads).
  // Every thread must then run forward and backward, even with no samples of its own.
  std::vector<ParameterSlice> gradients_summed_across_threads() const;

  // One step at a time, as forward() and backward() run them in order (for profiling:
  // bench/roofline times each step of a network). backward_step skips a step without backward.
  void forward_step(Workspace& workspace, const Model& model, int n, size_t step,
                    const Pass& pass = {}) const;
  void backward_step(Workspace& workspace, const Model& model, float* dparameters, int n,
                     size_t step, bool dparameters_zero = false) const;
  struct StepInfo {
    std::string label;            // "conv1+relu1+pooling1"
    int layer = -1;               // the model layer it runs (the first, when fused)
    bool backward = false;        // runs in backward
    bool input_gradient = false;  // backward computes its first input's gradient
  };
  StepInfo step_info(size_t step) const;

  // The plan as text, a step a line ("conv1+relu1+pooling1: [1, 28, 28] -> [32, 13, 13]"), for
  // tests and `inspect --plan`.
  std::string describe_plan() const;
  size_t step_count() const { return plan_.steps.size(); }

 private:
  struct InputLoad {
    int blob = 0;
    size_t size = 0;      // values per sample
    bool image = false;   // scale and bias per channel
    float scale = 1.0f;   // applied to [0, 1] features
    std::vector<float> bias;  // per channel
  };

  // An op input that reads a multi-array model input and checks its values.
  struct FeatureCheck {
    size_t step = 0, input = 0;
    size_t offset = 0;  // of the model input's values in one sample's features
  };
  [[noreturn]] void refuse(size_t step, size_t input, const std::string& why) const;

  Plan plan_;
  bool train_ = false;
  std::vector<FeatureCheck> feature_checks_;
  std::vector<std::string> step_layers_;  // per step: "layer 'name' (type)", for messages
  size_t input_size_ = 0;
  std::vector<InputLoad> loads_;
  size_t scratch_floats_ = 0;
};

}  // namespace edgetrain
