// fed-server and three fed-client processes on loopback: bit-identical to fed-sim round by round;
// a client killed mid-round (right after it says it received FitIns) and the round completes with
// the other two; the server killed after a round and restarted continues from that round.
#include <gtest/gtest.h>

#include "edgetrain/fed.h"
#include "edgetrain/io.h"
#include "fed/fed_fixture.h"
#include "flower/server_state.h"

namespace edgetrain {
namespace {

using test_fed::Process;

class FedLoopback : public test_fed::Fleet {};

TEST_F(FedLoopback, ServerAndThreeClientsMatchTheSimulatorBitForBit) {
  // Two of three clients a round: the server's sampling, the clients' partitions and seeds, and
  // the averaging order must all be the simulator's; FedProx's mu travels in the FitIns config.
  int port = 0;
  auto server = start_server(
      {"--min-clients", "3", "--rounds", "3", "--fraction-fit", "0.67", "--proximal-mu", "0.3"},
      &port);
  ASSERT_GT(port, 0);
  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(start_client(i, port));
  ASSERT_EQ(server->wait(), 0) << server->output();
  for (auto& client : clients) EXPECT_EQ(client->wait(), 0) << client->output();
  EXPECT_TRUE(server->printed("round 1/3: 2 of 2 clients trained (0 failed)")) << server->output();
  simulate("0.67", 3, "sim", {"--proximal-mu", "0.3"});

  std::vector<float> previous = weights(initial);
  for (int round = 1; round <= 3; ++round) {
    const std::vector<float> served = weights(round_file("history", round));
    EXPECT_EQ(served, weights(round_file("sim", round))) << "round " << round;
    EXPECT_NE(served, previous) << "round " << round << " changed nothing";
    previous = served;
  }
  EXPECT_EQ(weights(path("global.mlmodel")), previous);
}

TEST_F(FedLoopback, AClientKilledMidRoundAndTheRoundCompletesWithTheOthers) {
  int port = 0;
  auto server = start_server({"--min-clients", "3", "--rounds", "2"}, &port);
  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(start_client(i, port));
  // The moment comes from the protocol: client 2 has its FitIns and is training.
  clients[2]->wait_for("fit: round 1: received FitIns");
  clients[2]->kill();
  EXPECT_EQ(clients[2]->wait(), -SIGKILL);
  server->wait_for("round 1/2: 2 of 3 clients trained (1 failed)");

  // Round 1's model is FedAvg of clients 0 and 1 alone, as the library computes it here.
  Model model = load_model(initial);
  Dataset train = read_idx_folder(test_paths::mnist_dir(), "train");
  train.truncate(std::stoul(kLimit));
  const auto parts = fed::partition(train, 3, {}, std::stoull(kSeed));
  fed::FederatedAverage average(fed::exchanged_shapes(model));
  for (int k : {0, 1}) {
    Model local = model;
    const SampleView data(train, fed::client_indices(parts[size_t(k)]));
    const fed::LocalResult result = fed::train_locally(
        local, data, {.seed = fed::local_training_seed(std::stoull(kSeed), 1, k)});
    average.add(fed::exchanged_parameters(local), result.num_examples);
  }
  fed::set_exchanged_parameters(model, average.result());
  EXPECT_EQ(weights(round_file("history", 1)), model.parameters);

  // The fleet goes on once client 2 comes back.
  clients[2] = start_client(2, port);
  ASSERT_EQ(server->wait(), 0) << server->output();
  EXPECT_TRUE(server->printed("round 2/2: 3 of 3 clients trained (0 failed)")) << server->output();
  for (auto& client : clients) EXPECT_EQ(client->wait(), 0) << client->output();
}

TEST_F(FedLoopback, AServerKilledAndRestartedContinuesFromItsLastRound) {
  const std::vector<std::string> settings = {"--min-clients",  "3",   "--rounds", "3",
                                             "--fraction-fit", "0.67"};
  int port = 0;
  auto server = start_server(settings, &port);
  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(start_client(i, port));
  server->wait_for("round 2/3:");  // printed after round 2's model and state are on disk
  server->kill();
  EXPECT_EQ(server->wait(), -SIGKILL);
  simulate("0.67", 3, "sim");

  const Model saved = load_model(path("global.mlmodel"));
  const auto state =
      flower::load_server_state(path("global.mlmodel.state"), fed::exchanged_shapes(saved));
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->round, 2);
  EXPECT_EQ(saved.parameters, weights(round_file("sim", 2)));

  // The same command again, on the port the clients keep knocking on.
  int again = 0;
  auto restarted = start_server(settings, &again, port);
  EXPECT_EQ(again, port);
  restarted->wait_for("resuming after round 2");
  ASSERT_EQ(restarted->wait(), 0) << restarted->output();
  EXPECT_FALSE(restarted->printed("round 1/3:")) << restarted->output();
  EXPECT_FALSE(restarted->printed("round 2/3:")) << restarted->output();
  EXPECT_TRUE(restarted->printed("round 3/3: 2 of 2 clients trained")) << restarted->output();
  EXPECT_EQ(weights(path("global.mlmodel")), weights(round_file("sim", 3)));
  for (auto& client : clients) EXPECT_EQ(client->wait(), 0) << client->output();
}

TEST_F(FedLoopback, ARegressorsFleetReportsItsErrorsNotAnAccuracy) {
  // Mean squared error against one-hot targets: no accuracy in local training or evaluation.
  const std::string regressor = path("regressor.mlmodel");
  save_model(
      ModelBuilder()
          .input("image", {1, 28, 28})
          .output("scores", {10})
          .training_input("image", {1, 28, 28})
          .training_input("target", {10})
          .loss(MeanSquaredError{.name = "mse", .input = "scores", .target = "target"})
          .optimizer(Sgd{.learning_rate = {0.5, {{0.0, 1.0}}}, .mini_batch_size = {20, {{1, 100}}}})
          .epochs({1, {{1, 10}}})
          .layers({{"flatten", "image", "flat", Flatten{}},
                   {"dense", "flat", "d", InnerProduct{.output_channels = 10}, kUpdatable},
                   {"sigmoid", "d", "scores", Sigmoid()}})
          .build(),
      regressor);
  initial = regressor;
  int port = 0;
  auto server = start_server({"--min-clients", "1", "--rounds", "1"}, &port);
  auto client = start_client(0, port);
  EXPECT_EQ(client->wait(), 0) << client->output();
  ASSERT_EQ(server->wait(), 0) << server->output();
  EXPECT_TRUE(client->printed("fit: round 1: trained on 600 samples, loss ")) << client->output();
  EXPECT_FALSE(client->printed("accuracy")) << client->output();
  EXPECT_TRUE(client->printed("evaluate: round 1: loss *, mse *, mae * on 3333 samples"))
      << client->output();
  EXPECT_TRUE(
      server->printed("round 1/1: 1 of 1 clients trained * | evaluate: loss * on 3333 "
                      "examples |"))
      << server->output();
  EXPECT_FALSE(server->printed("accuracy")) << server->output();
}

}  // namespace
}  // namespace edgetrain
