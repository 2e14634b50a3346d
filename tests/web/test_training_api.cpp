// Training through the API: one job at a time (409), stopping, the event stream, and predictions
// racing a training run, each answered by one whole published model, never a half-updated one.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "edgetrain/coreml.h"
#include "edgetrain/inference.h"
#include "edgetrain/train.h"
#include "web_fixture.h"

namespace edgetrain::web_test {
namespace {

using namespace std::chrono_literals;

// Waits until no job runs (the training thread's own progress decides; the wait is only polled).
void wait_until_idle(web::Server& server) {
  while (server.state().trainer.running()) std::this_thread::sleep_for(10ms);
}

// A training thread held at its first published model until the test lets it go.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool reached = false, open = false;
  void hold() {
    std::unique_lock<std::mutex> lock(mutex);
    reached = true;
    changed.notify_all();
    changed.wait_for(lock, 300s, [&] { return open; });  // hang protection only
  }
  void wait_reached() {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait_for(lock, 300s, [&] { return reached; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex);
    open = true;
    changed.notify_all();
  }
};

TEST_F(WebServer, OneJobAtATimeAndStopCancelsIt) {
  Gate gate;
  web::ServerOptions held = options();
  held.trainer.snapshot_every_batches = 1;
  held.trainer.on_model_published = [&](const auto&) { gate.hold(); };
  start(held);
  httplib::Client http = client();
  const httplib::Result first =
      http.Post("/api/train/start", "{\"epochs\": 3}", "application/json");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202) << first->body;
  gate.wait_reached();  // the run has trained a mini-batch and is held there

  const std::string model = serialize_mlmodel(server->state().models.current()->model());
  struct Attempt {
    std::string path, body;
  };
  for (const Attempt& attempt : {Attempt{"/api/train/start", "{\"epochs\": 1}"},
                                 Attempt{"/api/personalise", "{}"}, Attempt{"/api/model", model}}) {
    SCOPED_TRACE(attempt.path);
    const httplib::Result second = http.Post(attempt.path, attempt.body, "application/json");
    ASSERT_TRUE(second);
    EXPECT_EQ(second->status, 409) << second->body;
    EXPECT_NE(json_of(second)["error"].get<std::string>().find("is running"), std::string::npos);
  }
  const nlohmann::json stopping = json_of(http.Post("/api/train/stop", "", "application/json"));
  EXPECT_EQ(stopping["stopping"], true);
  gate.release();
  wait_until_idle(*server);
  const nlohmann::json status = json_of(http.Get("/api/train/status"));
  EXPECT_EQ(status["state"], "cancelled");
  EXPECT_EQ(status["result"]["cancelled"], true);
  EXPECT_EQ(status["result"]["epochs_completed"], 0);
  EXPECT_EQ(status["samples_done"], 128) << "stopped after the mini-batch it was on";
  EXPECT_EQ(json_of(http.Post("/api/train/stop", "", "application/json"))["stopping"], false);
  // The next one may start.
  const httplib::Result again =
      http.Post("/api/train/start", "{\"epochs\": 1}", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202);
  wait_until_idle(*server);
  EXPECT_EQ(json_of(http.Get("/api/train/status"))["state"], "done");
}

// Server-sent events, parsed.
struct SseEvent {
  std::string id, name;
  nlohmann::json data;
};

TEST_F(WebServer, TheEventStreamTellsTheWholeRunInOrder) {
  start();
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<SseEvent> events;
  std::thread reader([&] {
    httplib::Client http = client();
    std::string buffer;
    http.Get("/api/train/events", [&](const char* data, size_t size) {
      buffer.append(data, size);
      bool finished = false;
      for (size_t end; (end = buffer.find("\n\n")) != std::string::npos; buffer.erase(0, end + 2)) {
        SseEvent event;
        std::istringstream lines(buffer.substr(0, end));
        for (std::string line; std::getline(lines, line);) {
          if (line.rfind("id: ", 0) == 0) event.id = line.substr(4);
          if (line.rfind("event: ", 0) == 0) event.name = line.substr(7);
          if (line.rfind("data: ", 0) == 0) event.data = nlohmann::json::parse(line.substr(6));
        }
        if (event.name.empty()) continue;  // a keep-alive comment
        finished = event.name == "finished";
        std::lock_guard<std::mutex> lock(mutex);
        events.push_back(event);
        changed.notify_all();
      }
      return !finished;  // closes the stream after the run's last event
    });
  });
  {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait_for(lock, 300s, [&] { return !events.empty(); });  // the stream's first event
  }
  ASSERT_EQ(client().Post("/api/train/start", "{\"epochs\": 2}", "application/json")->status, 202);
  reader.join();

  std::vector<std::string> names;
  for (const SseEvent& event : events) names.push_back(event.name);
  const std::vector<std::string> batches(5, "batch");  // 640 images, 128 a batch
  std::vector<std::string> expected = {"status", "began"};
  for (int epoch = 0; epoch < 2; ++epoch) {
    expected.insert(expected.end(), batches.begin(), batches.end());
    expected.insert(expected.end(), {"epoch", "model"});
  }
  expected.insert(expected.end(), {"phase", "finished"});
  ASSERT_EQ(names, expected);
  EXPECT_EQ(events[0].data["running"], false);
  EXPECT_EQ(events[1].data["total_samples"], 1280);
  EXPECT_EQ(events[1].data["settings"]["batch_size"], 128);
  uint64_t last_id = std::stoull(events[1].id);
  size_t samples = 0;
  double x = 0;
  for (size_t i = 2; i < events.size(); ++i) {
    EXPECT_EQ(std::stoull(events[i].id), ++last_id) << "ids follow each other";
    if (events[i].name != "batch") continue;
    const nlohmann::json& batch = events[i].data;
    samples += 128;
    EXPECT_EQ(batch["samples_done"], samples);
    EXPECT_GT(batch["x"].get<double>(), x);
    x = batch["x"];
    EXPECT_GT(batch["loss"].get<double>(), 0);
    EXPECT_GE(batch["accuracy"].get<double>(), 0);
    EXPECT_LE(batch["accuracy"].get<double>(), 1);
  }
  EXPECT_DOUBLE_EQ(x, 2.0);
  const nlohmann::json& result = events.back().data["result"];
  EXPECT_EQ(events.back().data["state"], "done");
  EXPECT_EQ(result["epochs_completed"], 2);
  EXPECT_EQ(result["test_samples"], 200);
  EXPECT_EQ(events[events.size() - 3].data["version"], 3) << "two epochs, two new models";
  // The status holds the same history for a page opened later.
  const nlohmann::json status = json_of(client().Get("/api/train/status"));
  EXPECT_EQ(status["history"]["batch_x"].size(), 10u);
  EXPECT_EQ(status["history"]["epoch_loss"].size(), 2u);
}

TEST_F(WebServer, PredictionsRacingATrainingRunAreAnsweredByWholeModels) {
  web::ServerOptions racing = options();
  racing.trainer.snapshot_every_batches = 1;
  std::mutex mutex;
  std::condition_variable changed;
  std::map<uint64_t, std::shared_ptr<const web::ModelSnapshot>> published;
  std::map<uint64_t, int> answers_by_version;
  // Each model the run publishes waits for three answers from it before training goes on, so
  // predictions race the run whatever the machine's speed.
  racing.trainer.on_model_published = [&](const std::shared_ptr<const web::ModelSnapshot>& model) {
    std::unique_lock<std::mutex> lock(mutex);
    published[model->version()] = model;
    changed.wait_for(lock, 300s, [&] { return answers_by_version[model->version()] >= 3; });
  };
  start(racing);
  published[1] = server->state().models.current();

  struct Answer {
    uint64_t version;
    size_t image;
    nlohmann::json answer;
  };
  std::atomic<bool> done{false};
  std::vector<std::vector<Answer>> answers(4);
  std::vector<std::thread> clients;
  for (size_t c = 0; c < answers.size(); ++c) {
    clients.emplace_back([&, c] {
      httplib::Client http = client();
      for (size_t i = 0; !done; ++i) {
        const size_t image = (c * 5 + i) % 20;
        const nlohmann::json answer = json_of(http.Post(
            "/api/predict", pixels_json(mnist_test_set().image(image)), "application/json"));
        const uint64_t version = answer.value("model_version", uint64_t(0));
        answers[c].push_back({version, image, answer});
        std::lock_guard<std::mutex> lock(mutex);
        ++answers_by_version[version];
        changed.notify_all();
      }
    });
  }
  const httplib::Result started =
      client().Post("/api/train/start", "{\"epochs\": 2, \"batch_size\": 64}", "application/json");
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 202) << started->body;
  wait_until_idle(*server);
  done = true;
  for (std::thread& thread : clients) thread.join();

  // 640 images, 64 a batch, 2 epochs: a model after each of the 20 mini-batches and each epoch.
  ASSERT_EQ(published.size(), 23u);
  size_t checked = 0;
  std::map<uint64_t, Predictor> references;
  for (const auto& [version, model] : published)
    references.emplace(version, Predictor(model->model()));
  for (const std::vector<Answer>& list : answers) {
    for (const Answer& answer : list) {
      ASSERT_TRUE(published.count(answer.version)) << answer.answer;
      const Prediction expected =
          references.at(answer.version).predict(mnist_test_set().image(answer.image));
      ASSERT_EQ(answer.answer["probabilities"].get<std::vector<float>>(), expected.probabilities)
          << "model " << answer.version << ", image " << answer.image;
      ASSERT_EQ(answer.answer["label"], expected.label);
      ++checked;
    }
  }
  for (const auto& [version, model] : published)
    EXPECT_GE(answers_by_version[version], 3) << version;
  EXPECT_GE(checked, 3u * 23u);
  // And the run trained as the library does on its own: same data, seed and threads, same weights.
  Model alone = published[1]->model();
  const Dataset data = read_csv(path("train.csv"));
  UpdateTask(alone, data, {.epochs = 2, .batch_size = 64, .threads = 2}).run();
  EXPECT_EQ(alone.parameters, server->state().models.current()->model().parameters);
}

}  // namespace
}  // namespace edgetrain::web_test
