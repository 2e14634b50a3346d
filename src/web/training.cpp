#include "web/training.h"

#include <cmath>

#include "edgetrain/error.h"
#include "web/http_util.h"

namespace edgetrain::web {

std::shared_ptr<const cli::LoadedData> DataHolder::get() {
  std::lock_guard<std::mutex> loading(load_mutex_);  // one reader; name() need not wait for it
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (data_) return data_;
  }
  auto data = std::make_shared<const cli::LoadedData>(cli::load_data(request_));
  std::lock_guard<std::mutex> lock(mutex_);
  data_ = data;
  return data_;
}

std::string DataHolder::name() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (data_) return data_->name;
  return request_.dataset.empty() ? "mnist, else fashion-mnist" : request_.dataset;
}

// The current (or last) job, as /api/train/status reports it. Guarded by Trainer::mutex_.
struct Trainer::Progress {
  uint64_t run = 0;
  std::string kind;            // "train" or "personalise"
  std::string state = "idle";  // idle, running, done, cancelled, failed
  std::string phase, error;
  nlohmann::json settings = nlohmann::json::object();
  int64_t epochs = 0, batches_per_epoch = 0, epoch = 0, batch = 0;
  uint64_t samples_done = 0, total_samples = 0;
  double elapsed_seconds = 0, samples_per_second = 0, eta_seconds = 0;
  double loss = 0, accuracy = 0;
  // x: epochs done (fractional), one entry per mini-batch / per epoch.
  std::vector<double> batch_x, batch_loss, batch_accuracy;
  std::vector<double> epoch_x, epoch_loss, epoch_accuracy;
  nlohmann::json result;  // what the job's body returned
};

Trainer::Trainer(ModelHost& models, EventHub& events, TrainerOptions options)
    : models_(models),
      events_(events),
      options_(std::move(options)),
      progress_(std::make_unique<Progress>()) {}

Trainer::~Trainer() {
  stop();
}

bool Trainer::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

void Trainer::start(const std::string& kind, std::function<nlohmann::json(Job&)> body) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_) {
    throw HttpError(409, "a " + progress_->kind + " job is running; stop it first or wait");
  }
  if (thread_.joinable()) thread_.join();  // the last job has finished its body
  const uint64_t run = progress_->run + 1;
  *progress_ = Progress{};
  progress_->run = run;
  progress_->kind = kind;
  progress_->state = "running";
  running_ = true;
  cancel_requested_ = false;
  thread_ = std::thread([this, kind, body = std::move(body)] { run_job(kind, body); });
}

void Trainer::run_job(const std::string& kind, const std::function<nlohmann::json(Job&)>& body) {
  Job job(*this);
  nlohmann::json result, finished;
  std::string state = "done", error;
  try {
    result = body(job);
    if (cancel_requested_) state = "cancelled";
  } catch (const std::exception& e) {
    state = "failed";
    error = e.what();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    progress_->state = state;
    progress_->error = error;
    progress_->result = result;
    progress_->phase.clear();
    finished = {{"run", progress_->run}, {"kind", kind}, {"state", state}, {"result", result}};
    if (!error.empty()) finished["error"] = error;
    running_ = false;
  }
  events_.publish("finished", finished);
}

void Trainer::while_idle(const std::function<void()>& change) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_) {
    throw HttpError(409, "a " + progress_->kind + " job is running; stop it first or wait");
  }
  change();
}

bool Trainer::cancel() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_) cancel_requested_ = true;
  return running_;
}

void Trainer::stop() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

void Trainer::publish_model(const Model& model, const std::string& description) {
  const std::shared_ptr<const ModelSnapshot> snapshot = models_.publish(model, description);
  events_.publish("model", {{"version", snapshot->version()}, {"description", description}});
  if (options_.on_model_published) options_.on_model_published(snapshot);
}

void Trainer::Job::publish(const Model& model, const std::string& description) {
  trainer_.publish_model(model, description);
}

bool Trainer::Job::cancelled() const {
  return trainer_.cancel_requested_;
}

int Trainer::Job::threads() const {
  return trainer_.options_.threads;
}

void Trainer::Job::phase(const std::string& text) {
  uint64_t run;
  {
    std::lock_guard<std::mutex> lock(trainer_.mutex_);
    trainer_.progress_->phase = text;
    run = trainer_.progress_->run;
  }
  trainer_.events_.publish("phase", {{"run", run}, {"text", text}});
}

TrainingResult Trainer::Job::train(Model& model, const BatchProvider& data,
                                   const UpdateConfig& config, const std::string& description) {
  Trainer& t = trainer_;
  UpdateTask task(model, data, config);
  int64_t unpublished = 0;  // mini-batches since the last snapshot
  task.handlers.training_began = [&](UpdateTask& task, const TrainingBegan& began) {
    nlohmann::json event;
    {
      std::lock_guard<std::mutex> lock(t.mutex_);
      Progress& p = *t.progress_;
      p.epochs = began.settings.epochs;
      p.batches_per_epoch = began.batches_per_epoch;
      p.total_samples = uint64_t(began.samples) * uint64_t(began.settings.epochs);
      p.settings = {{"epochs", began.settings.epochs},
                    {"batch_size", began.settings.batch_size},
                    {"learning_rate", began.settings.learning_rate},
                    {"optimizer", began.settings.optimizer == OptimizerKind::kAdam ? "adam" : "sgd"},
                    {"threads", began.settings.threads},
                    {"samples", began.samples}};
      event = {{"run", p.run},
               {"kind", p.kind},
               {"settings", p.settings},
               {"batches_per_epoch", p.batches_per_epoch},
               {"total_samples", p.total_samples}};
    }
    t.events_.publish("began", event);
    if (t.cancel_requested_) task.cancel();
  };
  task.handlers.batch_end = [&](UpdateTask& task, const BatchEnd& end) {
    const double x = double(end.epoch) + double(end.batch + 1) / double(end.batches_per_epoch);
    nlohmann::json event;
    {
      std::lock_guard<std::mutex> lock(t.mutex_);
      Progress& p = *t.progress_;
      p.epoch = end.epoch;
      p.batch = end.batch;
      p.samples_done = end.samples_done;
      p.elapsed_seconds = end.elapsed_seconds;
      p.loss = end.loss;
      p.accuracy = accuracy_or_nan(end.accuracy);
      p.samples_per_second =
          end.elapsed_seconds > 0 ? double(end.samples_done) / end.elapsed_seconds : 0;
      p.eta_seconds = p.samples_per_second > 0
                          ? double(p.total_samples - p.samples_done) / p.samples_per_second
                          : 0;
      p.batch_x.push_back(x);
      p.batch_loss.push_back(end.loss);
      p.batch_accuracy.push_back(accuracy_or_nan(end.accuracy));
      event = {{"run", p.run},
               {"epoch", end.epoch},
               {"batch", end.batch},
               {"batches_per_epoch", end.batches_per_epoch},
               {"x", x},
               {"loss", end.loss},
               {"accuracy", accuracy_or_nan(end.accuracy)},
               {"samples_done", end.samples_done},
               {"total_samples", p.total_samples},
               {"elapsed_seconds", end.elapsed_seconds},
               {"samples_per_second", p.samples_per_second},
               {"eta_seconds", p.eta_seconds}};
    }
    t.events_.publish("batch", event);
    if (++unpublished >= std::max<int64_t>(1, t.options_.snapshot_every_batches)) {
      unpublished = 0;
      t.publish_model(task.model(), description);
    }
    if (t.cancel_requested_) task.cancel();
  };
  task.handlers.epoch_end = [&](UpdateTask& task, const EpochEnd& end) {
    nlohmann::json event;
    {
      std::lock_guard<std::mutex> lock(t.mutex_);
      Progress& p = *t.progress_;
      p.epoch_x.push_back(double(end.epoch + 1));
      p.epoch_loss.push_back(end.mean_loss);
      p.epoch_accuracy.push_back(accuracy_or_nan(end.accuracy));
      event = {{"run", p.run},
               {"epoch", end.epoch},
               {"x", end.epoch + 1},
               {"loss", end.mean_loss},
               {"accuracy", accuracy_or_nan(end.accuracy)},
               {"elapsed_seconds", end.elapsed_seconds}};
    }
    t.events_.publish("epoch", event);
    unpublished = 0;
    t.publish_model(task.model(), description);
  };
  const TrainingResult result = task.run();
  if (unpublished > 0) t.publish_model(model, description);  // a cancelled run keeps its updates
  return result;
}

nlohmann::json Trainer::status(bool with_history) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Progress& p = *progress_;
  nlohmann::json status = {{"run", p.run},
                           {"kind", p.kind},
                           {"state", p.state},
                           {"running", running_},
                           {"phase", p.phase},
                           {"settings", p.settings},
                           {"epochs", p.epochs},
                           {"batches_per_epoch", p.batches_per_epoch},
                           {"epoch", p.epoch},
                           {"batch", p.batch},
                           {"samples_done", p.samples_done},
                           {"total_samples", p.total_samples},
                           {"elapsed_seconds", p.elapsed_seconds},
                           {"samples_per_second", p.samples_per_second},
                           {"eta_seconds", p.eta_seconds},
                           {"loss", p.loss},
                           {"accuracy", p.accuracy},
                           {"result", p.result}};
  if (!p.error.empty()) status["error"] = p.error;
  if (with_history) {
    status["history"] = {
        {"batch_x", p.batch_x}, {"batch_loss", p.batch_loss}, {"batch_accuracy", p.batch_accuracy},
        {"epoch_x", p.epoch_x}, {"epoch_loss", p.epoch_loss}, {"epoch_accuracy", p.epoch_accuracy}};
  }
  return status;
}

}  // namespace edgetrain::web
