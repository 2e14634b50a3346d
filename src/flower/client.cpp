// The client's side of Flower's legacy transport. One Join stream per connection: read a
// ServerMessage, act, write exactly one ClientMessage, repeat. Between connections it waits with
// exponential back-off; a fresh channel per attempt (with its own subchannel pool) so gRPC's own
// reconnection back-off never outlasts ours.
#include "flower/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/atomic_file.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "flower/flower_transport.grpc.pb.h"
#include "flower/messages.h"

namespace edgetrain::flower {
namespace {

using flwr::proto::ClientMessage;
using flwr::proto::ServerMessage;

struct Step {
  enum Kind { kContinue, kFinished, kReconnectLater, kRefused } kind = kContinue;
  int64_t seconds = 0;  // kReconnectLater
  std::string reason;   // kRefused
};

std::string describe_bytes(size_t bytes) {
  char text[32];
  if (bytes >= (size_t(1) << 20)) {
    std::snprintf(text, sizeof text, "%.1f MB", double(bytes) / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%zu bytes", bytes);
  }
  return text;
}

// What the client does with each instruction. Failures of the server's making (a model that does
// not fit) end the session; a bad config or a training error is reported to the server in the
// reply's Status and the session goes on.
class Session {
 public:
  Session(Model& model, const BatchProvider& train, const BatchProvider& test,
          const ClientOptions& options, const std::function<void(const std::string&)>& log)
      : model_(model),
        train_(train),
        evaluation_data_(test.count() > 0 ? test : train),
        options_(options),
        log_(log),
        shapes_(fed::exchanged_shapes(model)) {}

  Step handle(const ServerMessage& instruction, ClientMessage& reply) {
    switch (instruction.msg_case()) {
      case ServerMessage::kGetPropertiesIns:
        return properties(reply);
      case ServerMessage::kGetParametersIns: {
        auto* result = reply.mutable_get_parameters_res();
        result->mutable_status()->set_code(flwr::proto::OK);
        *result->mutable_parameters() = to_parameters(fed::exchanged_parameters(model_));
        log_("get-parameters: sent the local model's " + std::to_string(shapes_.size()) +
             " tensors");
        return {};
      }
      case ServerMessage::kFitIns:
        return fit(instruction.fit_ins(), reply);
      case ServerMessage::kEvaluateIns:
        return evaluate_model(instruction.evaluate_ins(), reply);
      case ServerMessage::kReconnectIns: {
        const int64_t seconds = instruction.reconnect_ins().seconds();
        reply.mutable_disconnect_res()->set_reason(seconds > 0 ? flwr::proto::RECONNECT
                                                               : flwr::proto::ACK);
        if (seconds > 0) return {Step::kReconnectLater, std::min<int64_t>(seconds, 86400), ""};
        return {Step::kFinished, 0, ""};
      }
      case ServerMessage::MSG_NOT_SET:
        break;
    }
    return {Step::kRefused, 0, "the server sent an instruction this client does not know"};
  }

  int64_t fits = 0, evaluations = 0;

 private:
  Step properties(ClientMessage& reply) {
    auto* result = reply.mutable_get_properties_res();
    result->mutable_status()->set_code(flwr::proto::OK);
    ScalarMap& properties = *result->mutable_properties();
    if (options_.partition_index >= 0) {
      write_whole_number(properties, kPartitionIndex, options_.partition_index);
      write_whole_number(properties, kPartitionCount, options_.partition_count);
    }
    write_whole_number(properties, "num_examples", int64_t(train_.count()));
    write_text(properties, "client", "edgetrain 0.1.0");
    return {};
  }

  // The server's parameters into the model; a mismatch ends the session.
  std::optional<Step> take_global(const flwr::proto::Parameters& parameters, const char* what) {
    try {
      fed::set_exchanged_parameters(model_, from_parameters(parameters, shapes_));
    } catch (const Error& e) {
      return Step{Step::kRefused, 0,
                  std::string("the server's ") + what +
                      " parameters do not fit this client's model: " + e.what()};
    }
    if (!options_.output.empty()) save_model(model_, options_.output);
    return std::nullopt;
  }

  Step fit(const ServerMessage::FitIns& instruction, ClientMessage& reply) {
    auto* result = reply.mutable_fit_res();
    const std::optional<int64_t> round = read_round(instruction.config());
    const std::string label = round ? "fit: round " + std::to_string(*round) : "fit";
    log_(label + ": received FitIns (" + std::to_string(instruction.parameters().tensors_size()) +
         " tensors, " + describe_bytes(instruction.ByteSizeLong()) + ")");
    if (std::optional<Step> refused = take_global(instruction.parameters(), "FitIns")) {
      result->mutable_status()->set_code(flwr::proto::FIT_NOT_IMPLEMENTED);
      result->mutable_status()->set_message(refused->reason);
      return *refused;
    }
    try {
      fed::LocalTraining local = local_training_from(instruction.config(), options_.defaults);
      if (instruction.config().find(kSeed) == instruction.config().end()) {
        local.seed = fed::local_training_seed(options_.seed, round.value_or(fits + 1),
                                              std::max<int64_t>(options_.partition_index, 0));
      }
      const fed::LocalResult trained = fed::train_locally(model_, train_, local);
      result->mutable_status()->set_code(flwr::proto::OK);
      *result->mutable_parameters() = to_parameters(fed::exchanged_parameters(model_));
      result->set_num_examples(trained.num_examples);
      write_number(*result->mutable_metrics(), "loss", trained.loss);
      if (trained.accuracy) write_number(*result->mutable_metrics(), "accuracy", *trained.accuracy);
      ++fits;
      char text[160];
      std::snprintf(text, sizeof text, ": trained on %lld samples, loss %.4f",
                    (long long)trained.num_examples, trained.loss);
      std::string line = label + text;
      if (trained.accuracy) {
        std::snprintf(text, sizeof text, ", accuracy %.4f", *trained.accuracy);
        line += text;
      }
      log_(line);
    } catch (const Error& e) {
      result->mutable_status()->set_code(flwr::proto::FIT_NOT_IMPLEMENTED);
      result->mutable_status()->set_message(e.what());
      log_(label + ": could not train: " + e.what());
    }
    return {};
  }

  Step evaluate_model(const ServerMessage::EvaluateIns& instruction, ClientMessage& reply) {
    auto* result = reply.mutable_evaluate_res();
    const std::optional<int64_t> round = read_round(instruction.config());
    const std::string label = round ? "evaluate: round " + std::to_string(*round) : "evaluate";
    if (std::optional<Step> refused = take_global(instruction.parameters(), "EvaluateIns")) {
      result->mutable_status()->set_code(flwr::proto::EVALUATE_NOT_IMPLEMENTED);
      result->mutable_status()->set_message(refused->reason);
      return *refused;
    }
    const Evaluation evaluation = evaluate(model_, evaluation_data_, options_.defaults.threads);
    result->mutable_status()->set_code(flwr::proto::OK);
    result->set_loss(float(evaluation.loss));
    result->set_num_examples(int64_t(evaluation.samples));
    char text[160];
    if (evaluation.kind == OutputKind::kClassification) {
      write_number(*result->mutable_metrics(), "accuracy", evaluation.accuracy);
      std::snprintf(text, sizeof text, ": loss %.4f, accuracy %.4f on %zu samples", evaluation.loss,
                    evaluation.accuracy, evaluation.samples);
    } else {  // a regressor: no accuracy, its errors instead
      write_number(*result->mutable_metrics(), "mse", evaluation.mse);
      write_number(*result->mutable_metrics(), "mae", evaluation.mae);
      std::snprintf(text, sizeof text, ": loss %.4f, mse %.4g, mae %.4g on %zu samples",
                    evaluation.loss, evaluation.mse, evaluation.mae, evaluation.samples);
    }
    ++evaluations;
    log_(label + text);
    return {};
  }

  static std::optional<int64_t> read_round(const ScalarMap& config) {
    try {
      return read_whole_number(config, kServerRound);
    } catch (const Error&) {
      return std::nullopt;
    }
  }

  Model& model_;
  const BatchProvider& train_;
  const BatchProvider& evaluation_data_;
  const ClientOptions& options_;
  const std::function<void(const std::string&)>& log_;
  const fed::Shapes shapes_;
};

std::shared_ptr<grpc::ChannelCredentials> credentials_for(const ClientOptions& options) {
  if (options.certificates.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = read_whole_file(options.certificates + "/ca.pem", size_t(1) << 20);
  return grpc::SslCredentials(ssl);
}

std::shared_ptr<grpc::Channel> open_channel(
    const ClientOptions& options, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    size_t max_message_bytes) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(int(std::min<size_t>(max_message_bytes, INT_MAX)));
  arguments.SetMaxSendMessageSize(-1);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                   210000);  // Flower's: outlives idle-connection reapers
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  const int max_backoff_ms = int(std::clamp(options.retry_max_seconds, 0.25, 3600.0) * 1000);
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 250);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_backoff_ms);
  return grpc::CreateCustomChannel(options.server, credentials, arguments);
}

// Ends a stream we are leaving: half-close so our last reply is delivered, give the server a
// moment to end the call (ours does; a Flower server keeps it open until it shuts down), cancel.
grpc::Status leave(grpc::ClientReaderWriter<ClientMessage, ServerMessage>& stream,
                   grpc::ClientContext& context) {
  stream.WritesDone();
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mutex);
    if (!finished.wait_for(lock, std::chrono::seconds(2), [&] { return done; }))
      context.TryCancel();
  });
  ServerMessage ignored;
  while (stream.Read(&ignored)) {
  }
  const grpc::Status status = stream.Finish();
  {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
  }
  finished.notify_one();
  watchdog.join();
  return status;
}

void sleep_seconds(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

}  // namespace

ClientOutcome run_client(Model& model, const BatchProvider& train, const BatchProvider& test,
                         const ClientOptions& options,
                         const std::function<void(const std::string&)>& log) {
  if (options.server.empty()) throw Error("fed-client: --server HOST:PORT is required");
  if (train.count() == 0) throw Error("fed-client: there is no local training data");
  Session session(model, train, test, options, log);
  const size_t max_message_bytes = options.max_message_bytes > 0
                                       ? options.max_message_bytes
                                       : message_cap(fed::exchanged_shapes(model));
  const auto credentials = credentials_for(options);
  const double max_backoff = std::clamp(options.retry_max_seconds, 0.25, 3600.0);
  double backoff = 0.25;
  auto last_contact = std::chrono::steady_clock::now();
  ClientOutcome outcome;
  while (true) {
    auto stub =
        flwr::proto::FlowerService::NewStub(open_channel(options, credentials, max_message_bytes));
    grpc::ClientContext context;
    auto stream = stub->Join(&context);
    ServerMessage instruction;
    bool heard = false;
    Step step;
    while (step.kind == Step::kContinue && stream->Read(&instruction)) {
      if (!heard) {
        heard = true;
        backoff = 0.25;
        log("connected to " + options.server);
      }
      ClientMessage reply;
      step = session.handle(instruction, reply);
      if (reply.msg_case() != ClientMessage::MSG_NOT_SET) {
        if (!stream->Write(reply)) {
          log("the server went away before " + message_name(reply) + " was sent");
          break;
        }
        if (reply.has_fit_res() || reply.has_evaluate_res()) {
          log("sent " + message_name(reply) + " (" + describe_bytes(reply.ByteSizeLong()) + ")");
        }
      }
    }
    last_contact = heard ? std::chrono::steady_clock::now() : last_contact;
    const grpc::Status status =
        step.kind == Step::kContinue ? stream->Finish() : leave(*stream, context);
    outcome.fits = session.fits;
    outcome.evaluations = session.evaluations;
    switch (step.kind) {
      case Step::kFinished:
        log("the server said goodbye; disconnected");
        outcome.exit = ClientExit::kFinished;
        return outcome;
      case Step::kRefused:
        log("refused: " + step.reason);
        outcome.exit = ClientExit::kRefused;
        outcome.message = step.reason;
        return outcome;
      case Step::kReconnectLater:
        log("the server asked to reconnect in " + std::to_string(step.seconds) + " s");
        sleep_seconds(double(step.seconds));
        continue;
      case Step::kContinue:
        break;
    }
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      // gRPC refused a server message over our cap: a model bigger than ours, not a network fault.
      outcome.exit = ClientExit::kRefused;
      outcome.message = "the server sent a message over the " + std::to_string(max_message_bytes) +
                        " bytes this client's model needs at most; is the server training another "
                        "model? (" +
                        status.error_message() + ")";
      log("refused: " + outcome.message);
      return outcome;
    }
    if (heard) {
      log("lost the server (" + status.error_message() + "); reconnecting");
      continue;
    }
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - last_contact).count();
    if (options.give_up_seconds > 0 && waited >= options.give_up_seconds) {
      outcome.exit = ClientExit::kServerUnreachable;
      outcome.message = "no server at " + options.server + " for " + std::to_string(int(waited)) +
                        " s (" + status.error_message() + ")";
      return outcome;
    }
    char text[64];
    std::snprintf(text, sizeof text, "; retrying in %.2g s", backoff);
    log("cannot reach " + options.server + " (" + status.error_message() + ")" + text);
    sleep_seconds(backoff);
    backoff = std::min(backoff * 2, max_backoff);
  }
}

}  // namespace edgetrain::flower
