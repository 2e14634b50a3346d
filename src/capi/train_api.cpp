// The C API's training runs (with progress reports and cancellation), evaluation and prediction.
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "capi/capi_internal.h"
#include "edgetrain/train.h"
#include "nn/shapes.h"

struct edgetrain_task {
  edgetrain_model* model = nullptr;
  std::unique_ptr<edgetrain::UpdateTask> task;
  edgetrain_progress_fn progress = nullptr;
  void* user_data = nullptr;
  bool classification = true;  // cross-entropy: accuracy means something
  bool ran = false;
  // For epoch reports, from the events before them.
  int64_t batches_per_epoch = 0;
  uint64_t samples_done = 0;
};

namespace edgetrain::capi {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_classification(const Model& model) {
  return !(model.update && !model.update->losses.empty() &&
           model.update->losses[0].type == LossType::kMeanSquaredError);
}

UpdateConfig to_config(const edgetrain_train_options& options) {
  if (options.threads < 0) {
    throw InvalidArgument("threads is " + std::to_string(options.threads) + "; 0 means every core");
  }
  if (options.shuffle < -1 || options.shuffle > 1) {
    throw InvalidArgument("shuffle is " + std::to_string(options.shuffle) +
                          "; -1 (the model's default), 0 or 1");
  }
  UpdateConfig config;
  if (options.epochs > 0) config.epochs = options.epochs;
  if (options.batch_size > 0) config.batch_size = options.batch_size;
  if (options.learning_rate > 0) config.learning_rate = options.learning_rate;
  if (options.shuffle >= 0) config.shuffle = options.shuffle == 1;
  if (options.seed >= 0) config.seed = uint64_t(options.seed);
  config.threads = options.threads;
  return config;
}

// The precision a C caller names, as the command line spells it ("float32", "bf16"); none for an
// unknown name.
std::optional<Precision> precision_called(const char* name) {
  for (Precision known : {Precision::kFloat32, Precision::kBfloat16})
    if (std::strcmp(name, precision_name(known)) == 0) return known;
  return std::nullopt;
}

// Reports events to the C callback; a nonzero answer cancels the task.
void connect_progress(edgetrain_task& handle) {
  if (handle.progress == nullptr) return;
  edgetrain_task* self = &handle;
  handle.task->handlers.training_began = [self](UpdateTask&, const TrainingBegan& began) {
    self->batches_per_epoch = began.batches_per_epoch;
  };
  handle.task->handlers.batch_end = [self](UpdateTask& task, const BatchEnd& e) {
    self->samples_done = e.samples_done;
    edgetrain_progress report{};
    report.event = EDGETRAIN_EVENT_BATCH_END;
    report.epoch = e.epoch;
    report.batch = e.batch;
    report.batches_per_epoch = e.batches_per_epoch;
    report.loss = e.loss;
    report.accuracy = kNaN;
    report.samples_done = e.samples_done;
    report.elapsed_seconds = e.elapsed_seconds;
    if (self->progress(&report, self->user_data) != 0) task.cancel();
  };
  handle.task->handlers.epoch_end = [self](UpdateTask& task, const EpochEnd& e) {
    edgetrain_progress report{};
    report.event = EDGETRAIN_EVENT_EPOCH_END;
    report.epoch = e.epoch;
    report.batch = self->batches_per_epoch - 1;
    report.batches_per_epoch = self->batches_per_epoch;
    report.loss = e.mean_loss;
    report.accuracy = e.accuracy.value_or(kNaN);
    report.samples_done = self->samples_done;
    report.elapsed_seconds = e.elapsed_seconds;
    if (self->progress(&report, self->user_data) != 0) task.cancel();
  };
}

size_t output_size(const Model& model) {
  const auto shapes = infer_shapes(model);
  const auto& shape = shapes.at(network_output_name(model));
  return size_t(shape[0]) * size_t(shape[1]) * size_t(shape[2]);
}

}  // namespace
}  // namespace edgetrain::capi

using edgetrain::capi::guarded;
using edgetrain::capi::InvalidArgument;
using edgetrain::capi::require;

extern "C" {

void edgetrain_train_options_init(edgetrain_train_options* options) {
  if (options == nullptr) return;
  *options = edgetrain_train_options{};
  options->shuffle = -1;
  options->seed = -1;
}

edgetrain_status edgetrain_task_create(edgetrain_model* model, const edgetrain_data* data,
                                       const edgetrain_train_options* options,
                                       edgetrain_task** task) {
  return edgetrain_task_create_with_precision(model, data, options, "float32", task);
}

edgetrain_status edgetrain_task_create_with_precision(edgetrain_model* model,
                                                      const edgetrain_data* data,
                                                      const edgetrain_train_options* options,
                                                      const char* precision,
                                                      edgetrain_task** task) {
  return guarded([&] {
    require(model, "model");
    require(data, "data");
    require(task, "task");
    require(precision, "precision");
    edgetrain_train_options defaults;
    edgetrain_train_options_init(&defaults);
    const edgetrain_train_options& chosen = options ? *options : defaults;
    edgetrain::UpdateConfig config = edgetrain::capi::to_config(chosen);
    const std::optional<edgetrain::Precision> named = edgetrain::capi::precision_called(precision);
    if (!named) {
      throw InvalidArgument(std::string("precision is \"") + precision + "\"; float32 or bf16");
    }
    config.precision = *named;
    edgetrain::resolve_update(model->model, config);  // refuses bad overrides now, not at run
    auto handle = std::make_unique<edgetrain_task>();
    handle->model = model;
    handle->task = std::make_unique<edgetrain::UpdateTask>(model->model, *data->samples, config);
    handle->progress = chosen.progress;
    handle->user_data = chosen.user_data;
    handle->classification = edgetrain::capi::is_classification(model->model);
    edgetrain::capi::connect_progress(*handle);
    *task = handle.release();
  });
}

int edgetrain_precision_supported(const char* precision) {
  if (precision == nullptr) return 0;
  const std::optional<edgetrain::Precision> named = edgetrain::capi::precision_called(precision);
  return named && edgetrain::precision_supported(*named) ? 1 : 0;
}

edgetrain_status edgetrain_task_run(edgetrain_task* task, edgetrain_train_result* result) {
  return guarded([&] {
    require(task, "task");
    if (task->ran) throw InvalidArgument("the task has already run; create a new one");
    task->ran = true;
    task->model->predictor.reset();  // the weights change
    const edgetrain::TrainingResult run = task->task->run();
    if (result == nullptr) return;
    edgetrain_train_result out{};
    out.epochs_completed = run.epochs_completed;
    out.cancelled = run.cancelled ? 1 : 0;
    // The C API reports whole epochs only (edgetrain_c.h): NaN when none completed, where the C++
    // result gives the trained batches' mean.
    const bool any_epoch = run.epochs_completed > 0;
    out.final_loss = any_epoch ? run.final_loss : edgetrain::capi::kNaN;
    out.final_accuracy =
        any_epoch ? run.final_accuracy.value_or(edgetrain::capi::kNaN) : edgetrain::capi::kNaN;
    out.seconds = run.seconds;
    out.samples_seen = run.samples_seen;
    *result = out;
  });
}

void edgetrain_task_cancel(edgetrain_task* task) {
  if (task != nullptr) task->task->cancel();
}

void edgetrain_task_free(edgetrain_task* task) {
  delete task;
}

edgetrain_status edgetrain_train(edgetrain_model* model, const edgetrain_data* data,
                                 const edgetrain_train_options* options,
                                 edgetrain_train_result* result) {
  edgetrain_task* task = nullptr;
  edgetrain_status status = edgetrain_task_create(model, data, options, &task);
  if (status == EDGETRAIN_OK) status = edgetrain_task_run(task, result);
  edgetrain_task_free(task);
  return status;
}

edgetrain_status edgetrain_evaluate(const edgetrain_model* model, const edgetrain_data* data,
                                    int threads, edgetrain_evaluation* result) {
  return guarded([&] {
    require(model, "model");
    require(data, "data");
    require(result, "result");
    if (threads < 0) throw InvalidArgument("threads is negative; 0 means every core");
    const bool classification = edgetrain::capi::is_classification(model->model);
    const edgetrain::Evaluation evaluation =
        edgetrain::evaluate(model->model, *data->samples, threads);
    edgetrain_evaluation out{};
    out.samples = evaluation.samples;
    out.loss = evaluation.loss;
    out.accuracy = classification ? evaluation.accuracy : edgetrain::capi::kNaN;
    *result = out;
  });
}

edgetrain_status edgetrain_predict(edgetrain_model* model, const float* features, size_t count,
                                   float* outputs, size_t outputs_count) {
  return guarded([&] {
    require(model, "model");
    if (count == 0) return;
    require(features, "features");
    require(outputs, "outputs");
    if (!model->predictor) {
      model->predictor =
          std::make_unique<edgetrain::Predictor>(model->model, model->predict_threads);
    }
    edgetrain::Predictor& predictor = *model->predictor;
    const size_t input_size = predictor.input_size();
    const size_t output_size = edgetrain::capi::output_size(model->model);
    const size_t needed = edgetrain::capi::checked_product(count, output_size, "outputs");
    edgetrain::capi::checked_product(count, input_size, "features");
    if (outputs_count < needed) {
      throw InvalidArgument("outputs has room for " + std::to_string(outputs_count) + " floats; " +
                            std::to_string(count) + " samples need " + std::to_string(needed));
    }
    for (size_t i = 0; i < count; ++i) {
      const edgetrain::Prediction prediction = predictor.predict(features + i * input_size);
      // A classification's probabilities, else the network's output values.
      const std::vector<float>& values = !prediction.probabilities.empty()
                                             ? prediction.probabilities
                                             : prediction.outputs.at(0).values;
      if (values.size() != output_size) {
        throw edgetrain::Error("the model gave " + std::to_string(values.size()) +
                               " outputs, expected " + std::to_string(output_size));
      }
      std::memcpy(outputs + i * output_size, values.data(), output_size * sizeof(float));
    }
  });
}

edgetrain_status edgetrain_model_set_predict_threads(edgetrain_model* model, int threads) {
  return guarded([&] {
    require(model, "model");
    if (threads < 0) {
      throw InvalidArgument("threads is " + std::to_string(threads) +
                            "; give 1 or more, or 0 for every core");
    }
    if (threads == model->predict_threads) return;
    model->predict_threads = threads;
    model->predictor.reset();  // made again, with its helpers, on the next prediction
  });
}

}  // extern "C"
