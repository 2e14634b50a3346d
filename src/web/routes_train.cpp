// Training and personalisation jobs, their status and their event stream.
#include <chrono>

#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "web/http_util.h"
#include "web/personalise.h"
#include "web/routes.h"

namespace edgetrain::web {
namespace {

// A quiet stream sends a comment this often, so a closed page is noticed and its thread freed.
constexpr std::chrono::seconds kKeepAlive{15};

// The request's JSON object (an empty body is {}); keys outside `allowed` are refused.
nlohmann::json job_request(const std::string& body, std::initializer_list<const char*> allowed) {
  const nlohmann::json request = body.find_first_not_of(" \t\r\n") == std::string::npos
                                     ? nlohmann::json::object()
                                     : parse_json_object(body);
  for (const auto& [key, value] : request.items()) {
    bool known = false;
    for (const char* name : allowed) known = known || key == name;
    if (!known) throw HttpError(400, "unknown setting '" + key.substr(0, 40) + "'");
  }
  return request;
}

int64_t whole_number(const nlohmann::json& request, const char* key, int64_t min) {
  const nlohmann::json& value = request.at(key);
  if (!value.is_number_integer() || value.get<int64_t>() < min) {
    throw HttpError(400, std::string("'") + key + "' must be a whole number of at least " +
                             std::to_string(min) + ", not " + value.dump().substr(0, 32));
  }
  return value.get<int64_t>();
}

double positive_number(const nlohmann::json& request, const char* key) {
  const nlohmann::json& value = request.at(key);
  if (!value.is_number() || !(value.get<double>() > 0)) {
    throw HttpError(400, std::string("'") + key + "' must be a positive number, not " +
                             value.dump().substr(0, 32));
  }
  return value.get<double>();
}

// Where the model came from ("LeNet", a file name): a job's description says it and what it did.
std::string origin(const ModelSnapshot& model) {
  const std::string& description = model.description();
  return description.substr(0, description.find(", "));
}

// What every job needs: the model to start from (updatable) and the data (read on first use).
struct JobStart {
  std::shared_ptr<const ModelSnapshot> model;
  std::shared_ptr<const cli::LoadedData> data;
};
JobStart prepare_job(ServerState& state) {
  if (state.stopping) throw HttpError(503, "the server is stopping");
  // Said before any other check; Trainer::start says it again if two requests race here.
  if (state.trainer.running()) throw HttpError(409, "a job is running; stop it first or wait");
  JobStart start{state.models.current(), nullptr};
  if (!start.model->model().update) {
    throw HttpError(400, "the model is not updatable (make it so with `edgetrain make-updatable`)");
  }
  try {
    start.data = state.data.get();
  } catch (const Error& e) {
    throw HttpError(503, e.what());
  }
  if (start.data->train.feature_size() != start.model->input_size()) {
    throw HttpError(
        400, "the data set's images have " + std::to_string(start.data->train.feature_size()) +
                 " pixels but the model takes " + std::to_string(start.model->input_size()));
  }
  return start;
}

// The overrides a request gives, checked against what the model allows (Error → 400).
UpdateConfig update_config(const nlohmann::json& request, const Model& model, int threads) {
  UpdateConfig config;
  config.threads = threads;
  if (request.contains("epochs")) config.epochs = whole_number(request, "epochs", 1);
  if (request.contains("batch_size")) config.batch_size = whole_number(request, "batch_size", 1);
  if (request.contains("learning_rate")) {
    config.learning_rate = positive_number(request, "learning_rate");
  }
  if (request.contains("seed")) config.seed = uint64_t(whole_number(request, "seed", 0));
  resolve_update(model, config);
  return config;
}

void start_training(ServerState& state, const nlohmann::json& request) {
  JobStart start = prepare_job(state);
  const UpdateConfig config =
      update_config(request, start.model->model(), state.options.trainer.threads);
  size_t limit = state.data.train_limit();
  if (request.contains("limit")) {
    const size_t asked = size_t(whole_number(request, "limit", 0));
    if (asked > 0 && (limit == 0 || asked < limit)) limit = asked;
  }
  const size_t test_limit = state.data.test_limit();
  const std::string description = origin(*start.model) + ", trained on " + start.data->name;
  state.trainer.start("train", [start, config, limit, test_limit, description](Trainer::Job& job) {
    Model model = start.model->model();
    const FirstSamples train(start.data->train, limit);
    const TrainingResult result = job.train(model, train, config, description);
    nlohmann::json summary = {{"epochs_completed", result.epochs_completed},
                              {"cancelled", result.cancelled},
                              {"train_loss", result.final_loss},
                              {"train_accuracy", accuracy_or_nan(result.final_accuracy)},
                              {"seconds", result.seconds},
                              {"samples_seen", result.samples_seen},
                              {"train_samples", train.count()}};
    const FirstSamples test(start.data->test, test_limit);
    if (!result.cancelled && test.count() > 0) {
      job.phase("measuring the test accuracy");
      const Evaluation evaluation = evaluate(model, test, job.threads());
      summary["test_accuracy"] = evaluation.accuracy;
      summary["test_samples"] = evaluation.samples;
    }
    return summary;
  });
}

void start_personalise(ServerState& state, const nlohmann::json& request) {
  JobStart start = prepare_job(state);
  const int field = start.model->digit_field_size();
  if (field == 0) throw HttpError(400, "the model's input is not a square gray image");
  PersonaliseRequest personal;
  personal.config = update_config(request, start.model->model(), state.options.trainer.threads);
  if (request.contains("original_share")) {
    const nlohmann::json& share = request.at("original_share");
    if (!share.is_number() || !(share.get<double>() >= 0 && share.get<double>() <= 0.95)) {
      throw HttpError(400, "'original_share' must be a number from 0 to 0.95");
    }
    personal.original_share = share.get<double>();
  }
  std::vector<LoadedSample> samples = state.samples.load(field);
  if (samples.empty()) {
    throw HttpError(400, "there are no samples in " + state.samples.folder() +
                             ": draw some, label them and add them first");
  }
  const std::string description = origin(*start.model) + ", personalised";
  const size_t train_limit = state.data.train_limit(), test_limit = state.data.test_limit();
  state.trainer.start("personalise", [start, samples = std::move(samples), personal, description,
                                      train_limit, test_limit](Trainer::Job& job) mutable {
    return personalise(job, *start.model, description, std::move(samples), *start.data, train_limit,
                       test_limit, personal);
  });
}

}  // namespace

void add_training_routes(httplib::Server& http, ServerState& state) {
  http.Post("/api/train/start",
            with_body(kMaxRequestBytes, [&state](const httplib::Request&, httplib::Response& res,
                                                 const std::string& body) {
              start_training(state, job_request(body, {"epochs", "batch_size", "learning_rate",
                                                       "seed", "limit"}));
              send_json(res, state.trainer.status(false), 202);
            }));

  http.Post("/api/personalise",
            with_body(kMaxRequestBytes, [&state](const httplib::Request&, httplib::Response& res,
                                                 const std::string& body) {
              start_personalise(state, job_request(body, {"epochs", "batch_size", "learning_rate",
                                                          "seed", "original_share"}));
              send_json(res, state.trainer.status(false), 202);
            }));

  http.Post("/api/train/stop",
            with_body(kMaxRequestBytes, [&state](const httplib::Request&, httplib::Response& res,
                                                 const std::string&) {
              const bool stopping = state.trainer.cancel();
              nlohmann::json status = state.trainer.status(false);
              status["stopping"] = stopping;
              send_json(res, status);
            }));

  http.Get("/api/train/status", [&state](const httplib::Request& req, httplib::Response& res) {
    send_json(res, state.trainer.status(req.get_param_value("history") != "0"));
  });

  // Server-sent events: first "status" (with the history, for a page opened mid-run), then every
  // event as it happens: began, batch, epoch, model, phase, finished (and "lagged" when this
  // stream fell so far behind that events were dropped: fetch the status again).
  http.Get("/api/train/events", [&state](const httplib::Request&, httplib::Response& res) {
    struct Stream {
      uint64_t next_after = 0;
      std::string hello;
    };
    auto stream = std::make_shared<Stream>();
    stream->next_after = state.events.last_id();
    stream->hello = sse_text({0, "status", state.trainer.status(true).dump()});
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider("text/event-stream", [&state, stream](
                                                              size_t, httplib::DataSink& sink) {
      if (!stream->hello.empty()) {
        const std::string hello = std::move(stream->hello);
        stream->hello.clear();
        return sink.write(hello.data(), hello.size());
      }
      const EventHub::Wait wait = state.events.wait_after(
          stream->next_after, std::chrono::duration_cast<std::chrono::milliseconds>(kKeepAlive));
      if (wait.closed) {
        sink.done();
        return true;
      }
      std::string text;
      if (wait.lagged) text += sse_text({0, "lagged", "{}"});
      for (const Event& event : wait.events) text += sse_text(event);
      if (!wait.events.empty()) stream->next_after = wait.events.back().id;
      if (text.empty()) text = ": keep-alive\n\n";
      return sink.write(text.data(), text.size());
    });
  });
}

}  // namespace edgetrain::web
