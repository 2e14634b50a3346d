#include "flower/server.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <filesystem>

#include "base/atomic_file.h"
#include "edgetrain/error.h"
#include "edgetrain/fed.h"
#include "edgetrain/io.h"
#include "flower/flower_transport.grpc.pb.h"
#include "flower/hub.h"
#include "flower/messages.h"
#include "flower/server_state.h"

namespace edgetrain::flower {
namespace {

using clock = std::chrono::steady_clock;
using flwr::proto::ServerMessage;

// Join over raw bytes, so the hub sees each message's size before parsing it.
class FlowerService final : public flwr::proto::FlowerService::WithRawCallbackMethod_Join<
                                flwr::proto::FlowerService::Service> {
 public:
  explicit FlowerService(Hub& hub) : hub_(hub) {}
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Join(
      grpc::CallbackServerContext* context) override {
    return hub_.accept(context);
  }

 private:
  Hub& hub_;
};

void check(const ServerOptions& o) {
  if (o.rounds < 1) throw Error("fed-server: --rounds must be at least 1");
  if (o.min_clients < 1) throw Error("fed-server: --min-clients must be at least 1");
  if (o.min_results < 1) throw Error("fed-server: --min-results must be at least 1");
  if (!(o.fraction_fit > 0 && o.fraction_fit <= 1) ||
      !(o.fraction_evaluate >= 0 && o.fraction_evaluate <= 1)) {
    throw Error("fed-server: --fraction-fit must be in (0, 1] and --fraction-evaluate in [0, 1]");
  }
  if (!(o.round_timeout >= 0) || !(o.proximal_mu >= 0)) {
    throw Error("fed-server: --round-timeout and --proximal-mu must not be negative");
  }
  if (o.port < 0 || o.port > 65535) throw Error("fed-server: --port must be in 0-65535");
}

std::shared_ptr<grpc::ServerCredentials> credentials_for(const ServerOptions& options) {
  if (options.certificates.empty()) return grpc::InsecureServerCredentials();
  const std::string folder = options.certificates + "/";
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({read_whole_file(folder + "server.key", size_t(1) << 20),
                                    read_whole_file(folder + "server.pem", size_t(1) << 20)});
  return grpc::SslServerCredentials(ssl);
}

// A client's place in the averaging order: the partition it holds, else after every partition in
// the order clients joined.
int64_t order_key(const Hub::ClientInfo& client) {
  return client.partition_index >= 0 ? client.partition_index
                                     : (int64_t(1) << 40) + int64_t(client.id);
}

std::string mb(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", double(bytes) / 1e6);
  return text;
}

class Coordinator {
 public:
  Coordinator(Model& model, const ServerOptions& options, Hub& hub,
              const std::function<void(const std::string&)>& log)
      : options_(options), hub_(hub), log_(log), shapes_(fed::exchanged_shapes(model)) {}

  std::optional<clock::time_point> deadline() const {
    if (options_.round_timeout <= 0) return std::nullopt;
    return clock::now() + std::chrono::duration_cast<clock::duration>(
                              std::chrono::duration<double>(options_.round_timeout));
  }

  // Asks each new client what it holds (GetPropertiesIns) until min_clients are known.
  std::vector<Hub::ClientInfo> wait_for_clients(int wanted) {
    bool said = false;
    while (true) {
      const uint64_t seen = hub_.generation();
      std::vector<std::pair<uint64_t, ServerMessage>> questions;
      for (const Hub::ClientInfo& client : hub_.clients()) {
        if (client.identified) continue;
        ServerMessage question;
        question.mutable_get_properties_ins();
        questions.push_back({client.id, question});
      }
      // A client that never answers is dropped after the round timeout or 30 s, the longer.
      const auto limit =
          clock::now() + std::chrono::duration_cast<clock::duration>(
                             std::chrono::duration<double>(std::max(options_.round_timeout, 30.0)));
      for (const Reply& reply : hub_.exchange(questions, limit)) identify(reply);
      std::vector<Hub::ClientInfo> known;
      for (const Hub::ClientInfo& client : hub_.clients()) {
        if (client.identified) known.push_back(client);
      }
      if (int(known.size()) >= wanted) {
        std::stable_sort(known.begin(), known.end(),
                         [](const auto& a, const auto& b) { return order_key(a) < order_key(b); });
        return known;
      }
      if (!said) {
        log_("waiting for clients: " + std::to_string(known.size()) + " of " +
             std::to_string(wanted) + " connected");
        said = true;
      }
      if (questions.empty()) hub_.wait_for_change(seen);
    }
  }

  // One FitIns round over the sampled clients; the accepted updates in averaging order.
  struct Update {
    int64_t key = 0;
    fed::Tensors tensors;
    int64_t examples = 0;
    std::optional<double> loss;
  };
  std::vector<Update> fit(int64_t round, const fed::Tensors& global, RoundSummary& summary) {
    const std::vector<Hub::ClientInfo> clients = wait_for_clients(options_.min_clients);
    const std::vector<int> picks =
        fed::sample_clients(int(clients.size()), options_.fraction_fit, round, options_.seed);
    ServerMessage base;
    auto* fit_ins = base.mutable_fit_ins();
    *fit_ins->mutable_parameters() = to_parameters(global);
    ScalarMap& config = *fit_ins->mutable_config();
    write_whole_number(config, kServerRound, round);
    if (options_.local_epochs) write_whole_number(config, kLocalEpochs, *options_.local_epochs);
    if (options_.batch_size) write_whole_number(config, kBatchSize, *options_.batch_size);
    if (options_.learning_rate) write_number(config, kLearningRate, *options_.learning_rate);
    write_number(config, kProximalMu, options_.proximal_mu);
    std::vector<std::pair<uint64_t, ServerMessage>> requests;
    std::vector<int64_t> keys;
    for (int pick : picks) {
      const Hub::ClientInfo& client = clients[size_t(pick)];
      keys.push_back(order_key(client));
      ServerMessage message = base;
      write_seed(*message.mutable_fit_ins()->mutable_config(), kSeed,
                 fed::local_training_seed(options_.seed, round, keys.back()));
      requests.push_back({client.id, std::move(message)});
    }
    summary.sampled = int(requests.size());
    log_("round " + std::to_string(round) + ": FitIns to " + std::to_string(requests.size()) +
         " of " + std::to_string(clients.size()) + " clients");
    std::vector<Update> updates;
    const std::vector<Reply> replies = hub_.exchange(requests, deadline());
    for (size_t i = 0; i < replies.size(); ++i) {
      const Reply& reply = replies[i];
      try {
        updates.push_back(check_fit(reply, keys[i]));
      } catch (const Error& e) {
        ++summary.failures;
        log_("round " + std::to_string(round) + ": no update from client #" +
             std::to_string(reply.client) + ": " + e.what());
        if (reply.ok) {  // it answered, but wrongly: a peer not to be trusted with this model
          hub_.disconnect(reply.client, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what()));
        }
      }
    }
    std::stable_sort(updates.begin(), updates.end(),
                     [](const Update& a, const Update& b) { return a.key < b.key; });
    summary.results = int(updates.size());
    return updates;
  }

  // Federated evaluation of the global model; fills the summary's evaluate_* fields.
  void evaluate(int64_t round, const fed::Tensors& global, RoundSummary& summary) {
    if (options_.fraction_evaluate <= 0) return;
    std::vector<Hub::ClientInfo> clients;
    for (const Hub::ClientInfo& client : hub_.clients()) {
      if (client.identified) clients.push_back(client);
    }
    if (clients.empty()) return;
    std::stable_sort(clients.begin(), clients.end(),
                     [](const auto& a, const auto& b) { return order_key(a) < order_key(b); });
    ServerMessage base;
    *base.mutable_evaluate_ins()->mutable_parameters() = to_parameters(global);
    write_whole_number(*base.mutable_evaluate_ins()->mutable_config(), kServerRound, round);
    std::vector<std::pair<uint64_t, ServerMessage>> requests;
    for (int pick : fed::sample_clients(int(clients.size()), options_.fraction_evaluate, round,
                                        ~options_.seed)) {
      requests.push_back({clients[size_t(pick)].id, base});
    }
    double loss_sum = 0, accuracy_sum = 0;
    int64_t accuracy_examples = 0;
    for (const Reply& reply : hub_.exchange(requests, deadline())) {
      const auto& result = reply.message.evaluate_res();
      const bool good = reply.ok && reply.message.has_evaluate_res() &&
                        result.status().code() == flwr::proto::OK && result.num_examples() > 0 &&
                        result.num_examples() < (int64_t(1) << 40) && std::isfinite(result.loss());
      std::optional<double> accuracy;
      try {
        accuracy = good ? read_number(result.metrics(), "accuracy") : std::nullopt;
      } catch (const Error&) {
      }
      if (!good) {
        log_("round " + std::to_string(round) + ": no evaluation from client #" +
             std::to_string(reply.client) + (reply.ok ? "" : ": " + reply.failure));
        continue;
      }
      const double n = double(result.num_examples());
      summary.evaluated_examples += result.num_examples();
      loss_sum += n * result.loss();
      if (accuracy) {  // a regression model's clients send none
        accuracy_sum += n * std::clamp(*accuracy, 0.0, 1.0);
        accuracy_examples += result.num_examples();
      }
    }
    if (summary.evaluated_examples > 0) {
      summary.evaluate_loss = loss_sum / double(summary.evaluated_examples);
    }
    if (accuracy_examples > 0) summary.evaluate_accuracy = accuracy_sum / double(accuracy_examples);
  }

 private:
  void identify(const Reply& reply) {
    if (!reply.ok) return;  // gone or timed out: the hub has dropped it
    if (!reply.message.has_get_properties_res()) {
      const std::string reason = "answered GetPropertiesIns with " + message_name(reply.message);
      log_("refused client #" + std::to_string(reply.client) + ": " + reason);
      hub_.disconnect(reply.client, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, reason));
      return;
    }
    int64_t partition = -1;
    try {  // a stock Flower client answers GET_PROPERTIES_NOT_IMPLEMENTED: an anonymous client
      partition =
          read_whole_number(reply.message.get_properties_res().properties(), kPartitionIndex)
              .value_or(-1);
    } catch (const Error&) {
    }
    hub_.set_identity(reply.client, partition);
  }

  Update check_fit(const Reply& reply, int64_t key) const {
    if (!reply.ok) throw Error(reply.failure);
    if (!reply.message.has_fit_res()) {
      throw Error("refused: it answered FitIns with " + message_name(reply.message));
    }
    const auto& result = reply.message.fit_res();
    if (result.status().code() != flwr::proto::OK) {
      throw Error("the client reported " + code_name(result.status().code()) + ": " +
                  result.status().message().substr(0, 300));
    }
    if (result.num_examples() <= 0 || result.num_examples() >= (int64_t(1) << 40)) {
      throw Error("refused: num_examples " + std::to_string(result.num_examples()) +
                  " is not a plausible sample count");
    }
    Update update;
    try {
      update.tensors = from_parameters(result.parameters(), shapes_);
    } catch (const Error& e) {
      throw Error(std::string("refused its parameters: ") + e.what());
    }
    update.key = key;
    update.examples = result.num_examples();
    try {
      update.loss = read_number(result.metrics(), "loss");
    } catch (const Error&) {
    }
    return update;
  }

  const ServerOptions& options_;
  Hub& hub_;
  const std::function<void(const std::string&)>& log_;
  const fed::Shapes shapes_;
};

std::string round_line(const RoundSummary& s, int64_t rounds) {
  char text[400];
  const int head =
      std::snprintf(text, sizeof text, "round %lld/%lld: ", (long long)s.round, (long long)rounds);
  std::string line(text, size_t(head));
  if (s.skipped) {
    std::snprintf(text, sizeof text,
                  "skipped (%d of %d clients sent a usable update); the global "
                  "model is unchanged",
                  s.results, s.sampled);
  } else {
    std::snprintf(text, sizeof text, "%d of %d clients trained (%d failed), train loss %.4f",
                  s.results, s.sampled, s.failures, s.train_loss);
  }
  line += text;
  if (s.evaluated_examples > 0) {
    std::snprintf(text, sizeof text, " | evaluate: loss %.4f", s.evaluate_loss);
    line += text;
    if (s.evaluate_accuracy) {
      std::snprintf(text, sizeof text, ", accuracy %.4f", *s.evaluate_accuracy);
      line += text;
    }
    std::snprintf(text, sizeof text, " on %lld examples", (long long)s.evaluated_examples);
    line += text;
  }
  std::snprintf(text, sizeof text, " | %s moved, %.1f s", mb(s.bytes).c_str(), s.seconds);
  return line + text;
}

}  // namespace

std::vector<RoundSummary> run_server(Model& model, const ServerOptions& options,
                                     const std::function<void(const std::string&)>& log,
                                     const std::function<void(const RoundSummary&)>& on_round) {
  check(options);
  const fed::Shapes shapes = fed::exchanged_shapes(model);
  if (shapes.empty()) throw Error("fed-server: the model has no updatable layers to federate");
  const std::string state_path = options.state.empty() ? options.output + ".state" : options.state;
  check_writable(options.output);
  check_writable(state_path);
  if (!options.history.empty()) std::filesystem::create_directories(options.history);

  ServerState state;
  std::optional<ServerState> saved =
      options.fresh ? std::nullopt : load_server_state(state_path, shapes);
  if (saved) {
    if (saved->seed != options.seed) {
      throw Error(state_path + ": the saved run used --seed " + std::to_string(saved->seed) +
                  "; continue it with the same seed, or start over with --fresh");
    }
    state = std::move(*saved);
    fed::set_exchanged_parameters(model, state.global);
    log("resuming after round " + std::to_string(state.round) + " from " + state_path);
  } else {
    state.seed = options.seed;
    state.global = fed::exchanged_parameters(model);
  }
  std::vector<RoundSummary> summaries;
  if (state.round >= options.rounds) {
    log("all " + std::to_string(options.rounds) + " rounds are done already (" + state_path +
        "); raise --rounds to go on");
    return summaries;
  }

  const size_t cap =
      options.max_message_bytes > 0 ? options.max_message_bytes : message_cap(shapes);
  Hub hub(cap, log);
  FlowerService service(hub);
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string address = options.host + ":" + std::to_string(options.port);
  builder.AddListeningPort(address, credentials_for(options), &port);
  builder.RegisterService(&service);
  // Our cap refuses (and logs) anything between it and gRPC's limit; gRPC drops the rest unread.
  builder.SetMaxReceiveMessageSize(int(std::min<size_t>(2 * cap, INT_MAX)));
  builder.SetMaxSendMessageSize(-1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 210000);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    throw Error("fed-server: cannot listen on " + address + " (is the port in use?)");
  }
  // However this function ends (an error too), streams close and the server stops: gRPC's own
  // shutdown would wait for every open stream, and our clients never close theirs first.
  struct Stopper {
    Hub& hub;
    grpc::Server& server;
    ~Stopper() {
      hub.disconnect_all(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is stopping"));
      server.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
      server.Wait();
    }
  } stopper{hub, *server};
  size_t values = 0;
  for (const auto& shape : shapes) values += fed::element_count(shape);
  log("listening on " + options.host + ":" + std::to_string(port) + " (" +
      (options.certificates.empty() ? "plaintext" : "TLS") + "); " + std::to_string(shapes.size()) +
      " tensors, " + std::to_string(values) + " values exchanged; messages up to " +
      std::to_string(cap) + " bytes accepted; rounds " + std::to_string(state.round + 1) + "-" +
      std::to_string(options.rounds) + ", waiting for " + std::to_string(options.min_clients) +
      " clients");

  Coordinator coordinator(model, options, hub, log);
  for (int64_t round = state.round + 1; round <= options.rounds; ++round) {
    const auto started = clock::now();
    const uint64_t bytes_before = hub.bytes_sent() + hub.bytes_received();
    RoundSummary summary;
    summary.round = round;
    std::vector<Coordinator::Update> updates;
    for (int attempt = 0;; ++attempt) {
      summary.failures = 0;
      updates = coordinator.fit(round, state.global, summary);
      if (summary.results >= options.min_results) break;
      if (!options.retry_short_rounds || attempt >= options.max_retries) {
        summary.skipped = true;
        break;
      }
      log("round " + std::to_string(round) + ": " + std::to_string(summary.results) + " of " +
          std::to_string(options.min_results) + " needed updates; retrying (" +
          std::to_string(attempt + 1) + " of " + std::to_string(options.max_retries) + ")");
    }
    if (!summary.skipped) {
      fed::FederatedAverage average(shapes);
      double loss_sum = 0;
      int64_t loss_examples = 0;
      for (const Coordinator::Update& update : updates) {
        average.add(update.tensors, update.examples);
        if (update.loss)
          loss_sum += *update.loss * double(update.examples), loss_examples += update.examples;
      }
      state.global = average.result();
      summary.train_loss = loss_examples > 0 ? loss_sum / double(loss_examples) : 0;
    }
    coordinator.evaluate(round, state.global, summary);
    state.round = round;
    fed::set_exchanged_parameters(model, state.global);
    save_model(model, options.output);
    save_server_state(state, state_path);
    if (!options.history.empty()) {
      const std::string name = "round-" + std::to_string(round) + ".mlmodel";
      save_model(model, (std::filesystem::path(options.history) / name).string());
    }
    summary.bytes = hub.bytes_sent() + hub.bytes_received() - bytes_before;
    summary.seconds = std::chrono::duration<double>(clock::now() - started).count();
    summaries.push_back(summary);
    log(round_line(summary, options.rounds));
    if (on_round) on_round(summary);
  }

  // Goodbye as Flower's server says it: ReconnectIns without a delay, answered by DisconnectRes.
  std::vector<std::pair<uint64_t, ServerMessage>> goodbyes;
  for (const Hub::ClientInfo& client : hub.clients()) {
    ServerMessage goodbye;
    goodbye.mutable_reconnect_ins()->set_seconds(0);
    goodbyes.push_back({client.id, goodbye});
  }
  hub.exchange(goodbyes, clock::now() + std::chrono::seconds(10));
  hub.disconnect_all(grpc::Status::OK);
  log("done: " + std::to_string(options.rounds) + " rounds; the global model is in " +
      options.output);
  return summaries;
}

}  // namespace edgetrain::flower
