// A federated client speaking Flower's legacy gRPC transport (flwr.proto.FlowerService/Join): it
// connects to a Flower server (flwr.server.start_server, or `edgetrain fed-server`), answers each
// instruction with one reply on the same stream, and trains a Core ML model on its local data.
#pragma once

#include <functional>
#include <string>

#include "edgetrain/data.h"
#include "edgetrain/fed.h"
#include "edgetrain/model.h"

namespace edgetrain::flower {

struct ClientOptions {
  std::string server;        // HOST:PORT
  std::string certificates;  // a folder holding ca.pem (the server's root certificate): TLS
  // Local training where the server's FitIns config says nothing (unset: the model's own).
  fed::LocalTraining defaults;
  // Told to a server that asks (GetPropertiesIns): the partition of a shared dataset this client
  // holds; -1 when it holds its own data.
  int64_t partition_index = -1, partition_count = 0;
  uint64_t seed = 1;             // local shuffling when the server sends no "seed"
  std::string output;            // written with every global model received (.mlmodel), atomically
  double retry_max_seconds = 8;  // back-off between attempts doubles from 0.25 s up to this
  double give_up_seconds = 0;    // stop after this long without reaching a server; 0: never
  size_t max_message_bytes = 0;  // largest server message accepted; 0: from the model's size
};

enum class ClientExit {
  kFinished,           // the server said goodbye (ReconnectIns with 0 seconds)
  kRefused,            // the server's model or instructions do not fit this client's model
  kServerUnreachable,  // no server within give_up_seconds
};
struct ClientOutcome {
  ClientExit exit = ClientExit::kFinished;
  std::string message;  // why, for kRefused and kServerUnreachable
  int64_t fits = 0, evaluations = 0;
};

// Runs until the server says goodbye, the models do not match, or no server can be reached.
// `model` is trained in place; `test` may be empty (then `train` is evaluated). `log` receives
// one line per event (connections, instructions, results) and must be thread-safe.
ClientOutcome run_client(Model& model, const BatchProvider& train, const BatchProvider& test,
                         const ClientOptions& options,
                         const std::function<void(const std::string&)>& log);

}  // namespace edgetrain::flower
