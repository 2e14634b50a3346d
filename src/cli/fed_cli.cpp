// The command-line options of fed-client, fed-server and fed-sim.
#include <CLI/CLI.hpp>
#include <limits>

#include "cli/fed_commands.h"
#include "cli/option_checks.h"
#include "edgetrain/error.h"

namespace edgetrain::cli {
namespace {

// An option that stays unset unless given: a whole number of at least 1, or a positive number.
template <typename T>
void add_optional(CLI::App* command, const std::string& name, std::optional<T>& target,
                  const std::string& help) {
  command
      ->add_option_function<T>(
          name, [&target](const T& value) { target = value; }, help)
      ->check(std::is_integral_v<T> ? whole_number_at_least(1) : positive_number());
}

constexpr int64_t kIntMax = std::numeric_limits<int>::max();

}  // namespace

FedCommandLine::FedCommandLine(CLI::App& app) {
  // ---- fed-client
  FedClientOptions& c = client_;
  client_command_ = app.add_subcommand(
      "fed-client", "train with a federated server over Flower's gRPC protocol (legacy transport)");
  client_command_->add_option("--server", c.server, "the server, HOST:PORT")->required();
  client_command_->add_option("--model", c.model, "the updatable .mlmodel the fleet trains")
      ->required();
  add_data_options(client_command_, c.data);
  client_command_->add_option("--partition", c.partition,
                              "hold only partition I of K of the dataset (from 0), e.g. 0/10");
  client_command_->add_option("--partition-kind", c.partition_kind,
                              "iid (default), shards[:N] or dirichlet:ALPHA");
  client_command_->add_option("--seed", c.seed, "partition and shuffling seed (default 1)");
  client_command_->add_option("--output,-o", c.output,
                              "keep the latest global model in FILE (.mlmodel)");
  client_command_->add_option("--certificates", c.certificates,
                              "TLS: a folder holding ca.pem, the server's root certificate");
  client_command_->add_option("--threads", c.threads, "threads for local training (default 1)")
      ->check(whole_number_at_least(1, kIntMax));
  client_command_->add_option("--limit", c.limit, "use the first N training samples")
      ->check(whole_number_at_least(0));
  add_optional(client_command_, "--epochs", c.epochs,
               "local epochs when the server does not say (default: the model's)");
  add_optional(client_command_, "--batch-size", c.batch_size,
               "batch size when the server does not say (default: the model's)");
  add_optional(client_command_, "--learning-rate", c.learning_rate,
               "learning rate when the server does not say (default: the model's)");
  client_command_
      ->add_option("--retry-max", c.retry_max_seconds,
                   "longest wait between connection attempts, seconds (default 8)")
      ->check(positive_number());
  client_command_
      ->add_option("--give-up", c.give_up_seconds,
                   "exit (code 4) after this many seconds without a server (default: "
                   "never)")
      ->check(CLI::NonNegativeNumber);

  // ---- fed-server
  FedServerOptions& s = server_;
  server_command_ = app.add_subcommand(
      "fed-server",
      "serve federated rounds (FedAvg) over Flower's gRPC protocol (legacy transport)");
  server_command_->add_option("--model", s.model, "the initial global model (.mlmodel)")
      ->required();
  server_command_->add_option("--rounds", s.rounds, "rounds (default 1)")
      ->check(whole_number_at_least(1));
  server_command_
      ->add_option("--min-clients", s.min_clients,
                   "clients connected before a round starts (default 2)")
      ->check(whole_number_at_least(1, kIntMax));
  server_command_->add_option("--fraction-fit", s.fraction_fit,
                              "fraction of the clients trained each round (default 1)");
  server_command_->add_option("--fraction-evaluate", s.fraction_evaluate,
                              "fraction asked to evaluate each round (default 1; 0: none)");
  server_command_
      ->add_option("--min-results", s.min_results,
                   "fewer good updates make a short round (default 1)")
      ->check(whole_number_at_least(1, kIntMax));
  server_command_
      ->add_option("--short-round", s.short_round,
                   "retry (default, up to --max-retries times) or skip a short round")
      ->check(CLI::IsMember({"retry", "skip"}));
  server_command_
      ->add_option("--max-retries", s.max_retries, "retries of a short round (default 3)")
      ->check(whole_number_at_least(0, kIntMax));
  server_command_->add_option("--host", s.host, "address to listen on (default 127.0.0.1)");
  server_command_->add_option("--port", s.port, "port (default 8080; 0: any free port)")
      ->check(CLI::Range(0, 65535));
  server_command_
      ->add_option("--round-timeout", s.round_timeout,
                   "seconds a client may take per instruction (default: no limit)")
      ->check(CLI::NonNegativeNumber);
  server_command_->add_option("--output,-o", s.output,
                              "the global model after each round (default fed-global.mlmodel)");
  server_command_->add_option("--state", s.state,
                              "restart state, written each round (default: OUTPUT.state)");
  server_command_->add_option("--history", s.history, "also keep round-N.mlmodel in this folder");
  server_command_->add_option("--proximal-mu", s.proximal_mu, "FedProx's mu, sent to clients (0)")
      ->check(CLI::NonNegativeNumber);
  add_optional(server_command_, "--local-epochs", s.local_epochs, "local epochs clients run");
  add_optional(server_command_, "--batch-size", s.batch_size, "clients' batch size");
  add_optional(server_command_, "--learning-rate", s.learning_rate, "clients' learning rate");
  server_command_->add_option("--seed", s.seed, "client sampling and shuffling seed (default 1)");
  server_command_->add_option("--certificates", s.certificates,
                              "TLS: a folder holding server.pem and server.key");
  server_command_->add_flag("--fresh", s.fresh, "start over, ignoring a saved state");
  server_command_
      ->add_option("--max-message-bytes", s.max_message_bytes,
                   "largest client message accepted (default: from the model's size)")
      ->check(whole_number_at_least(0, kIntMax));
  server_command_->add_flag("--json", s.json, "end with one JSON line of per-round results");

  // ---- fed-sim
  FedSimOptions& m = sim_;
  sim_command_ =
      app.add_subcommand("fed-sim", "simulate FedAvg with K virtual clients in one process");
  sim_command_->add_option("--clients", m.clients, "K clients (default 100)")
      ->check(whole_number_at_least(1, kIntMax));
  sim_command_
      ->add_option("--rounds", m.rounds,
                   "rounds (default 10; 0: only write the initial model to --output)")
      ->check(whole_number_at_least(0));
  sim_command_->add_option("--fraction", m.fraction, "C, the fraction of clients per round (0.1)");
  add_optional(sim_command_, "--local-epochs", m.local_epochs,
               "E (default: the preset's 1, or the model file's)");
  add_optional(sim_command_, "--batch-size", m.batch_size,
               "B (default: the preset's 10, or the model file's)");
  add_optional(sim_command_, "--learning-rate", m.learning_rate,
               "client learning rate (default: the preset's 0.1, or the model file's)");
  sim_command_->add_option("--proximal-mu", m.proximal_mu, "FedProx's mu (default 0)")
      ->check(CLI::NonNegativeNumber);
  sim_command_->add_option("--partition-kind", m.partition_kind,
                           "iid (default), shards[:N] (the paper's non-IID) or dirichlet:ALPHA");
  sim_command_->add_option("--preset", m.preset, "the paper's model: 2nn (default) or cnn")
      ->check(CLI::IsMember({"cnn", "2nn"}));
  sim_command_->add_option("--model", m.model, "an updatable .mlmodel instead of a preset");
  sim_command_->add_option("--target-accuracy", m.target_accuracy,
                           "report the first round reaching this test accuracy, e.g. 0.97");
  sim_command_->add_flag("--stop-at-target", m.stop_at_target, "stop once the target is reached");
  add_data_options(sim_command_, m.data);
  sim_command_->add_option("--seed", m.seed, "seed of everything (default 1)");
  sim_command_->add_option("--workers", m.workers, "clients trained at once (default: every core)")
      ->check(whole_number_at_least(0, kIntMax));
  sim_command_->add_option("--limit", m.limit, "use the first N training samples")
      ->check(whole_number_at_least(0));
  sim_command_->add_option("--test-limit", m.test_limit, "use the first N test samples")
      ->check(whole_number_at_least(0));
  sim_command_->add_option("--history", m.history, "keep round-N.mlmodel in this folder");
  sim_command_->add_option("--output,-o", m.output, "the final global model (.mlmodel)");
  sim_command_->add_flag("--json", m.json, "end with one JSON line of settings and results");
}

std::optional<int> FedCommandLine::run() const {
#if EDGETRAIN_FLOWER
  if (client_command_->parsed()) return run_fed_client(client_);
  if (server_command_->parsed()) return run_fed_server(server_);
#else  // built with EDGETRAIN_BUILD_FLOWER=OFF: no gRPC, so no transport (cli/fed_commands.cpp)
  if (client_command_->parsed() || server_command_->parsed()) {
    throw Error(std::string(client_command_->parsed() ? "fed-client" : "fed-server") +
                ": this edgetrain was built without Flower's gRPC transport "
                "(-DEDGETRAIN_BUILD_FLOWER=OFF); fed-sim works without it");
  }
#endif
  if (sim_command_->parsed()) return run_fed_sim(sim_);
  return std::nullopt;
}

}  // namespace edgetrain::cli
