// `edgetrain fed-sim`: FedAvg with K virtual clients in one process, on the FedAvg paper's MNIST
// models or any updatable model file; prints per-round test accuracy and the rounds to a target.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "cli/fed_commands.h"
#include "edgetrain/error.h"
#include "edgetrain/fed.h"
#include "edgetrain/io.h"
#include "edgetrain/train.h"

namespace edgetrain::cli {
namespace {

Model simulation_model(const FedSimOptions& options) {
  if (!options.model.empty()) {
    Model model = load_model(options.model);
    if (!model.update) throw Error(options.model + ": the model is not updatable");
    return model;
  }
  const fed::PresetOptions preset{.learning_rate = options.learning_rate.value_or(0.1),
                                  .batch_size = options.batch_size.value_or(10),
                                  .epochs = options.local_epochs.value_or(1),
                                  .seed = options.seed};
  if (options.preset == "2nn") return fed::fedavg_2nn(preset);
  if (options.preset == "cnn") return fed::fedavg_cnn(preset);
  throw Error("--preset must be cnn or 2nn, got '" + options.preset + "'");
}

}  // namespace

int run_fed_sim(const FedSimOptions& options) {
  if (!options.output.empty()) check_writable(options.output);
  if (!options.history.empty()) std::filesystem::create_directories(options.history);
  Model model = simulation_model(options);
  if (options.rounds == 0) {  // the initial global model, e.g. for fed-server and fed-client
    if (options.output.empty())
      throw Error("--rounds 0 writes the initial model: give --output FILE");
    save_model(model, options.output);
    std::printf("wrote the initial %s model to %s\n",
                options.model.empty() ? options.preset.c_str() : options.model.c_str(),
                options.output.c_str());
    return 0;
  }
  LoadedData data = load_data(options.data, &model);
  limit_training(data, options.limit);
  limit_test(data, options.test_limit);

  fed::SimulationSettings settings;
  settings.clients = options.clients;
  settings.fraction = options.fraction;
  settings.rounds = options.rounds;
  settings.local.epochs = options.local_epochs;
  settings.local.batch_size = options.batch_size;
  settings.local.learning_rate = options.learning_rate;
  settings.local.proximal_mu = options.proximal_mu;
  settings.partition = fed::parse_partition_scheme(options.partition_kind);
  settings.seed = options.seed;
  settings.workers = options.workers;
  settings.target_accuracy = options.target_accuracy;
  settings.stop_at_target = options.stop_at_target;
  UpdateConfig local_config;
  local_config.epochs = settings.local.epochs;
  local_config.learning_rate = settings.local.learning_rate;
  local_config.batch_size = settings.local.batch_size;
  const ResolvedUpdate resolved = resolve_update(model, local_config);
  const std::string model_name = options.model.empty() ? options.preset : options.model;
  std::printf(
      "fed-sim: %s, %d clients (%s) of %zu %s samples, C = %g, E = %lld, B = %lld, "
      "%s lr %g%s, seed %llu\n",
      model_name.c_str(), settings.clients, fed::to_string(settings.partition).c_str(),
      data.train->count(), data.name.c_str(), settings.fraction, (long long)resolved.epochs,
      (long long)resolved.batch_size, resolved.optimizer == OptimizerKind::kAdam ? "Adam" : "SGD",
      resolved.learning_rate,
      options.proximal_mu > 0 ? (", mu " + std::to_string(options.proximal_mu)).c_str() : "",
      (unsigned long long)options.seed);
  std::fflush(stdout);

  std::optional<int64_t> rounds_to_target;
  nlohmann::json accuracies = nlohmann::json::array(), losses = nlohmann::json::array(),
                 seconds = nlohmann::json::array(), bytes = nlohmann::json::array();
  double total_seconds = 0;
  const auto reports = fed::simulate(
      model, *data.train, data.test.get(), settings, [&](const fed::RoundReport& r, const Model& global) {
        if (options.target_accuracy > 0 && !rounds_to_target &&
            r.test_accuracy >= options.target_accuracy) {
          rounds_to_target = r.round;
        }
        accuracies.push_back(r.test_accuracy);
        losses.push_back(r.test_loss);
        seconds.push_back(r.seconds);
        bytes.push_back(r.bytes);
        total_seconds += r.seconds;
        std::printf(
            "round %lld/%lld: test accuracy %.4f, loss %.4f | %zu clients, %lld samples, "
            "train loss %.4f | %.1f MB, %.1f s\n",
            (long long)r.round, (long long)settings.rounds, r.test_accuracy, r.test_loss,
            r.clients.size(), (long long)r.examples, r.train_loss, double(r.bytes) / 1e6,
            r.seconds);
        std::fflush(stdout);
        if (!options.history.empty()) {
          const std::string name = "round-" + std::to_string(r.round) + ".mlmodel";
          save_model(global, (std::filesystem::path(options.history) / name).string());
        }
        return true;
      });
  if (!options.output.empty()) save_model(model, options.output);
  if (options.target_accuracy > 0) {
    if (rounds_to_target) {
      std::printf("reached %.2f%% test accuracy after %lld rounds\n", 100 * options.target_accuracy,
                  (long long)*rounds_to_target);
    } else {
      std::printf("did not reach %.2f%% test accuracy in %zu rounds\n",
                  100 * options.target_accuracy, reports.size());
    }
  }
  if (options.json) {
    const nlohmann::json summary = {
        {"model", model_name},
        {"dataset", data.name},
        {"clients", settings.clients},
        {"fraction", settings.fraction},
        {"local_epochs", resolved.epochs},
        {"batch_size", resolved.batch_size},
        {"learning_rate", resolved.learning_rate},
        {"proximal_mu", options.proximal_mu},
        {"partition", fed::to_string(settings.partition)},
        {"seed", options.seed},
        {"workers", settings.workers},
        {"train_samples", data.train->count()},
        {"test_samples", data.test->count()},
        {"target_accuracy", options.target_accuracy > 0 ? nlohmann::json(options.target_accuracy)
                                                        : nlohmann::json(nullptr)},
        {"rounds_to_target",
         rounds_to_target ? nlohmann::json(*rounds_to_target) : nlohmann::json(nullptr)},
        {"rounds", reports.size()},
        {"test_accuracy", accuracies},
        {"test_loss", losses},
        {"seconds_per_round", seconds},
        {"bytes_per_round", bytes},
        {"seconds", total_seconds},
        {"model_path",
         options.output.empty() ? nlohmann::json(nullptr) : nlohmann::json(options.output)}};
    std::printf("%s\n", summary.dump().c_str());
  }
  return 0;
}

}  // namespace edgetrain::cli
