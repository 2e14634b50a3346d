// `edgetrain train`: the seed's LeNet on MNIST-like data, with progress, test accuracy and a JSON
// summary.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/progress.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "edgetrain/train.h"

namespace edgetrain::cli {

int run_train(const TrainOptions& options) {
  LoadedData data = load_data(options.data);
  if (options.limit > 0) data.train.truncate(options.limit);
  const bool chatty = !options.quiet;
  if (chatty && !data.note.empty()) std::printf("%s\n", data.note.c_str());

  Model model = lenet({.learning_rate = options.learning_rate,
                       .batch_size = options.batch_size,
                       .epochs = options.epochs,
                       .seed = options.seed});
  UpdateTask task(model, data.train, {.seed = options.seed, .threads = options.threads});

  ProgressBar bar(chatty);
  task.handlers.training_began = [&](UpdateTask&, const TrainingBegan& began) {
    if (!chatty) return;
    std::printf("training LeNet (%zu parameters) on %zu %s images: %lld epochs, batch %lld, "
                "Adam lr %g, %d threads\n",
                model.parameter_count(), began.samples, data.name.c_str(),
                (long long)began.settings.epochs, (long long)began.settings.batch_size,
                began.settings.learning_rate, began.settings.threads);
    std::fflush(stdout);
  };
  const uint64_t total_samples = uint64_t(data.train.count()) * uint64_t(options.epochs);
  task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& end) {
    char detail[96];
    std::snprintf(detail, sizeof detail, "epoch %lld/%lld loss %.4f", (long long)end.epoch + 1,
                  (long long)options.epochs, end.loss);
    double rate = end.elapsed_seconds > 0 ? double(end.samples_done) / end.elapsed_seconds : 0;
    bar.update(end.samples_done, total_samples, rate, detail);
  };
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& end) {
    bar.clear();
    if (!chatty) return;
    std::printf("epoch %lld/%lld  loss %.4f  accuracy %.4f  %s\n", (long long)end.epoch + 1,
                (long long)options.epochs, end.mean_loss, end.accuracy,
                format_duration(end.elapsed_seconds).c_str());
    std::fflush(stdout);
  };
  const TrainingResult result = task.run();
  bar.clear();

  nlohmann::json summary = {
      {"dataset", data.name},
      {"epochs", result.epochs_completed},
      {"batch_size", options.batch_size},
      {"learning_rate", options.learning_rate},
      {"threads", resolve_update(model, {.threads = options.threads}).threads},
      {"train_samples", data.train.count()},
      {"train_seconds", result.seconds},
      {"samples_per_second", result.seconds > 0 ? double(result.samples_seen) / result.seconds : 0},
      {"train_loss", result.final_loss},
      {"train_accuracy", result.final_accuracy},
      {"parameters", model.parameter_count()},
      {"model_path", options.output.empty() ? nlohmann::json(nullptr) : nlohmann::json(options.output)},
      {"test_accuracy", nullptr},
      {"test_loss", nullptr},
      {"test_samples", data.test.count()}};
  if (data.test.count() > 0) {
    const Evaluation test = evaluate(model, data.test, options.threads);
    summary["test_accuracy"] = test.accuracy;
    summary["test_loss"] = test.loss;
    if (chatty) {
      std::printf("test accuracy %.4f  loss %.4f  (%zu images)\n", test.accuracy, test.loss,
                  test.samples);
    }
  }
  if (!options.output.empty()) {
    save_model(model, options.output);
    if (chatty) std::printf("saved the model to %s\n", options.output.c_str());
  }
  if (chatty) {
    std::printf("trained in %s, %.0f samples/s\n", format_duration(result.seconds).c_str(),
                summary["samples_per_second"].get<double>());
  }
  if (options.json) std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace edgetrain::cli
