// `edgetrain serve` in the test process: a server on an ephemeral loopback port, a client, small
// CSV data sets cut from MNIST (so training in a test takes a moment on any machine), and
// helpers to look at answers.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "edgetrain/data.h"
#include "mnist_test_set.h"
#include "test_paths.h"
#include "web/server.h"

namespace edgetrain::web_test {

namespace fs = std::filesystem;

using test_data::mnist_test_set;

// The first `count` images of `data` as the seed's CSV (label, then 784 values 0-255).
inline void write_csv(const Dataset& data, size_t first, size_t count, const fs::path& path) {
  std::ofstream out(path);
  for (size_t i = first; i < first + count; ++i) {
    out << data.labels[i];
    for (float value : data.image(i)) out << ',' << int(std::lround(value * 255.0f));
    out << '\n';
  }
}

class WebServer : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    folder = fs::temp_directory_path() / ("edgetrain-web-" + std::to_string(::getpid()) + "-" +
                                          info->test_suite_name() + "." + info->name());
    fs::remove_all(folder);
    fs::create_directories(folder);
  }
  void TearDown() override {
    server.reset();  // stops it first
    fs::remove_all(folder);
  }

  // Options for a server in the test's folder: the untrained LeNet, training data of 640 MNIST
  // test images as CSV (the last 200 as its test set), every thread of the machine.
  web::ServerOptions options() {
    web::ServerOptions options;
    options.port = 0;
    options.default_model = (folder / "lenet.mlmodel").string();
    options.samples_dir = (folder / "samples").string();
    const fs::path train = folder / "train.csv", test = folder / "test.csv";
    if (!fs::exists(train)) {
      write_csv(mnist_test_set(), 0, 640, train);
      write_csv(mnist_test_set(), 640, 200, test);
    }
    options.data.dataset = train.string();
    options.data.test_csv = test.string();
    options.trainer.threads = 2;
    return options;
  }

  void start(web::ServerOptions server_options) {
    server = std::make_unique<web::Server>(std::move(server_options));
    port = server->start();
  }
  void start() { start(options()); }

  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(300, 0);  // hang protection only
    return client;
  }
  std::string path(const std::string& name) const { return (folder / name).string(); }

  fs::path folder;
  std::unique_ptr<web::Server> server;
  int port = 0;
};

inline nlohmann::json json_of(const httplib::Result& result) {
  if (!result) return {{"error", "no answer: " + httplib::to_string(result.error())}};
  return nlohmann::json::parse(result->body, nullptr, false);
}

inline std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string pixels_json(const std::vector<float>& pixels) {
  return nlohmann::json({{"pixels", pixels}}).dump();
}

}  // namespace edgetrain::web_test
