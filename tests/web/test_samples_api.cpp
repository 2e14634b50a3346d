// Personal samples (PNG files under <samples>/<label>/), fine-tuning on them, and the model file:
// download, upload, save.
#include <thread>

#include "edgetrain/coreml.h"
#include "edgetrain/image.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "web_fixture.h"

namespace edgetrain::web_test {
namespace {

using namespace std::chrono_literals;

void wait_until_idle(web::Server& server) {
  while (server.state().trainer.running()) std::this_thread::sleep_for(10ms);
}

// Files whose names say they are temporary (an atomic write not finished), anywhere below.
std::vector<std::string> temporary_files(const fs::path& folder) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

TEST_F(WebServer, SamplesAreAddedListedServedAndDeleted) {
  start();
  httplib::Client http = client();
  // A drawing as JSON, the model's input as it is, and a PNG drawing.
  const std::vector<float> three = mnist_test_set().image(18);
  const nlohmann::json drawn = json_of(
      http.Post("/api/samples",
                nlohmann::json(
                    {{"label", 3}, {"drawing", {{"width", 28}, {"height", 28}, {"pixels", three}}}})
                    .dump(),
                "application/json"));
  ASSERT_TRUE(drawn.contains("name")) << drawn;
  EXPECT_EQ(drawn["input"].get<std::vector<float>>(), mnist_style_digit({28, 28, three}).pixels);
  const httplib::Result mine = http.Post(
      "/api/samples", nlohmann::json({{"label", "3"}, {"name", "mine"}, {"pixels", three}}).dump(),
      "application/json");
  ASSERT_EQ(mine->status, 201) << mine->body;
  EXPECT_EQ(json_of(mine)["input"].get<std::vector<float>>(), three);
  EXPECT_EQ(json_of(mine)["url"], "/api/samples/3/mine");
  const httplib::Result taken = http.Post(
      "/api/samples", nlohmann::json({{"label", 3}, {"name", "mine"}, {"pixels", three}}).dump(),
      "application/json");
  EXPECT_EQ(taken->status, 409) << taken->body;
  GrayImage paper{90, 60, std::vector<float>(5400, 1.0f)};
  for (int y = 10; y < 50; ++y) paper.pixels[size_t(y) * 90 + 40] = 0.0f;  // a one
  const httplib::Result png =
      http.Post("/api/samples?label=1&name=stroke", encode_png_gray(paper), "image/png");
  ASSERT_EQ(png->status, 201) << png->body;

  // On disk: <samples>/<label>/<name>.png, the input the model saw (8-bit), nothing else.
  const fs::path samples = folder / "samples";
  const GrayImage stored =
      decode_png_gray(file_bytes((samples / "3" / "mine.png").string()), "mine");
  ASSERT_EQ(stored.pixels.size(), 784u);
  for (size_t i = 0; i < 784; ++i) EXPECT_NEAR(stored.pixels[i], three[i], 0.5f / 255.0f + 1e-6f);
  EXPECT_TRUE(fs::exists(samples / "1" / "stroke.png"));
  EXPECT_TRUE(temporary_files(samples).empty());

  const nlohmann::json list = json_of(http.Get("/api/samples"));
  ASSERT_EQ(list["samples"].size(), 3u) << list;
  EXPECT_EQ(list["samples"][0]["label"], 1);
  EXPECT_EQ(list["samples"][1]["name"], "mine");  // label 3 sorted by name: "mine" < "s..."
  EXPECT_EQ(list["samples"][2]["name"], drawn["name"]);
  EXPECT_EQ(list["folder"], samples.string());
  const httplib::Result image = http.Get("/api/samples/3/mine");
  ASSERT_EQ(image->status, 200);
  EXPECT_EQ(image->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(image->body, file_bytes((samples / "3" / "mine.png").string()));

  EXPECT_EQ(http.Delete("/api/samples/3/mine")->status, 200);
  EXPECT_EQ(http.Delete("/api/samples/3/mine")->status, 404);
  EXPECT_EQ(http.Get("/api/samples/3/mine")->status, 404);
  EXPECT_FALSE(fs::exists(samples / "3" / "mine.png"));
  EXPECT_EQ(json_of(http.Get("/api/samples"))["samples"].size(), 2u);
}

// A well-trained network (the Keras CNN made updatable) meets 7s written mirrored, which MNIST
// never shows it and it reads as other digits; after fine-tuning on twelve of them it reads most
// of the four held out as 7, and the test set about as well as before.
TEST_F(WebServer, FineTuningLearnsTheSamplesAndKeepsTheRest) {
  const Model cnn =
      read_mlmodel(test_paths::source("../shared/coreml-models/mnist-cnn-image-input.mlmodel"));
  save_model(make_updatable(cnn, {.layers = {"dense_1", "dense_2"},
                                  .optimizer = OptimizerKind::kSgd,
                                  .learning_rate = 1e-4,
                                  .batch_size = 32,
                                  .epochs = 10}),
             path("cnn.mlmodel"));
  web::ServerOptions updatable = options();
  updatable.model = path("cnn.mlmodel");
  start(updatable);
  httplib::Client http = client();
  const Dataset& test = mnist_test_set();
  size_t added = 0;
  for (size_t i = 1000; added < 16; ++i) {
    if (test.labels[i] != 7) continue;
    std::vector<float> mirrored(784);
    const std::vector<float> seven = test.image(i);
    for (size_t y = 0; y < 28; ++y) {
      for (size_t x = 0; x < 28; ++x) mirrored[y * 28 + x] = seven[y * 28 + 27 - x];
    }
    const nlohmann::json body = {
        {"label", 7},
        {"name", "mirrored-" + std::to_string(10 + added)},
        {"drawing", {{"width", 28}, {"height", 28}, {"pixels", mirrored}}}};
    ASSERT_EQ(http.Post("/api/samples", body.dump(), "application/json")->status, 201);
    ++added;
  }
  const httplib::Result started =
      http.Post("/api/personalise", "{\"learning_rate\": 0.0005}", "application/json");
  ASSERT_EQ(started->status, 202) << started->body;
  wait_until_idle(*server);
  const nlohmann::json status = json_of(http.Get("/api/train/status?history=0"));
  ASSERT_EQ(status["state"], "done") << status;
  const nlohmann::json& result = status["result"];
  EXPECT_EQ(result["samples"]["train"], 12);
  EXPECT_EQ(result["samples"]["held_out"], 4);  // the newest quarter
  EXPECT_EQ(result["samples"]["held_out_predictions"][0]["name"], "mirrored-22");
  EXPECT_GE(result["samples"]["after"].get<double>(), 0.75) << result;
  EXPECT_EQ(result["samples"]["before"], 0.0) << result;
  EXPECT_EQ(result["test"]["samples"], 200);
  EXPECT_GE(result["test"]["after"].get<double>(), result["test"]["before"].get<double>() - 0.05)
      << result;
  EXPECT_EQ(result["epochs"], 10);
  EXPECT_GT(result["original_images"].get<int>(), 0);
  EXPECT_EQ(json_of(http.Get("/api/model/info"))["description"],
            path("cnn.mlmodel") + ", personalised");
}

TEST_F(WebServer, TheModelIsDownloadedUploadedAndSavedWhole) {
  start();
  httplib::Client http = client();
  const std::string seven = pixels_json(mnist_test_set().image(0));
  const nlohmann::json before = json_of(http.Post("/api/predict", seven, "application/json"));
  const httplib::Result download = http.Get("/api/model");
  ASSERT_EQ(download->status, 200);
  EXPECT_EQ(download->get_header_value("Content-Disposition"),
            "attachment; filename=\"lenet.mlmodel\"");
  EXPECT_EQ(download->body, serialize_mlmodel(server->state().models.current()->model()));

  const nlohmann::json uploaded = json_of(
      http.Post("/api/model?name=again.mlmodel", download->body, "application/octet-stream"));
  EXPECT_EQ(uploaded["version"], 2) << uploaded;
  EXPECT_EQ(uploaded["description"], "again.mlmodel");
  const nlohmann::json after = json_of(http.Post("/api/predict", seven, "application/json"));
  EXPECT_EQ(after["probabilities"], before["probabilities"]);
  EXPECT_EQ(after["model_version"], 2);
  // Its JSON text form too.
  const nlohmann::json from_json = json_of(
      http.Post("/api/model", mlmodel_to_json(download->body, "lenet"), "application/json"));
  EXPECT_EQ(from_json["version"], 3) << from_json;

  // Saved atomically where the server was told to keep it, then found there at the next start.
  EXPECT_EQ(json_of(http.Post("/api/model/save", "", "application/json"))["path"],
            path("lenet.mlmodel"));
  EXPECT_EQ(serialize_mlmodel(load_model(path("lenet.mlmodel"))), download->body);
  EXPECT_TRUE(temporary_files(folder).empty());
  server.reset();
  start();
  EXPECT_EQ(json_of(client().Get("/api/model/info"))["description"], path("lenet.mlmodel"));

  // A model that cannot train still predicts; training it is refused.
  const std::string cnn =
      file_bytes(test_paths::source("../shared/coreml-models/mnist-cnn-image-input.mlmodel"));
  EXPECT_EQ(client().Post("/api/model", cnn, "application/octet-stream")->status, 200);
  EXPECT_EQ(json_of(client().Post("/api/predict", seven, "application/json"))["label"], 7);
  const httplib::Result refused = client().Post("/api/train/start", "{}", "application/json");
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(json_of(refused)["error"].get<std::string>().find("not updatable"), std::string::npos);
}

}  // namespace
}  // namespace edgetrain::web_test
