// Training in the background: one job at a time (a training run or a fine-tuning on personal
// samples) on its own thread, its progress kept for /api/train/status and streamed as events, and
// the model published as a new snapshot every few mini-batches, at each epoch's end and at the end.
#pragma once

#include <atomic>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/datasets.h"
#include "edgetrain/data.h"
#include "edgetrain/train.h"
#include "web/event_hub.h"
#include "web/model_host.h"

namespace edgetrain::web {

// Events and charts carry NaN (JSON null, a gap in a chart) where a model has no accuracy: only a
// cross-entropy loss gives one.
inline double accuracy_or_nan(const std::optional<double>& accuracy) {
  return accuracy.value_or(std::numeric_limits<double>::quiet_NaN());
}

// The first `count` samples of a data set (all when count is 0 or larger).
class FirstSamples : public BatchProvider {
 public:
  FirstSamples(const BatchProvider& data, size_t count)
      : data_(data), count_(count == 0 ? data.count() : std::min(count, data.count())) {}
  size_t count() const override { return count_; }
  size_t feature_size() const override { return data_.feature_size(); }
  void copy_features(size_t i, float* dst) const override { data_.copy_features(i, dst); }
  int32_t label(size_t i) const override { return data_.label(i); }

 private:
  const BatchProvider& data_;
  size_t count_;
};

// The training and test sets, read on first use (MNIST takes a second) and kept.
class DataHolder {
 public:
  DataHolder(cli::DataRequest request, size_t train_limit, size_t test_limit)
      : request_(std::move(request)), train_limit_(train_limit), test_limit_(test_limit) {}
  // Throws Error saying where it looked when the data cannot be found or read.
  std::shared_ptr<const cli::LoadedData> get();
  size_t train_limit() const { return train_limit_; }
  size_t test_limit() const { return test_limit_; }
  // "mnist", ..., or what was asked for when not read yet.
  std::string name() const;

 private:
  const cli::DataRequest request_;
  const size_t train_limit_, test_limit_;
  std::mutex load_mutex_;
  mutable std::mutex mutex_;  // guards data_
  std::shared_ptr<const cli::LoadedData> data_;
};

struct TrainerOptions {
  int threads = 0;                      // training and evaluation threads; 0: every core
  int64_t snapshot_every_batches = 10;  // besides every epoch's end and the run's end
  // Called on the training thread after each model it publishes (a test's window into the run).
  std::function<void(const std::shared_ptr<const ModelSnapshot>&)> on_model_published;
};

class Trainer {
 public:
  Trainer(ModelHost& models, EventHub& events, TrainerOptions options);
  ~Trainer();  // stop()

  // What a job's body uses, on the training thread.
  class Job {
   public:
    // Trains `model` in place with the update task, streaming events and publishing snapshots
    // described as `description`; returns when done or cancelled. Throws Error.
    TrainingResult train(Model& model, const BatchProvider& data, const UpdateConfig& config,
                         const std::string& description);
    void phase(const std::string& text);  // "evaluating", ... (status and a "phase" event)
    bool cancelled() const;
    int threads() const;
    void publish(const Model& model, const std::string& description);

   private:
    friend class Trainer;
    explicit Job(Trainer& trainer) : trainer_(trainer) {}
    Trainer& trainer_;
  };
  // Runs `body` on the training thread; its return value is the job's result (status and the
  // "finished" event). Throws HttpError 409 when a job is running.
  void start(const std::string& kind, std::function<nlohmann::json(Job&)> body);
  // Runs `change` while no job runs, none starting meanwhile (a model upload); HttpError 409 when
  // a job runs.
  void while_idle(const std::function<void()>& change);
  // The running job stops after its current mini-batch; false when none runs.
  bool cancel();
  // Cancels and waits for the job.
  void stop();
  bool running() const;
  const TrainerOptions& options() const { return options_; }
  // Progress, settings and (with_history) every mini-batch's and epoch's loss and accuracy of the
  // current or last job.
  nlohmann::json status(bool with_history) const;

 private:
  struct Progress;
  void run_job(const std::string& kind, const std::function<nlohmann::json(Job&)>& body);
  void publish_model(const Model& model, const std::string& description);

  ModelHost& models_;
  EventHub& events_;
  const TrainerOptions options_;
  mutable std::mutex mutex_;
  std::unique_ptr<Progress> progress_;  // guarded by mutex_
  bool running_ = false;                // guarded by mutex_
  std::atomic<bool> cancel_requested_{false};
  std::thread thread_;
};

}  // namespace edgetrain::web
