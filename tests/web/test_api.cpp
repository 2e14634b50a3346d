// The JSON API of `edgetrain serve`: predictions (pixels, PNG, drawings), every kind of bad request
// (a 4xx with a JSON error, and the server keeps serving), the token, and other sites' requests.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmath>

#include "edgetrain/coreml.h"
#include "edgetrain/image.h"
#include "edgetrain/inference.h"
#include "web/http_util.h"
#include "web_fixture.h"

namespace edgetrain::web_test {
namespace {

const std::string kTrainedCnn = "../shared/coreml-models/mnist-cnn-image-input.mlmodel";

TEST_F(WebServer, PredictsPixelsPngsAndDrawings) {
  web::ServerOptions trained = options();
  trained.model = test_paths::source(kTrainedCnn);
  start(trained);
  Predictor reference(server->state().models.current()->model());
  httplib::Client http = client();
  for (size_t i = 0; i < 5; ++i) {
    const std::vector<float> image = mnist_test_set().image(i);
    const Prediction expected = reference.predict(image);
    const nlohmann::json answer =
        json_of(http.Post("/api/predict", pixels_json(image), "application/json"));
    ASSERT_TRUE(answer.contains("label")) << answer;
    EXPECT_EQ(answer["label"], mnist_test_set().labels[i]);
    EXPECT_EQ(answer["label"], expected.label);
    EXPECT_EQ(answer["probabilities"].get<std::vector<float>>(), expected.probabilities);
    EXPECT_EQ(answer["model_version"], 1);
    // The same image as a 28x28 PNG is used as it is.
    const std::string png = encode_png_gray({28, 28, image});
    const nlohmann::json from_png = json_of(http.Post("/api/predict", png, "image/png"));
    EXPECT_EQ(from_png["probabilities"].get<std::vector<float>>(),
              reference.predict(decode_png_gray(png, "x").pixels).probabilities);
  }
  // A drawing: three times larger, dark on white, somewhere in a larger canvas; as JSON and PNG.
  const std::vector<float> digit = mnist_test_set().image(0);  // a 7
  GrayImage drawing{120, 100, std::vector<float>(12000, 1.0f)};
  for (int y = 0; y < 84; ++y) {
    for (int x = 0; x < 84; ++x)
      drawing.pixels[size_t(y + 7) * 120 + x + 30] = 1.0f - digit[size_t(y / 3) * 28 + x / 3];
  }
  const std::vector<float> input = mnist_style_digit(drawing).pixels;
  const nlohmann::json answer = json_of(http.Post(
      "/api/predict/drawing",
      nlohmann::json({{"width", 120}, {"height", 100}, {"pixels", drawing.pixels}}).dump(),
      "application/json"));
  EXPECT_EQ(answer["label"], 7) << answer;
  EXPECT_EQ(answer["input"].get<std::vector<float>>(), input);
  EXPECT_EQ(answer["probabilities"].get<std::vector<float>>(),
            reference.predict(input).probabilities);
  // As a PNG the drawing goes through predict --digit's path: the same function, 8-bit pixels.
  const std::string png = encode_png_gray(drawing);
  const nlohmann::json from_png = json_of(http.Post("/api/predict/drawing", png, "image/png"));
  EXPECT_EQ(from_png["input"].get<std::vector<float>>(),
            mnist_style_digit(decode_png_gray(png, "drawing")).pixels);
  EXPECT_EQ(from_png["label"], 7);
  // ?digit=1 on /api/predict does the same.
  const nlohmann::json digit_png = json_of(http.Post("/api/predict?digit=1", png, "image/png"));
  EXPECT_EQ(digit_png["probabilities"], from_png["probabilities"]);
}

struct BadRequest {
  std::string what, method, path, body, content_type;
  int status;
  std::string error;  // a part of the JSON error
};

TEST_F(WebServer, BadRequestsGetA4xxWithAJsonErrorAndTheServerKeepsServing) {
  start();
  const std::string seven = pixels_json(mnist_test_set().image(0));
  std::vector<float> out_of_range = mnist_test_set().image(0);
  out_of_range[100] = 1.5f;
  const std::string big(size_t(5) << 20, ' ');  // past the 4 MiB the JSON routes take
  nlohmann::json text = {{"pixels", mnist_test_set().image(0)}};
  text["pixels"][3] = "a";
  const std::string text_pixel = text.dump();
  const std::vector<BadRequest> requests = {
      {"invalid JSON", "POST", "/api/predict", "{\"pixels\": [0.1, ", "application/json", 400,
       "invalid JSON"},
      {"JSON that is not an object", "POST", "/api/predict", "[1, 2]", "application/json", 400,
       "must be a JSON object"},
      {"no pixels", "POST", "/api/predict", "{}", "application/json", 400, "'pixels' must be"},
      {"783 pixels", "POST", "/api/predict", pixels_json(std::vector<float>(783, 0.0f)),
       "application/json", 400, "'pixels' holds 783 values; the model takes 784"},
      {"a pixel out of range", "POST", "/api/predict", pixels_json(out_of_range),
       "application/json", 400, "'pixels'[100] is 1.5"},
      {"a pixel that is text", "POST", "/api/predict", text_pixel, "application/json", 400,
       "'pixels'[3] is \"a\", not a number in [0, 1]"},
      {"a drawing without a size", "POST", "/api/predict/drawing", "{\"pixels\": [1]}",
       "application/json", 400, "'width' must be a whole number"},
      {"a drawing of the wrong size", "POST", "/api/predict/drawing",
       "{\"width\": 3, \"height\": 3, \"pixels\": [1, 0]}", "application/json", 400,
       "'pixels' holds 2 values; the model takes 9"},
      {"a corrupt PNG", "POST", "/api/predict/drawing", "\x89PNG\r\n\x1a\n garbage", "image/png",
       400, "cannot read it as a PNG image"},
      {"an oversized body", "POST", "/api/predict", big, "application/json", 413,
       "larger than the 4194304 bytes"},
      {"an unknown API route", "GET", "/api/nothing", "", "", 404, "no such page or route"},
      {"an unknown method and route", "POST", "/api/nothing", "{}", "application/json", 404,
       "no such route: POST /api/nothing"},
      {"an unknown page", "GET", "/secret.txt", "", "", 404, "no such page or route"},
      {"a sample path going up", "GET", "/api/samples/7/../../../etc/passwd", "", "", 400,
       "sample name '../../../etc/passwd' is not allowed"},
      {"an encoded slash", "GET", "/api/samples/7/..%2F..%2Fetc%2Fpasswd", "", "", 400,
       "sample name '../../etc/passwd' is not allowed"},
      {"a dot name", "DELETE", "/api/samples/7/..", "", "", 400, "sample name '..' is not allowed"},
      {"a hidden name", "GET", "/api/samples/7/.profile", "", "", 400, "is not allowed"},
      {"a NUL in a name", "GET", "/api/samples/7/a%00b", "", "", 400,
       "sample name 'a?b' is not allowed"},
      {"a label that is a path", "GET", "/api/samples/..%2F7/x", "", "", 400, "label '..' is not"},
      {"a name that is a path", "POST", "/api/samples",
       "{\"label\": 7, \"name\": \"../../evil\", " + seven.substr(1), "application/json", 400,
       "sample name '../../evil' is not allowed"},
      {"a label out of range", "POST", "/api/samples", "{\"label\": 12, " + seven.substr(1),
       "application/json", 400, "label '12' is not a class of the model (0 to 9)"},
      {"a corrupt model", "POST", "/api/model", "this is not a model", "application/octet-stream",
       400, "the uploaded model cannot be used"},
      {"a model cut short", "POST", "/api/model",
       serialize_mlmodel(server->state().models.current()->model()).substr(0, 5000),
       "application/octet-stream", 400, "the uploaded model cannot be used"},
      {"a model as broken JSON", "POST", "/api/model",
       "{\"specificationVersion\": ", "application/json", 400, "the uploaded model cannot be used"},
      {"training settings the model does not allow", "POST", "/api/train/start",
       "{\"epochs\": 1000}", "application/json", 400, "epochs"},
      {"an unknown training setting", "POST", "/api/train/start", "{\"epochz\": 1}",
       "application/json", 400, "unknown setting 'epochz'"},
      {"fine-tuning without samples", "POST", "/api/personalise", "", "application/json", 400,
       "there are no samples"},
  };
  httplib::Client http = client();
  for (const BadRequest& request : requests) {
    SCOPED_TRACE(request.what);
    const httplib::Result result =
        request.method == "GET"      ? http.Get(request.path)
        : request.method == "DELETE" ? http.Delete(request.path)
                                     : http.Post(request.path, request.body, request.content_type);
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    EXPECT_EQ(result->status, request.status) << result->body;
    EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
    const nlohmann::json error = nlohmann::json::parse(result->body, nullptr, false);
    ASSERT_TRUE(error.is_object()) << result->body;
    EXPECT_NE(error.value("error", "").find(request.error), std::string::npos) << error;
    // Still serving, with the model it had.
    const nlohmann::json fine = json_of(http.Post("/api/predict", seven, "application/json"));
    EXPECT_TRUE(fine.contains("label")) << fine;
    EXPECT_EQ(fine["model_version"], 1);
  }
  // A chunked body is held to the same limit as one with a length.
  const httplib::Result chunked = http.Post(
      "/api/predict",
      [&](size_t offset, httplib::DataSink& sink) {
        if (offset >= big.size()) {
          sink.done();
          return true;
        }
        return sink.write(big.data() + offset, std::min<size_t>(65536, big.size() - offset));
      },
      "application/json");
  if (chunked) {  // else the connection was cut while it sent
    EXPECT_EQ(chunked->status, 413) << chunked->body;
  }
  EXPECT_TRUE(client().Get("/api/model/info")) << "still serving";
  // Nothing was written outside the samples folder.
  EXPECT_FALSE(fs::exists(folder / "evil.png"));
  EXPECT_FALSE(fs::exists(folder / "samples"));
}

// A request without Content-Length (curl -X DELETE sends none) has no body: it is answered, not
// held until the connection's read times out.
TEST_F(WebServer, ARequestWithoutContentLengthHasNoBody) {
  start();
  const int connection = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(uint16_t(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(connection, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string request =
      "DELETE /api/samples/7/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(connection, request.data(), request.size(), 0), ssize_t(request.size()));
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(connection, buffer, sizeof buffer, 0)) > 0;)
    answer.append(buffer, size_t(n));
  ::close(connection);
  EXPECT_EQ(answer.rfind("HTTP/1.1 404", 0), 0u) << answer;
  EXPECT_NE(answer.find("{\"error\":\"no sample 7/nothing\"}"), std::string::npos) << answer;
}

TEST_F(WebServer, EveryApiCallNeedsTheTokenWhenOneIsSet) {
  web::ServerOptions with_token = options();
  with_token.token = "a-secret-token";
  start(with_token);
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/api/model/info"},     {"GET", "/api/model"},
      {"POST", "/api/predict"},       {"POST", "/api/predict/drawing"},
      {"GET", "/api/train/status"},   {"GET", "/api/train/events"},
      {"POST", "/api/train/start"},   {"POST", "/api/train/stop"},
      {"GET", "/api/samples"},        {"POST", "/api/samples"},
      {"DELETE", "/api/samples/7/x"}, {"POST", "/api/personalise"},
      {"POST", "/api/model"},         {"POST", "/api/model/save"},
      {"GET", "/api/nothing"}};
  for (const auto& [method, route] : routes) {
    SCOPED_TRACE(method + " " + route);
    for (const httplib::Headers& headers :
         {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer a-secret-tokeN"}},
          httplib::Headers{{"Authorization", "Bearer a-secret-token-and-more"}},
          httplib::Headers{{"X-Edgetrain-Token", ""}}}) {
      httplib::Client http = client();
      const httplib::Result result = method == "GET" ? http.Get(route, headers)
                                     : method == "DELETE"
                                         ? http.Delete(route, headers)
                                         : http.Post(route, headers, "{}", "application/json");
      ASSERT_TRUE(result);
      EXPECT_EQ(result->status, 401);
      EXPECT_EQ(json_of(result)["error"],
                "this server needs its token: ?token=... or Authorization: Bearer");
    }
  }
  // The three ways to give it.
  httplib::Client http = client();
  EXPECT_EQ(http.Get("/api/model/info", {{"Authorization", "Bearer a-secret-token"}})->status, 200);
  EXPECT_EQ(http.Get("/api/model/info", {{"X-Edgetrain-Token", "a-secret-token"}})->status, 200);
  EXPECT_EQ(http.Get("/api/model/info?token=a-secret-token")->status, 200);
  // The page itself holds no secret.
  const httplib::Result page = http.Get("/");
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<canvas id=\"pad\""), std::string::npos);
  EXPECT_EQ(server->url(), "http://127.0.0.1:" + std::to_string(port) + "/?token=a-secret-token");
}

TEST_F(WebServer, AHostOtherThanLoopbackGetsAMadeUpToken) {
  web::ServerOptions everywhere = options();
  everywhere.host = "0.0.0.0";
  web::Server made_up(everywhere);  // not started: nothing listens
  const std::string& token = made_up.state().options.token;
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << token;
  web::Server another(everywhere);
  EXPECT_NE(another.state().options.token, token);
  web::ServerOptions loopback = options();
  EXPECT_TRUE(web::Server(loopback).state().options.token.empty());
}

TEST(WebHttp, TokensCompareWholeAndLoopbackIsKnown) {
  EXPECT_TRUE(web::constant_time_equal("abc", "abc"));
  EXPECT_TRUE(web::constant_time_equal("", ""));
  EXPECT_FALSE(web::constant_time_equal("abc", "abd"));
  EXPECT_FALSE(web::constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(web::constant_time_equal("abc", ""));
  EXPECT_FALSE(web::constant_time_equal(std::string("a\0b", 3), "a"));
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) {
    EXPECT_TRUE(web::is_loopback_host(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "192.168.1.2", "::", "example.com", "128.0.0.1", ""}) {
    EXPECT_FALSE(web::is_loopback_host(host)) << host;
  }
}

TEST_F(WebServer, RequestsFromOtherSitesAreRefusedWithoutAToken) {
  start();
  httplib::Client http = client();
  const std::string seven = pixels_json(mnist_test_set().image(0));
  // A page elsewhere posting to us (its Origin), or reaching us by DNS rebinding (its Host).
  const httplib::Result cross_site =
      http.Post("/api/train/start", {{"Origin", "http://example.com"}}, "{}", "text/plain");
  ASSERT_TRUE(cross_site);
  EXPECT_EQ(cross_site->status, 403);
  const httplib::Result rebound = http.Get("/api/model/info", {{"Host", "attacker.example:8080"}});
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 403);
  EXPECT_FALSE(server->state().trainer.running());
  // Our own page: same origin.
  const std::string origin = "http://127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(http.Post("/api/predict", {{"Origin", origin}}, seven, "application/json")->status,
            200);
  EXPECT_EQ(http.Get("/api/model/info", {{"Host", "localhost:" + std::to_string(port)}})->status,
            200);
}

}  // namespace
}  // namespace edgetrain::web_test
