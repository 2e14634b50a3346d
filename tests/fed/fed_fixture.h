// A fleet on loopback for the federated tests: the CLI's fed-server and fed-clients (and the
// simulator) as processes, on a small slice of MNIST, with the FedAvg paper's 2NN.
#pragma once

#include <memory>

#include "edgetrain/fed.h"
#include "edgetrain/io.h"
#include "fed/processes.h"

namespace edgetrain::test_fed {

class Fleet : public FedFolder {
 protected:
  static constexpr const char* kSeed = "5";
  static constexpr const char* kLimit = "1800";  // training samples, before partitioning

  void SetUp() override {
    FedFolder::SetUp();
    initial = path("initial.mlmodel");
    save_model(fed::fedavg_2nn({.learning_rate = 0.05, .batch_size = 20, .epochs = 1, .seed = 3}),
               initial);
  }

  // Starts fed-server on a free port (or `port`); returns it once the server listens.
  std::unique_ptr<Process> start_server(std::vector<std::string> extra, int* port_out,
                                        int port = 0) {
    std::vector<std::string> arguments = {
        test_paths::cli(), "fed-server",           "--model",   initial,
        "--port",          std::to_string(port),   "--seed",    kSeed,
        "--output",        path("global.mlmodel"), "--history", path("history")};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    auto server = std::make_unique<Process>(arguments, "fed-server");
    const std::string line = server->wait_for("listening on 127.0.0.1:");
    *port_out = int(number_after(line, "listening on 127.0.0.1:"));
    return server;
  }

  std::unique_ptr<Process> start_client(int index, int port, std::vector<std::string> extra = {},
                                        const std::string& model = "") {
    std::vector<std::string> arguments = {test_paths::cli(), "fed-client",
                                          "--server",        "127.0.0.1:" + std::to_string(port),
                                          "--model",         model.empty() ? initial : model,
                                          "--dataset",       test_paths::mnist_dir(),
                                          "--limit",         kLimit,
                                          "--partition",     std::to_string(index) + "/3",
                                          "--seed",          kSeed,
                                          "--retry-max",     "0.5"};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(arguments, "fed-client " + std::to_string(index));
  }

  // fed-sim on the same data, seed and settings; keeps round-N.mlmodel in `history`.
  void simulate(const std::string& fraction, int rounds, const std::string& history,
                std::vector<std::string> extra = {}) {
    std::vector<std::string> arguments = {test_paths::cli(), "fed-sim",
                                          "--model",         initial,
                                          "--dataset",       test_paths::mnist_dir(),
                                          "--limit",         kLimit,
                                          "--clients",       "3",
                                          "--fraction",      fraction,
                                          "--rounds",        std::to_string(rounds),
                                          "--seed",          kSeed,
                                          "--workers",       "2",
                                          "--history",       path(history)};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    Process sim(arguments, "fed-sim");
    ASSERT_EQ(sim.wait(), 0) << sim.output();
  }

  static std::vector<float> weights(const std::string& model_path) {
    return load_model(model_path).parameters;
  }
  std::string round_file(const std::string& history, int round) const {
    return path(history + "/round-" + std::to_string(round) + ".mlmodel");
  }

  std::string initial;
};

}  // namespace edgetrain::test_fed
