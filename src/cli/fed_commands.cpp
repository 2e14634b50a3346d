// `edgetrain fed-client` and `edgetrain fed-server`: Flower's legacy gRPC transport from the
// command line. Both print one line per event, flushed at once (tests and scripts follow them).
#include "cli/fed_commands.h"

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "cli/option_checks.h"
#include "edgetrain/error.h"
#include "edgetrain/fed.h"
#include "edgetrain/io.h"
#include "flower/client.h"
#include "flower/server.h"

namespace edgetrain::cli {
namespace {

// Lines from several threads (gRPC's and ours), whole and in order.
std::function<void(const std::string&)> line_printer(const std::string& prefix) {
  static std::mutex mutex;
  return [prefix](const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex);
    std::printf("%s%s\n", prefix.c_str(), line.c_str());
    std::fflush(stdout);
  };
}

struct PartitionChoice {
  int64_t index = -1, count = 0;
};

PartitionChoice parse_partition(const std::string& text) {
  PartitionChoice choice;
  if (text.empty()) return choice;
  const size_t slash = text.find('/');
  auto whole = [&](const std::string& part) -> int64_t {
    if (part.empty() || part.size() > 9 ||
        part.find_first_not_of("0123456789") != std::string::npos) {
      throw Error("--partition '" + text + "': expected I/K with whole numbers, e.g. 0/10");
    }
    return std::stoll(part);
  };
  if (slash == std::string::npos)
    throw Error("--partition '" + text + "': expected I/K, e.g. 0/10");
  choice.index = whole(text.substr(0, slash));
  choice.count = whole(text.substr(slash + 1));
  if (choice.count < 1 || choice.index >= choice.count) {
    throw Error("--partition '" + text + "': I must be in 0..K-1 and K at least 1");
  }
  return choice;
}

Model load_updatable(const std::string& path) {
  Model model = load_model(path);
  if (!model.update) {
    throw Error(path +
                ": the model is not updatable; make it updatable first with "
                "`edgetrain make-updatable " +
                path + " -o OUT --layers ...`");
  }
  if (fed::exchanged_shapes(model).empty())
    throw Error(path + ": the model has no updatable layers");
  return model;
}

}  // namespace

int run_fed_client(const FedClientOptions& options) {
  const auto log = line_printer("");
  note_capped_threads(options.threads);
  Model model = load_updatable(options.model);
  if (!options.output.empty()) check_writable(options.output);
  LoadedData data = load_data(options.data, &model);
  limit_training(data, options.limit);
  const PartitionChoice partition = parse_partition(options.partition);
  const fed::PartitionScheme scheme = fed::parse_partition_scheme(options.partition_kind);

  std::optional<SampleView> train_part, test_part;
  const BatchProvider* train = data.train.get();
  const BatchProvider* test = data.test.get();
  if (partition.count > 0) {
    const auto parts = fed::partition(*data.train, int(partition.count), scheme, options.seed);
    train_part.emplace(*data.train, fed::client_indices(parts[size_t(partition.index)]));
    train = &*train_part;
    if (train->count() == 0) {
      throw Error("--partition " + options.partition + " (" + fed::to_string(scheme) +
                  ") holds no samples; try another seed or partition kind");
    }
    if (data.test->count() >= size_t(partition.count)) {  // its share of the test set, IID
      const auto test_parts = fed::partition(*data.test, int(partition.count), {}, options.seed);
      test_part.emplace(*data.test, fed::client_indices(test_parts[size_t(partition.index)]));
      test = &*test_part;
    }
  }
  log("fed-client: " + options.model + ", " + std::to_string(train->count()) + " training and " +
      std::to_string(test->count()) + " test samples from " + data.name +
      (partition.count > 0
           ? " (partition " + options.partition + ", " + fed::to_string(scheme) + ")"
           : std::string()) +
      "; server " + options.server);

  flower::ClientOptions client;
  client.server = options.server;
  client.certificates = options.certificates;
  client.defaults.epochs = options.epochs;
  client.defaults.batch_size = options.batch_size;
  client.defaults.learning_rate = options.learning_rate;
  client.defaults.threads = options.threads;
  client.partition_index = partition.index;
  client.partition_count = partition.count;
  client.seed = options.seed;
  client.output = options.output;
  client.retry_max_seconds = options.retry_max_seconds;
  client.give_up_seconds = options.give_up_seconds;
  const flower::ClientOutcome outcome = flower::run_client(model, *train, *test, client, log);
  switch (outcome.exit) {
    case flower::ClientExit::kFinished:
      log("fed-client: done after " + std::to_string(outcome.fits) + " fits and " +
          std::to_string(outcome.evaluations) + " evaluations");
      return 0;
    case flower::ClientExit::kRefused:
      std::fprintf(stderr, "edgetrain: error: %s\n", outcome.message.c_str());
      return kExitModelMismatch;
    case flower::ClientExit::kServerUnreachable:
      std::fprintf(stderr, "edgetrain: error: %s\n", outcome.message.c_str());
      return kExitServerUnreachable;
  }
  return 1;
}

int run_fed_server(const FedServerOptions& options) {
  const auto log = line_printer("");
  Model model = load_updatable(options.model);
  if (options.short_round != "retry" && options.short_round != "skip") {
    throw Error("--short-round must be retry or skip");
  }
  flower::ServerOptions server;
  server.host = options.host;
  server.port = options.port;
  server.certificates = options.certificates;
  server.rounds = options.rounds;
  server.min_clients = options.min_clients;
  server.fraction_fit = options.fraction_fit;
  server.fraction_evaluate = options.fraction_evaluate;
  server.min_results = options.min_results;
  server.retry_short_rounds = options.short_round == "retry";
  server.max_retries = options.max_retries;
  server.round_timeout = options.round_timeout;
  server.local_epochs = options.local_epochs;
  server.batch_size = options.batch_size;
  server.learning_rate = options.learning_rate;
  server.proximal_mu = options.proximal_mu;
  server.seed = options.seed;
  server.output = options.output;
  server.state = options.state;
  server.history = options.history;
  server.fresh = options.fresh;
  server.max_message_bytes = options.max_message_bytes;
  nlohmann::json rounds = nlohmann::json::array();
  flower::run_server(model, server, log, [&](const flower::RoundSummary& s) {
    rounds.push_back(
        {{"round", s.round},
         {"skipped", s.skipped},
         {"sampled", s.sampled},
         {"results", s.results},
         {"failures", s.failures},
         {"train_loss", s.train_loss},
         {"evaluate_loss", s.evaluate_loss},
         {"evaluate_accuracy",
          s.evaluate_accuracy ? nlohmann::json(*s.evaluate_accuracy) : nlohmann::json(nullptr)},
         {"evaluated_examples", s.evaluated_examples},
         {"bytes", s.bytes},
         {"seconds", s.seconds}});
  });
  if (options.json) {
    std::printf("%s\n",
                nlohmann::json{{"rounds", rounds}, {"model_path", options.output}}.dump().c_str());
  }
  return 0;
}

}  // namespace edgetrain::cli
