// One executable step of a plan: a layer kind's kernels bound to its shapes, or a fused op the
// planner made of several layers. Ops hold no buffers; the executor hands them pointers.
//
// Buffers hold `n` samples one after another, each the blob's per-sample size. Backward ADDS into
// the input gradients and parameter gradients (the ops' accumulation rule, src/ops/ops.h); a null
// input gradient means it is not needed.
#pragma once

#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "edgetrain/model.h"

namespace edgetrain {

enum class Mode { kInference, kTraining };

// What one thread's backward shows the others of its part of the mini-batch (BatchSync::share).
struct BatchPart {
  const float* in = nullptr;     // the op's input, (n, input size)
  const float* dout = nullptr;   // its output's gradient, (n, output size)
  float* dparameters = nullptr;  // the thread's parameter-gradient block
  int n = 0;
};

// The threads that split one mini-batch, for ops whose forward couples its samples (batch norm on
// batch statistics) and ops whose backward sums a weight gradient over the whole batch: sums are
// taken over the whole batch in thread order, so every thread gets the same bits whatever the
// timing. Every thread makes the same calls in the same order.
class BatchSync {
 public:
  explicit BatchSync(int threads);
  int threads() const { return threads_; }
  // Every thread calls this with its own `local` (count values); each gets the sum over threads,
  // added in thread order, in `total`.
  void all_reduce(int thread, const double* local, double* total, size_t count);
  // Every thread calls this with its own part; once all have, each gets all the parts, indexed by
  // thread, to read until it calls done_reading(), which returns once every thread has: only then
  // may a thread change or free what its part points to, or share again. Null once a thread has
  // left: the caller then skips its sum (the run is ending with that thread's error).
  const BatchPart* share(int thread, const BatchPart& mine);
  void done_reading();
  // A thread that stops with an error (a sample that cannot be read) calls this instead of the
  // calls it has left, so the others do not wait for it forever: they finish the step with
  // meaningless sums and the error ends the run. The sync is not to be used for another step.
  void leave();

 private:
  int threads_;
  std::barrier<> barrier_;
  std::vector<std::vector<double>> slots_;
  std::vector<BatchPart> parts_;  // per thread
  std::atomic<bool> left_{false};
};

struct OpArgs {
  int n = 0;  // samples in this thread's part of the batch
  Mode mode = Mode::kInference;
  std::vector<const float*> in;  // per input: (n, input size)
  std::vector<float*> out;       // per output: (n, output size)
  std::vector<float*> din;       // backward: per input, or null when not needed
  std::vector<float*> dout;  // writable: in-place ops turn it into their input's gradient
  const float* parameters = nullptr;  // the model's parameter block
  float* dparameters = nullptr;       // backward: its gradient block, same layout
  // backward: dparameters holds zeros for this op's parameters, so a gradient written whole by one
  // product may overwrite instead of add (the product then never reads what it replaces).
  bool dparameters_zero = false;
  float* state = nullptr;  // training: the model's block, for running statistics (one thread)
  float* scratch = nullptr;  // scratch_floats() floats of this thread's
  float* prepared = nullptr;  // prepared_floats() floats: what prepare() wrote, kept between calls
  uint8_t* saved = nullptr;  // saved_bytes_per_sample() * capacity bytes, kept forward → backward
  BatchSync* sync = nullptr;  // training with several threads
  int thread = 0;
  // Inference on one sample split across threads (splits_sample()): this call computes part
  // `part` of `parts` of the outputs (ops::Part), the other parts run at once on other threads
  // with the same buffers and their own scratch.
  int part = 0, parts = 1;
};

// A step splits a sample between threads only when its forward does at least this much: below it
// (~2 µs on one core) handing half to another thread (~0.5 µs there and back) gains little.
constexpr int64_t kSplitMinMultiplyAdds = int64_t(1) << 16;

class Op {
 public:
  virtual ~Op() = default;
  virtual void forward(const OpArgs& args) const = 0;
  virtual void backward(const OpArgs& args) const {}
  virtual size_t scratch_floats() const { return 0; }
  // What forward derives from the parameters alone (a convolution's weights in its kernel's
  // layout): prepare() writes it to OpArgs::prepared from OpArgs::parameters, and the executor
  // calls it before forward whenever the parameters may have changed since (training: every call;
  // a Predictor, whose model never changes: once).
  virtual size_t prepared_floats() const { return 0; }
  virtual void prepare(const OpArgs& args) const {}
  virtual size_t saved_bytes_per_sample() const { return 0; }
  // Forward in this mode needs the whole batch (all threads call it together, with args.sync).
  virtual bool couples_batch(Mode mode) const { return false; }
  // Training with several threads (args.sync): a parameter range whose gradient this op's backward
  // sums over the whole batch itself, into thread 0's gradient block, each thread writing its share
  // of it (all threads call backward together); the other threads' blocks hold nothing there, so
  // the optimizer takes that range from thread 0's block alone. Size 0: none.
  virtual ParameterSlice gradient_summed_across_threads() const { return {}; }
  // Inference forward takes OpArgs::part / parts (each part writes its own share of every
  // sample's outputs, together the bits one call writes), and is large enough to be worth it.
  virtual bool splits_sample() const { return false; }
  // Backward can read the output and overwrite the gradient in place: its input and output may
  // share buffers (an element-wise op whose derivative follows from its output, e.g. ReLU).
  virtual bool runs_in_place() const { return false; }
  // Backward given in place: dout[0] (the buffer din[0] shares) becomes the input's gradient.
  virtual void backward_in_place(const OpArgs& args) const {}
  // Backward reads this op's forward output, so nothing may run in place over it. Conservative by
  // default; ops whose backward reads only inputs and parameters say so.
  virtual bool backward_reads_output() const { return true; }
  // The output is the input's bytes unchanged (a reshape in the same order): the planner can give
  // both one buffer and drop the step.
  virtual bool copies_input() const { return false; }
  // Input values the op cannot take (an embedding's index outside its vocabulary). Kernels never
  // throw: they give a defined result instead (an embedding: zeros plus bias); callers that can
  // refuse such input (the predictor, the data checks) ask invalid_input() first for the inputs
  // checks_input() names. It returns a message for the first bad value of n samples, else "".
  virtual bool checks_input(size_t input) const { return false; }
  virtual std::string invalid_input(size_t input, const float* values, int n) const { return {}; }
};

}  // namespace edgetrain
