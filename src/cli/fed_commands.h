// `edgetrain fed-client`, `fed-server` and `fed-sim`: federated learning from the command line
// (include/edgetrain/fed.h for the core, src/flower/ for Flower's gRPC transport).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cli/datasets.h"

namespace CLI {
class App;
}

namespace edgetrain::cli {

// Exit codes of fed-client besides 0 (the server said goodbye) and 1 (an error).
inline constexpr int kExitModelMismatch = 3;      // the server's model does not fit the client's
inline constexpr int kExitServerUnreachable = 4;  // no server within --give-up seconds

struct FedClientOptions {
  std::string server;
  std::string model;
  DataRequest data;
  std::string partition;  // "I/K": the I-th of K partitions (from 0), for demos on one dataset
  std::string partition_kind = "iid";
  uint64_t seed = 1;
  std::string output;
  std::string certificates;
  int threads = 1;
  size_t limit = 0;  // train on the first N samples (before partitioning)
  std::optional<int64_t> epochs, batch_size;
  std::optional<double> learning_rate;
  double retry_max_seconds = 8;
  double give_up_seconds = 0;
};
int run_fed_client(const FedClientOptions& options);

struct FedServerOptions {
  std::string model;
  int64_t rounds = 1;
  int min_clients = 2;
  double fraction_fit = 1.0;
  double fraction_evaluate = 1.0;
  int min_results = 1;
  std::string short_round = "retry";  // or "skip"
  int max_retries = 3;
  std::string host = "127.0.0.1";
  int port = 8080;
  double round_timeout = 0;
  std::string output = "fed-global.mlmodel";
  std::string state;
  std::string history;
  double proximal_mu = 0;
  std::optional<int64_t> local_epochs, batch_size;
  std::optional<double> learning_rate;
  uint64_t seed = 1;
  std::string certificates;
  bool fresh = false;
  size_t max_message_bytes = 0;
  bool json = false;
};
int run_fed_server(const FedServerOptions& options);

struct FedSimOptions {
  int clients = 100;
  int64_t rounds = 10;
  double fraction = 0.1;
  // Unset: the preset's E = 1, B = 10 and learning rate 0.1, or the model file's own.
  std::optional<int64_t> local_epochs, batch_size;
  std::optional<double> learning_rate;
  double proximal_mu = 0;
  std::string partition_kind = "iid";
  std::string preset = "2nn";  // or "cnn"
  std::string model;           // an updatable .mlmodel instead of a preset
  double target_accuracy = 0;
  bool stop_at_target = false;
  DataRequest data;
  uint64_t seed = 1;
  int workers = 0;
  size_t limit = 0, test_limit = 0;
  std::string history;  // a folder for round-N.mlmodel
  std::string output;   // the final global model
  bool json = false;
};
int run_fed_sim(const FedSimOptions& options);

// Adds the three subcommands to the command line; run() runs the one that was parsed, if any.
class FedCommandLine {
 public:
  explicit FedCommandLine(CLI::App& app);
  std::optional<int> run() const;

 private:
  CLI::App* client_command_;
  CLI::App* server_command_;
  CLI::App* sim_command_;
  FedClientOptions client_;
  FedServerOptions server_;
  FedSimOptions sim_;
};

}  // namespace edgetrain::cli
