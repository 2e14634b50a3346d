#include "train/memory_bounds.h"

#include <string>

#include "base/machine.h"

namespace edgetrain {
namespace {

// Bytes of a workspace plus loss scratch for `capacity` samples. The scratch is probed at one
// sample (a label, and a target row for mean squared error: a few bytes).
double per_thread_buffer_bytes(const Network& network, const LossHead& head, double capacity,
                               bool with_gradients) {
  const Network::WorkspaceBytes workspace = network.workspace_bytes(with_gradients);
  const LossHead::Scratch one = head.make_scratch(1);
  const double scratch_per_sample =
      double(one.labels.size() * sizeof(int32_t) + one.targets.size() * sizeof(float));
  return double(workspace.fixed) + capacity * (double(workspace.per_sample) + scratch_per_sample);
}

}  // namespace

double training_bytes(const Model& model, const Network& network, const LossHead& head,
                      const ResolvedUpdate& settings, size_t samples, bool checkpointing) {
  const double threads = settings.threads;
  const double capacity = double((settings.batch_size + settings.threads - 1) / settings.threads);
  const double weights = double(model.parameters.size()) * sizeof(float);
  const double order = double(samples) * sizeof(uint64_t);
  double bytes = threads * (per_thread_buffer_bytes(network, head, capacity, true) + weights);
  bytes += weights * ((settings.optimizer == OptimizerKind::kAdam) ? 2 : 1) + order;
  // The state keeps a copy of the weights; the encoder holds weights, moments and order at once.
  if (checkpointing) bytes += weights + (weights * 3 + order);
  return bytes;
}

void check_training_fits(const Model& model, const Network& network, const LossHead& head,
                         const ResolvedUpdate& settings, size_t samples, bool checkpointing) {
  const int64_t capacity = (settings.batch_size + settings.threads - 1) / settings.threads;
  const double per_sample =
      per_thread_buffer_bytes(network, head, 1, true) - per_thread_buffer_bytes(network, head, 0, true);
  check_memory(training_bytes(model, network, head, settings, samples, checkpointing),
               "training with mini-batches of " + std::to_string(settings.batch_size) + " on " +
                   std::to_string(settings.threads) + " thread" + (settings.threads > 1 ? "s" : "") +
                   " (" + std::to_string(capacity) + " samples per thread, " +
                   byte_text(per_sample) + " each)",
               "use a smaller mini-batch size or fewer threads");
}

void check_evaluation_fits(const Network& network, const LossHead& head, int threads, int chunk) {
  const double confusion = double(head.classes()) * head.classes() * sizeof(int64_t);
  check_memory(threads * (per_thread_buffer_bytes(network, head, chunk, false) + confusion),
               "evaluating on " + std::to_string(threads) + " thread" + (threads > 1 ? "s" : "") +
                   " (" + std::to_string(chunk) + " samples at a time per thread)",
               "use fewer threads");
}

void check_prediction_fits(const Network& network) {
  const Network::WorkspaceBytes workspace = network.workspace_bytes(false);
  check_memory(double(workspace.fixed + workspace.per_sample), "predicting one sample",
               "the model is too large for this machine");
}

}  // namespace edgetrain
