// The update task. Data-parallel over the mini-batch: thread t takes the contiguous share
// [B·t/T, B·(t+1)/T) of the batch, runs forward and backward in its own workspace and adds into its
// own gradient block; the blocks are then summed in thread order and the optimizer steps, both split
// by parameter index. Nothing depends on timing, so a seed and a thread count fix every bit.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "edgetrain/error.h"
#include "edgetrain/train.h"
#include "nn/network.h"
#include "nn/shapes.h"
#include "tensor/rng.h"
#include "tensor/thread_pool.h"
#include "train/loss_head.h"
#include "train/optimizer.h"

namespace edgetrain {
namespace {

// The parameter runs an optimizer touches: the weights and biases of updatable layers.
std::vector<ParameterSlice> updatable_slices(const Model& model) {
  std::vector<ParameterSlice> slices;
  for (const Layer& layer : model.layers) {
    if (!layer.updatable) continue;
    for (const ParameterSlice& slice : {layer.weight, layer.bias}) {
      if (slice.size) slices.push_back(slice);
    }
  }
  return slices;
}

// Calls body(offset, count) for the part of [begin, end) of the slices laid end to end.
template <typename Body>
void for_each_run(const std::vector<ParameterSlice>& slices, size_t begin, size_t end, Body body) {
  size_t position = 0;
  for (const ParameterSlice& slice : slices) {
    size_t lo = std::max(begin, position), hi = std::min(end, position + slice.size);
    if (lo < hi) body(slice.offset + (lo - position), hi - lo);
    position += slice.size;
  }
}

}  // namespace

UpdateTask::UpdateTask(Model& model, const BatchProvider& data, UpdateConfig config)
    : model_(model), data_(data), config_(config) {}

TrainingResult UpdateTask::run() {
  using clock = std::chrono::steady_clock;
  const auto started = clock::now();
  auto seconds_since_start = [&] {
    return std::chrono::duration<double>(clock::now() - started).count();
  };

  const ResolvedUpdate settings = resolve_update(model_, config_);
  const Network network(model_);
  const LossHead head(model_, network);
  head.check_data(data_);
  const size_t samples = data_.count();
  const int64_t batch_size = settings.batch_size;
  const int64_t batches = int64_t((samples + size_t(batch_size) - 1) / size_t(batch_size));

  ThreadPool pool(settings.threads);
  const int threads = pool.size();
  const int capacity = int((batch_size + threads - 1) / threads);
  std::vector<Workspace> workspaces;
  std::vector<std::vector<float>> gradients;
  std::vector<LossHead::Scratch> scratch;
  for (int t = 0; t < threads; ++t) {
    workspaces.push_back(network.make_workspace(capacity));
    gradients.emplace_back(model_.parameters.size());
    scratch.push_back(head.make_scratch(capacity));
  }
  const std::vector<ParameterSlice> slices = updatable_slices(model_);
  const size_t trained = std::accumulate(slices.begin(), slices.end(), size_t(0),
                                         [](size_t sum, const ParameterSlice& s) { return sum + s.size; });
  std::vector<float> moment1(model_.parameters.size()), moment2;
  if (settings.adam) moment2.resize(model_.parameters.size());

  std::vector<size_t> order(samples);
  std::iota(order.begin(), order.end(), size_t(0));
  Rng rng(settings.seed);

  TrainingResult result;
  if (handlers.training_began) handlers.training_began(*this, {settings, samples, batches});
  int64_t step = 0;
  std::vector<double> thread_loss(static_cast<size_t>(threads));
  std::vector<size_t> thread_correct(static_cast<size_t>(threads));

  for (int64_t epoch = 0; epoch < settings.epochs && !cancelled_; ++epoch) {
    if (settings.shuffle) shuffle(order, rng);
    double epoch_loss = 0;
    size_t epoch_correct = 0, epoch_samples = 0;
    for (int64_t batch = 0; batch < batches && !cancelled_; ++batch) {
      const size_t first = size_t(batch * batch_size);
      const int count = int(std::min(size_t(batch_size), samples - first));
      pool.run([&](int t) {
        const int begin = count * t / threads, end = count * (t + 1) / threads;
        float* dparameters = gradients[size_t(t)].data();
        for_each_run(slices, 0, trained, [&](size_t offset, size_t n) {
          std::fill_n(dparameters + offset, n, 0.0f);
        });
        thread_loss[size_t(t)] = 0;
        thread_correct[size_t(t)] = 0;
        if (begin == end) return;
        Workspace& ws = workspaces[size_t(t)];
        const size_t* indices = order.data() + first + size_t(begin);
        const int n = end - begin;
        head.load_batch(ws, scratch[size_t(t)], data_, indices, n);
        network.forward(ws, model_, n);
        network.zero_grads(ws, n);
        LossHead::Outcome outcome = head.loss_and_seed(ws, scratch[size_t(t)], n, count);
        network.backward(ws, model_, dparameters, n, head.backward_end());
        thread_loss[size_t(t)] = outcome.loss;
        thread_correct[size_t(t)] = outcome.correct;
      });
      ++step;
      pool.parallel_for(trained, [&](size_t begin, size_t end) {
        for_each_run(slices, begin, end, [&](size_t offset, size_t n) {
          float* sum = gradients[0].data() + offset;
          for (int t = 1; t < threads; ++t) {
            const float* part = gradients[size_t(t)].data() + offset;
            for (size_t i = 0; i < n; ++i) sum[i] += part[i];
          }
          float* parameters = model_.parameters.data() + offset;
          if (settings.adam) {
            adam_step(parameters, sum, moment1.data() + offset, moment2.data() + offset, n,
                      settings.learning_rate, settings.beta1, settings.beta2, settings.eps, step);
          } else {
            sgd_step(parameters, sum, moment1.data() + offset, n, settings.learning_rate,
                     settings.momentum, step == 1);
          }
        });
      });
      double batch_loss = 0;
      for (int t = 0; t < threads; ++t) {
        batch_loss += thread_loss[size_t(t)];
        epoch_correct += thread_correct[size_t(t)];
      }
      if (!std::isfinite(batch_loss)) {
        throw Error("training diverged: the loss became " + std::to_string(batch_loss) +
                    " at epoch " + std::to_string(epoch + 1) + ", batch " +
                    std::to_string(batch + 1) + " (try a lower learning rate)");
      }
      epoch_loss += batch_loss * count;
      epoch_samples += size_t(count);
      result.samples_seen += size_t(count);
      if (handlers.batch_end) {
        handlers.batch_end(*this, {epoch, batch, batches, batch_loss, result.samples_seen,
                                   seconds_since_start()});
      }
    }
    // A cancelled epoch reports nothing: its metrics would cover only part of the data.
    if (epoch_samples < samples) break;
    EpochEnd end{epoch, epoch_loss / double(epoch_samples),
                 double(epoch_correct) / double(epoch_samples), seconds_since_start()};
    result.final_loss = end.mean_loss;
    result.final_accuracy = end.accuracy;
    result.epochs_completed = epoch + 1;
    if (handlers.epoch_end) handlers.epoch_end(*this, end);
  }
  result.cancelled = cancelled_;
  result.seconds = seconds_since_start();
  if (handlers.completed) handlers.completed(*this, result);
  return result;
}

}  // namespace edgetrain
