// Peers other than our own: Python peers speaking Flower's protocol as Flower does (a NumPyClient
// and a legacy start_server), misbehaving peers, a peer training another model, TLS, a server that
// is not there yet, and a client that never answers.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "edgetrain/fed.h"
#include "edgetrain/io.h"
#include "fed/fed_fixture.h"

namespace edgetrain {
namespace {

using test_fed::Process;

std::unique_ptr<Process> python_peer(std::vector<std::string> arguments, const std::string& name) {
  arguments.insert(arguments.begin(),
                   {"/usr/bin/python3", test_paths::source("tests/fed/flower_peer.py")});
  return std::make_unique<Process>(
      arguments, name,
      std::vector<std::string>{std::string("PYTHONPATH=") + EDGETRAIN_PYTHON_PROTO_DIR});
}

// A port nobody listens on right now (the kernel's choice, released at once).
int unused_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

std::vector<float> times(std::vector<float> values, float factor) {
  for (float& value : values) value *= factor;
  return values;
}

class FedPeers : public test_fed::Fleet {};

TEST_F(FedPeers, BadPeersAreRefusedWithAReasonAndNeverTouchTheModel) {
  int port = 0;
  auto server =
      start_server({"--min-clients", "1", "--rounds", "6", "--short-round", "skip"}, &port);
  const long cap = test_fed::number_after(server->wait_for("messages up to "), "up to ");
  ASSERT_GT(cap, 0);
  // One bad peer a round, then a well-behaved Flower-style NumPyClient.
  auto peer = python_peer(
      {"client", "--server", "127.0.0.1:" + std::to_string(port), "--cap", std::to_string(cap),
       "--modes", "garbage,wrong-count,wrong-shape,wrong-dtype,oversized,flower"},
      "flower_peer.py client");
  ASSERT_EQ(server->wait(), 0) << server->output();
  ASSERT_EQ(peer->wait(), 0) << peer->output();
  for (const char* reason :
       {"refused client #*: * bytes that are not a ClientMessage",
        "refused its parameters: expected 6 tensors, got 5",
        "refused its parameters: tensor 0: expected shape [200, 784], got [784, 200]",
        "refused its parameters: tensor 0: .npy dtype '<f8' refused",
        "refused client #*: a message of * bytes is over the cap of * bytes"}) {
    EXPECT_TRUE(server->printed(reason)) << "no /" << reason << "/ in\n" << server->output();
  }
  for (int round = 1; round <= 5; ++round) {
    EXPECT_TRUE(server->printed("round " + std::to_string(round) + "/6: skipped"));
    EXPECT_EQ(weights(round_file("history", round)), weights(initial)) << "round " << round;
  }
  // The peer read our FitIns with numpy.load as float32 of the model's shapes ...
  EXPECT_TRUE(
      peer->printed("flower: received FitIns: 6 tensors, dtypes ['float32'], shapes "
                    "[[200, 784], [200], [200, 200], [200], [10, 200], [10]]"))
      << peer->output();
  // ... with a config in the Scalar fields every Flower 1.x knows (its seed as sint64, not uint64).
  EXPECT_TRUE(peer->printed("flower: received FitIns: * config kinds ['double', 'sint64']"))
      << peer->output();
  // ... and we read its numpy.save bytes: round 6 averages its one update, twice the weights.
  EXPECT_EQ(weights(round_file("history", 6)), times(weights(initial), 2.0f));
  EXPECT_TRUE(server->printed("round 6/6: 1 of 1 clients trained * accuracy 0.2500 on 5 examples"))
      << server->output();
  EXPECT_TRUE(peer->printed("flower: the server said goodbye")) << peer->output();
}

TEST_F(FedPeers, OurClientFollowsAFlowerStyleLegacyServer) {
  auto server =
      python_peer({"server", "--rounds", "2", "--out", folder.string()}, "flower_peer.py server");
  const std::string line = server->wait_for("listening on 127.0.0.1:");
  const long port = test_fed::number_after(line, "listening on 127.0.0.1:");
  ASSERT_GT(port, 0);
  auto client = start_client(1, int(port), {"--output", path("client.mlmodel")});
  ASSERT_EQ(client->wait(), 0) << client->output();
  ASSERT_EQ(server->wait(), 0) << server->output();

  const Model model = load_model(initial);
  const fed::Tensors first = fed::exchanged_parameters(model);
  const fed::Tensors last = fed::exchanged_parameters(load_model(path("client.mlmodel")));
  ASSERT_EQ(last.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    // GetParametersIns gave the server our initial model; the last EvaluateIns gave us its final.
    EXPECT_EQ(
        fed::decode_npy(read_whole_file(path("initial-" + std::to_string(i) + ".npy"))).values,
        first[i].values);
    EXPECT_EQ(fed::decode_npy(read_whole_file(path("final-" + std::to_string(i) + ".npy"))).values,
              last[i].values);
  }
  EXPECT_NE(last[0].values, first[0].values);
  std::ifstream in(path("metrics.json"));
  const nlohmann::json metrics = nlohmann::json::parse(in);
  ASSERT_EQ(metrics["fit"].size(), 2u);
  EXPECT_EQ(metrics["fit"][0]["num_examples"], 600);  // partition 1 of 3 of 1,800 samples
  EXPECT_EQ(metrics["fit"][0]["dtypes"], nlohmann::json::array({"float32"}));
  EXPECT_GT(metrics["evaluate"][1]["accuracy"].get<double>(), 0.5);
  EXPECT_EQ(metrics["evaluate"][1]["num_examples"], 3333);  // its share of the 10,000 test images
  EXPECT_EQ(metrics["disconnect_reason"], "ACK");
  // The server's config (Python ints and floats) reached the client's training.
  EXPECT_TRUE(client->printed("fit: round 2: trained on 600 samples")) << client->output();
}

TEST_F(FedPeers, AClientWithAnotherModelExitsWithAClearError) {
  // The client's model has other shapes: it refuses the FitIns, tells the server, and exits 3.
  const std::string cnn = path("cnn.mlmodel");
  save_model(fed::fedavg_cnn(), cnn);
  int port = 0;
  auto server =
      start_server({"--min-clients", "1", "--rounds", "1", "--short-round", "skip"}, &port);
  auto client = start_client(0, port, {}, cnn);
  EXPECT_EQ(client->wait(), 3) << client->output();
  EXPECT_TRUE(
      client->printed("refused: the server's FitIns parameters do not fit this client's "
                      "model: expected 8 tensors, got 6"))
      << client->output();
  ASSERT_EQ(server->wait(), 0) << server->output();
  EXPECT_TRUE(
      server->printed("the client reported FIT_NOT_IMPLEMENTED: the server's FitIns "
                      "parameters do not fit"))
      << server->output();

  // A server whose model is bigger than the client's allows: refused by size, also exit 3.
  const std::string saved_initial = initial;
  initial = cnn;
  auto big_server = start_server(
      {"--min-clients", "1", "--rounds", "1", "--short-round", "skip", "--fresh"}, &port);
  auto small_client = start_client(0, port, {}, saved_initial);
  EXPECT_EQ(small_client->wait(), 3) << small_client->output();
  EXPECT_TRUE(small_client->printed("refused: the server sent a message over the"))
      << small_client->output();
  big_server->kill();
}

TEST_F(FedPeers, TlsWhenCertificatesAreGiven) {
  const std::string certificates = path("certificates");
  std::filesystem::create_directories(certificates);
  const std::string script =
      "cd '" + certificates +
      "' && "
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
      "-subj '/CN=edgetrain test CA' && "
      "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "
      "'/CN=localhost' && "
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost' > san.ext && "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem "
      "-days 2 -extfile san.ext";
  ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0) << "openssl failed";
  int port = 0;
  auto server =
      start_server({"--min-clients", "1", "--rounds", "1", "--certificates", certificates}, &port);
  EXPECT_TRUE(server->printed("(TLS)")) << server->output();
  // Without the certificate the client cannot talk to it; with it, it trains.
  auto plaintext = start_client(0, port, {"--give-up", "1"});
  EXPECT_EQ(plaintext->wait(), 4) << plaintext->output();
  auto client = start_client(0, port, {"--certificates", certificates});
  EXPECT_EQ(client->wait(), 0) << client->output();
  ASSERT_EQ(server->wait(), 0) << server->output();
  EXPECT_TRUE(server->printed("round 1/1: 1 of 1 clients trained")) << server->output();
}

TEST_F(FedPeers, AClientWaitsForItsServerWithBackOff) {
  const int port = unused_port();
  auto client = start_client(0, port);
  client->wait_for("cannot reach 127.0.0.1:*retrying in");
  int listening = 0;
  auto server = start_server({"--min-clients", "1", "--rounds", "1"}, &listening, port);
  EXPECT_EQ(client->wait(), 0) << client->output();
  EXPECT_EQ(server->wait(), 0) << server->output();
  EXPECT_TRUE(client->printed("fit: round 1: trained on 600 samples")) << client->output();

  auto alone = start_client(0, unused_port(), {"--give-up", "0.5"});
  EXPECT_EQ(alone->wait(), 4) << alone->output();
  EXPECT_TRUE(alone->printed("no server at 127.0.0.1:")) << alone->output();
}

TEST_F(FedPeers, AShortRoundIsRetriedThenSkipped) {
  int port = 0;
  auto server = start_server(
      {"--min-clients", "1", "--rounds", "2", "--short-round", "retry", "--max-retries", "1"},
      &port);
  auto peer = python_peer({"client", "--server", "127.0.0.1:" + std::to_string(port), "--modes",
                           "garbage,wrong-count,flower"},
                          "flower_peer.py client");
  ASSERT_EQ(server->wait(), 0) << server->output();
  EXPECT_EQ(peer->wait(), 0) << peer->output();
  EXPECT_TRUE(server->printed("round 1: 0 of 1 needed updates; retrying (1 of 1)"))
      << server->output();
  EXPECT_TRUE(server->printed("round 1/2: skipped")) << server->output();
  EXPECT_TRUE(server->printed("round 2/2: 1 of 1 clients trained")) << server->output();
  EXPECT_EQ(weights(round_file("history", 1)), weights(initial));
  EXPECT_EQ(weights(round_file("history", 2)), times(weights(initial), 2.0f));
}

TEST_F(FedPeers, AClientThatNeverAnswersIsDroppedAtTheRoundTimeout) {
  int port = 0;
  auto server = start_server(
      {"--min-clients", "1", "--rounds", "1", "--round-timeout", "2", "--short-round", "skip"},
      &port);
  auto peer =
      python_peer({"client", "--server", "127.0.0.1:" + std::to_string(port), "--modes", "silent"},
                  "flower_peer.py client");
  ASSERT_EQ(server->wait(), 0) << server->output();
  EXPECT_TRUE(server->printed("timed out; disconnecting it")) << server->output();
  EXPECT_TRUE(server->printed("round 1/1: skipped")) << server->output();
  EXPECT_EQ(peer->wait(), 0) << peer->output();
  EXPECT_TRUE(peer->printed("silent: the server ended the stream: DEADLINE_EXCEEDED"))
      << peer->output();
  EXPECT_EQ(weights(path("global.mlmodel")), weights(initial));
}

}  // namespace
}  // namespace edgetrain
