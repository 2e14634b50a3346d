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

// ---- Training options beyond Core ML (issue #11)
// ------------------------------------------------- The flags as TrainingOptions; their values were
// checked when parsed (main.cpp), so only the combinations are refused here.
TrainingOptions training_options(const TrainOptions& options) {
  TrainingOptions result;
  result.validation_split = options.validation_split;
  if (options.early_stopping > 0) {
    result.early_stopping = EarlyStopping{.patience = options.early_stopping,
                                          .min_delta = options.min_delta.value_or(0),
                                          .restore_best_weights = !options.keep_last_weights};
  } else if (options.keep_last_weights) {
    throw Error("--keep-last-weights applies to --early-stopping, which is not given");
  }
  if (!options.reduce_on_plateau.empty()) {
    PlateauReduction plateau;
    parse_plateau(options.reduce_on_plateau, plateau);
    plateau.min_delta = options.min_delta.value_or(0);
    result.reduce_on_plateau = plateau;
  }
  if (options.min_delta && !result.early_stopping && !result.reduce_on_plateau) {
    throw Error("--min-delta applies to --early-stopping and --reduce-on-plateau, neither given");
  }
  if (!options.schedule.empty()) parse_schedule(options.schedule, result.schedule);
  result.weight_decay = options.weight_decay;
  if (!options.augment.empty()) parse_augment(options.augment, result.augment);
  return result;
}

const char* stop_reason_text(StopReason reason) {
  switch (reason) {
    case StopReason::kCompleted:
      return "completed";
    case StopReason::kCancelled:
      return "cancelled";
    case StopReason::kEarlyStopping:
      return "early_stopping";
    case StopReason::kLearningRateMin:
      return "learning_rate_min";
  }
  return "completed";
}
// ---- end of training options beyond Core ML
// -------------------------------------------------------

Setup prepare(const TrainOptions& options) {
  Setup setup;
  setup.config.threads = options.threads;
  setup.config.precision =
      options.precision == "bf16" ? Precision::kBfloat16 : Precision::kFloat32;
  // A resumed run keeps checkpointing into the file it resumed from unless told otherwise.
  setup.config.checkpoint_path = options.checkpoint.empty() ? options.resume : options.checkpoint;
  if (!options.checkpoint_every.empty()) {
    const CheckpointEvery every = parse_checkpoint_every(options.checkpoint_every).value();
    setup.config.checkpoint_every_batches = every.batches;
    setup.config.checkpoint_every_seconds = every.seconds;
  }
  setup.config.resume_from = options.resume;
  setup.config.options = training_options(options);
  if (options.model.empty()) {
    // The built-in network's update parameters are the flags (or their defaults). Its learning
    // rate has an allowed range: checked here, so that the message names the flag.
    const bool resnet = options.preset == "small-resnet";
    const LenetOptions built{
        .batch_size = options.batch_size,
        .epochs = options.epochs,
        .seed = options.seed,
        .initializer = options.glorot ? Initializer::kGlorotUniform : Initializer::kHeUniform};
    setup.model = resnet ? small_resnet(built) : lenet(built);
    DoubleParameter& learning_rate = std::get<Adam>(setup.model.update->optimizer).learning_rate;
    check_allowed(learning_rate, options.learning_rate, "--learning-rate");
    learning_rate.default_value = options.learning_rate;
    setup.name = resnet ? "small-resnet" : "LeNet";
    if (options.classifier) {
      if (resnet) throw Error("--classifier applies to the LeNet preset only");
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
  if (options.preset != "lenet") {
    throw Error("--preset chooses a built-in network; it does not apply to --model");
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

// Writes the trained model. The training options beyond Core ML are recorded in its metadata
// (userDefined "edgetrainTrainingOptions"), which Core ML ignores. A network Core ML cannot update
// (the small-resnet preset: updatable batch norm, a residual add) is written for prediction only:
// without update parameters, saying why.
void save_trained(Model model, const TrainingOptions& training, const std::string& path) {
  const std::string record = training_options_text(training);
  if (!record.empty()) model.metadata.user_defined["edgetrainTrainingOptions"] = record;
  const ValidationReport report = validate_coreml(model);
  if (!report.ok()) {
    std::string reasons;
    for (const std::string& error : report.errors) reasons += "\n  - " + error;
    std::fprintf(stderr,
                 "edgetrain: note: Core ML cannot update this network:%s\nso %s is written for "
                 "prediction only (no update parameters; every layer as trained)\n",
                 reasons.c_str(), path.c_str());
    model.update.reset();
    model.training_inputs.clear();
    for (Layer& layer : model.layers) {
      layer.updatable = false;
      for (LayerParameter& parameter : layer.parameters) parameter.file_updatable.reset();
    }
  }
  save_model(model, path);
}

}  // namespace

int run_train(const TrainOptions& options) {
  // Fail before the work, not after it, when the results could not be written.
  if (!options.output.empty()) check_writable(options.output);
  if (!options.checkpoint.empty()) check_writable(options.checkpoint);
  Setup setup = prepare(options);
  Model& model = setup.model;
  // ---- data: read for the model (a table's columns, an image folder's size; issue #11) ----
  LoadedData data = load_data(options.data, &model);
  limit_training(data, options.limit);
  const BatchProvider& train = *data.train;
  const bool regression = output_kind(model) == OutputKind::kRegression;
  // ---- end of data ----
  const bool chatty = !options.quiet;
  if (chatty && !data.note.empty()) std::printf("%s\n", data.note.c_str());

  const ResolvedUpdate settings = resolve_update(model, setup.config, train.count());
  if (settings.batch_size < settings.requested_batch_size) {
    std::fprintf(stderr,
                 "edgetrain: note: a mini-batch of %lld is more than the %zu training %s; "
                 "using mini-batches of %lld (the same training, in less memory)\n",
                 (long long)settings.requested_batch_size, settings.training_samples,
                 data.samples_word.c_str(),
                 (long long)settings.batch_size);
  }
  note_capped_threads(options.threads);
  UpdateTask task(model, train, setup.config);

  ProgressBar bar(chatty);
  task.handlers.training_began = [&](UpdateTask&, const TrainingBegan& began) {
    if (!chatty) return;
    std::printf(
        "training %s (%zu parameters, %zu updatable) on %zu %s %s%s: %lld epochs, "
        "batch %lld, %s lr %g, %d threads, %s%s of buffers\n",
        setup.name.c_str(), model.parameter_count(), updatable_parameters(model), began.samples,
        data.name.c_str(), data.samples_word.c_str(), data.streamed ? " (read from disk)" : "",
        (long long)began.settings.epochs, (long long)began.settings.batch_size,
        began.settings.optimizer == OptimizerKind::kAdam ? "Adam" : "SGD",
        began.settings.learning_rate, began.settings.threads,
        began.settings.precision == Precision::kBfloat16 ? "bf16 products, " : "",
        byte_text(began.memory_bytes).c_str());
    const std::string extras = training_options_text(began.settings.options);
    if (!extras.empty()) {
      std::printf("  with %s; %zu samples held out for validation\n", extras.c_str(),
                  began.settings.validation_samples);
    }
    std::fflush(stdout);
  };
  const uint64_t total_samples = uint64_t(settings.training_samples) * uint64_t(settings.epochs);
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
    std::printf("epoch %lld/%lld  loss %.4f%s", (long long)end.epoch + 1,
                (long long)settings.epochs, end.mean_loss, accuracy);
    if (end.validation_loss) std::printf("  validation loss %.4f", *end.validation_loss);
    if (end.validation_accuracy) std::printf(" accuracy %.4f", *end.validation_accuracy);
    std::printf("  %s\n", format_duration(end.elapsed_seconds).c_str());
    if (end.learning_rate_reduced) {
      std::printf("  no better loss for %lld epochs: learning rate %g -> %g\n",
                  (long long)settings.options.reduce_on_plateau->patience, end.learning_rate,
                  end.next_learning_rate);
    }
    std::fflush(stdout);
  };
  const TrainingResult result = task.run();
  bar.clear();
  if (chatty && result.stop_reason == StopReason::kEarlyStopping) {
    std::printf("stopped early: no better loss for %lld epochs\n",
                (long long)settings.options.early_stopping->patience);
  }
  if (chatty && result.stop_reason == StopReason::kLearningRateMin) {
    std::printf("stopped: the learning rate fell below %g\n",
                settings.options.reduce_on_plateau->learning_rate_min);
  }
  if (chatty && result.best_epoch >= 0) {
    const bool restored = settings.options.early_stopping->restore_best_weights &&
                          result.stop_reason != StopReason::kCancelled;
    std::printf("best loss %.4f at epoch %lld%s\n", result.best_loss,
                (long long)result.best_epoch + 1, restored ? ": the model keeps its weights" : "");
  }

  nlohmann::json summary = {
      {"model", options.model.empty() ? nlohmann::json(nullptr) : nlohmann::json(options.model)},
      {"classifier", model.kind == ModelKind::kClassifier},
      {"dataset", data.name},
      {"epochs", result.epochs_completed},
      {"batch_size", settings.batch_size},
      {"learning_rate", settings.learning_rate},
      {"optimizer", settings.optimizer == OptimizerKind::kAdam ? "adam" : "sgd"},
      {"threads", settings.threads},
      {"precision", precision_name(settings.precision)},
      {"train_samples", settings.training_samples},
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
      {"test_samples", data.test->count()},
      // Training options beyond Core ML (issue #11).
      {"validation_samples", settings.validation_samples},
      {"validation_loss",
       result.validation_loss ? nlohmann::json(*result.validation_loss) : nlohmann::json(nullptr)},
      {"validation_accuracy", result.validation_accuracy
                                  ? nlohmann::json(*result.validation_accuracy)
                                  : nlohmann::json(nullptr)},
      {"stop_reason", stop_reason_text(result.stop_reason)},
      {"best_epoch",
       result.best_epoch >= 0 ? nlohmann::json(result.best_epoch + 1) : nlohmann::json(nullptr)},
      {"training_options", training_options_text(settings.options)},
      {"preset", options.model.empty() ? nlohmann::json(options.preset) : nlohmann::json(nullptr)}};
  if (data.test->count() > 0) {
    const Evaluation test = evaluate(model, *data.test, options.threads);
    summary["test_loss"] = test.loss;
    if (regression) {  // ---- a regression's test scores (issue #11) ----
      summary["test_mse"] = test.mse;
      summary["test_mae"] = test.mae;
      summary["test_r2"] = test.r2;
      if (chatty) {
        std::printf("test MSE %.6g  MAE %.6g  R2 %.4f  (%zu %s)\n", test.mse, test.mae, test.r2,
                    test.samples, data.samples_word.c_str());
      }
    } else {
      summary["test_accuracy"] = test.accuracy;
      if (chatty) {
        std::printf("test accuracy %.4f  loss %.4f  (%zu %s)\n", test.accuracy, test.loss,
                    test.samples, data.samples_word.c_str());
      }
    }
  }
  if (!options.output.empty()) {
    save_trained(model, settings.options, options.output);
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
