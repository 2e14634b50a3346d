// A federated server speaking Flower's legacy gRPC transport: the protocol of
// flwr.server.start_server, in C++, so a fleet of edgetrain (or Flower) clients needs no Python.
//
// Each round: wait for --min-clients, sample a fraction of them (the same seeded sampling as the
// simulator, over the clients ordered by the partition they hold), send FitIns, collect FitRes
// until all have answered, dropped or passed the round timeout, check every result before it
// touches the model, average the good ones in client order (FedAvg), evaluate on the clients
// (federated evaluation), then write the global model (.mlmodel) and a restart state, both
// atomically. A server started again with the same state file continues after its last round.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "edgetrain/model.h"

namespace edgetrain::flower {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;           // 0: a free port, said in the "listening on" line
  std::string certificates;  // a folder holding server.pem and server.key: TLS
  int64_t rounds = 1;
  int min_clients = 2;             // a round starts once this many clients are connected
  double fraction_fit = 1.0;       // of the connected clients, trained each round
  double fraction_evaluate = 1.0;  // of the connected clients, asked to evaluate each round
  int min_results = 1;             // fewer good FitRes make a short round
  bool retry_short_rounds = true;  // retry a short round (up to max_retries), else skip it
  int max_retries = 3;
  double round_timeout = 0;  // seconds per exchange; 0: wait for every client
  // What clients train with, sent in the FitIns config; unset: not sent (their own defaults).
  std::optional<int64_t> local_epochs, batch_size;
  std::optional<double> learning_rate;
  double proximal_mu = 0;  // FedProx's mu, sent as "proximal_mu"
  uint64_t seed = 1;       // client sampling and the clients' shuffling seeds
  std::string output = "fed-global.mlmodel";
  std::string state;             // default: output + ".state"
  std::string history;           // a folder for round-N.mlmodel after each round (optional)
  bool fresh = false;            // start over even if a state file exists
  size_t max_message_bytes = 0;  // largest client message accepted; 0: from the model's size
};

struct RoundSummary {
  int64_t round = 0;
  bool skipped = false;
  int sampled = 0, results = 0, failures = 0;
  double train_loss = 0;  // example-weighted mean of the clients' "loss" metrics (when sent)
  int64_t evaluated_examples = 0;
  double evaluate_loss = 0;
  std::optional<double> evaluate_accuracy;  // over the clients that sent an "accuracy" metric
  uint64_t bytes = 0;                       // sent and received on all streams during the round
  double seconds = 0;
};

// Serves until `options.rounds` rounds are done, then tells every client goodbye. `model` holds
// the initial global model (or is replaced by the saved state's) and ends as the final one. `log`
// gets one line per event and must be thread-safe; `on_round` one summary per finished round.
std::vector<RoundSummary> run_server(Model& model, const ServerOptions& options,
                                     const std::function<void(const std::string&)>& log,
                                     const std::function<void(const RoundSummary&)>& on_round = {});

}  // namespace edgetrain::flower
