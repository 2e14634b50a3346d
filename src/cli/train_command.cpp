// `edgetrain train`: the seed's LeNet (or, with --classifier, the LeNet as a Core ML classifier),
// or any updatable model file (--model) with its own update parameters, on MNIST-like data; with
// progress, test accuracy and a JSON summary.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/machine.h"
#include "cli/commands.h"
#include "cli/option_checks.h"
#include "cli/progress.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "edgetrain/train.h"
#include "nn/shapes.h"
#include "nn/trainable_tensors.h"

namespace edgetrain::cli {
namespace {

// The model to train and the overrides of its update parameters.
struct Setup {
  Model model;
  std::string name;  // for messages: "LeNet" or the file
  UpdateConfig config;
};

}  // namespace

std::optional<CheckpointEvery> parse_checkpoint_every(const std::string& text) {
  const bool seconds = !text.empty() && text.back() == 's';
  const std::string number = seconds ? text.substr(0, text.size() - 1) : text;
  if (number.empty() || number.size() > 9 ||
      number.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const int64_t value = std::stoll(number);
  if (value <= 0) return std::nullopt;
  CheckpointEvery every;
  if (seconds) {
    every.seconds = double(value);
  } else {
    every.batches = value;
  }
  return every;
}

namespace {

Setup prepare(const TrainOptions& options) {
  Setup setup;
  setup.config.threads = options.threads;
  // A resumed run keeps checkpointing into the file it resumed from unless told otherwise.
  setup.config.checkpoint_path = options.checkpoint.empty() ? options.resume : options.checkpoint;
  if (!options.checkpoint_every.empty()) {
    const CheckpointEvery every = parse_checkpoint_every(options.checkpoint_every).value();
    setup.config.checkpoint_every_batches = every.batches;
    setup.config.checkpoint_every_seconds = every.seconds;
  }
  setup.config.resume_from = options.resume;
  if (options.model.empty()) {
    // The LeNet's update parameters are the flags (or their defaults). Its learning rate has an
    // allowed range: checked here, so that the message names the flag.
    setup.model = lenet(
        {.batch_size = options.batch_size,
         .epochs = options.epochs,
         .seed = options.seed,
         .initializer = options.glorot ? Initializer::kGlorotUniform : Initializer::kHeUniform});
    DoubleParameter& learning_rate = std::get<Adam>(setup.model.update->optimizer).learning_rate;
    check_allowed(learning_rate, options.learning_rate, "--learning-rate");
    learning_rate.default_value = options.learning_rate;
    setup.name = "LeNet";
    if (options.classifier) {
      ClassLabels digits;
      for (int64_t digit = 0; digit < 10; ++digit) digits.int_labels.push_back(digit);
      setup.model = as_classifier(std::move(setup.model), std::move(digits));
      setup.name = "LeNet classifier";
    }
    setup.config.seed = options.seed;
    return setup;
  }
  if (options.classifier) {
    throw Error(
        "--classifier turns the built-in LeNet into a classifier; it does not apply to "
        "--model (make the model a classifier where it is made)");
  }
  setup.model = load_model(options.model);
  setup.name = options.model;
  if (!setup.model.update) {
    throw Error(options.model +
                ": the model is not updatable; make it updatable first with "
                "`edgetrain make-updatable " +
                options.model + " -o OUT --layers ...`");
  }
  // Only the flags given override the file's own update parameters.
  if (options.epochs_set) setup.config.epochs = options.epochs;
  if (options.batch_size_set) setup.config.batch_size = options.batch_size;
  if (options.learning_rate_set) setup.config.learning_rate = options.learning_rate;
  if (options.seed_set) setup.config.seed = options.seed;
  try {
    resolve_update(setup.model, setup.config);
  } catch (const Error& e) {
    throw Error(options.model + ": " + e.what());
  }
  return setup;
}

size_t updatable_parameters(const Model& model) {
  size_t count = 0;
  for (const TensorView<const float>& tensor : trainable_tensors(model)) count += tensor.size;
  return count;
}

}  // namespace

int run_train(const TrainOptions& options) {
  // Fail before the work, not after it, when the results could not be written.
  if (!options.output.empty()) check_writable(options.output);
  if (!options.checkpoint.empty()) check_writable(options.checkpoint);
  LoadedData data = load_data(options.data);
  if (options.limit > 0) data.train.truncate(options.limit);
  const bool chatty = !options.quiet;
  if (chatty && !data.note.empty()) std::printf("%s\n", data.note.c_str());

  Setup setup = prepare(options);
  Model& model = setup.model;
  const ResolvedUpdate settings = resolve_update(model, setup.config, data.train.count());
  if (settings.batch_size < settings.requested_batch_size) {
    std::fprintf(stderr,
                 "edgetrain: note: a mini-batch of %lld is more than the %zu training images; "
                 "using mini-batches of %lld (the same training, in less memory)\n",
                 (long long)settings.requested_batch_size, data.train.count(),
                 (long long)settings.batch_size);
  }
  note_capped_threads(options.threads);
  UpdateTask task(model, data.train, setup.config);

  ProgressBar bar(chatty);
  task.handlers.training_began = [&](UpdateTask&, const TrainingBegan& began) {
    if (!chatty) return;
    std::printf(
        "training %s (%zu parameters, %zu updatable) on %zu %s images: %lld epochs, "
        "batch %lld, %s lr %g, %d threads, %s of buffers\n",
        setup.name.c_str(), model.parameter_count(), updatable_parameters(model), began.samples,
        data.name.c_str(), (long long)began.settings.epochs, (long long)began.settings.batch_size,
        began.settings.optimizer == OptimizerKind::kAdam ? "Adam" : "SGD",
        began.settings.learning_rate, began.settings.threads,
        byte_text(began.memory_bytes).c_str());
    std::fflush(stdout);
  };
  const uint64_t total_samples = uint64_t(data.train.count()) * uint64_t(settings.epochs);
  task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& end) {
    char detail[96];
    std::snprintf(detail, sizeof detail, "epoch %lld/%lld loss %.4f", (long long)end.epoch + 1,
                  (long long)settings.epochs, end.loss);
    double rate = end.elapsed_seconds > 0 ? double(end.samples_done) / end.elapsed_seconds : 0;
    bar.update(end.samples_done, total_samples, rate, detail);
  };
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& end) {
    bar.clear();
    if (!chatty) return;
    char accuracy[32] = "";  // only a classifier's loss has one
    if (end.accuracy) std::snprintf(accuracy, sizeof accuracy, "  accuracy %.4f", *end.accuracy);
    std::printf("epoch %lld/%lld  loss %.4f%s  %s\n", (long long)end.epoch + 1,
                (long long)settings.epochs, end.mean_loss, accuracy,
                format_duration(end.elapsed_seconds).c_str());
    std::fflush(stdout);
  };
  const TrainingResult result = task.run();
  bar.clear();

  nlohmann::json summary = {
      {"model", options.model.empty() ? nlohmann::json(nullptr) : nlohmann::json(options.model)},
      {"classifier", model.kind == ModelKind::kClassifier},
      {"dataset", data.name},
      {"epochs", result.epochs_completed},
      {"batch_size", settings.batch_size},
      {"learning_rate", settings.learning_rate},
      {"optimizer", settings.optimizer == OptimizerKind::kAdam ? "adam" : "sgd"},
      {"threads", settings.threads},
      {"train_samples", data.train.count()},
      {"train_seconds", result.seconds},
      {"samples_per_second", result.seconds > 0 ? double(result.samples_seen) / result.seconds : 0},
      {"train_loss", result.final_loss},
      {"train_accuracy", result.final_accuracy ? nlohmann::json(*result.final_accuracy)
                                               : nlohmann::json(nullptr)},
      {"parameters", model.parameter_count()},
      {"updatable_parameters", updatable_parameters(model)},
      {"model_path",
       options.output.empty() ? nlohmann::json(nullptr) : nlohmann::json(options.output)},
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
  } else if (chatty && !options.model.empty()) {
    std::printf("the trained model is not saved (give --output FILE to keep it)\n");
  }
  if (chatty) {
    std::printf("trained in %s, %.0f samples/s\n", format_duration(result.seconds).c_str(),
                summary["samples_per_second"].get<double>());
  }
  if (options.json) std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace edgetrain::cli
