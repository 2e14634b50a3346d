// `edgetrain serve` as a process: it says where it serves, Ctrl-C (SIGINT) or SIGTERM stop it
// cleanly (training stopped, exit code 0, no half-written file), and a port in use is an error.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "edgetrain/image.h"
#include "web_fixture.h"

namespace edgetrain::web_test {
namespace {

// The CLI started with `arguments`, its output read line by line from a pipe.
class ServeProcess {
 public:
  explicit ServeProcess(const std::vector<std::string>& arguments) {
    int pipe_ends[2];
    if (::pipe(pipe_ends) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipe_ends[1], 1);
      ::dup2(pipe_ends[1], 2);
      ::close(pipe_ends[0]);
      std::vector<char*> argv;
      const std::string cli = test_paths::cli();
      argv.push_back(const_cast<char*>(cli.c_str()));
      for (const std::string& argument : arguments)
        argv.push_back(const_cast<char*>(argument.c_str()));
      argv.push_back(nullptr);
      ::execv(cli.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(pipe_ends[1]);
    out_ = ::fdopen(pipe_ends[0], "r");
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (out_) std::fclose(out_);
  }
  // The next line of output, "" at its end.
  std::string line() {
    char buffer[4096];
    if (!std::fgets(buffer, sizeof buffer, out_)) return "";
    output_ += buffer;
    return buffer;
  }
  // Reads lines until one matches; returns its first group ("" when the output ended first).
  std::string find(const std::regex& pattern) {
    for (std::string text = line(); !text.empty(); text = line()) {
      std::smatch match;
      if (std::regex_search(text, match, pattern)) return match[1];
    }
    return "";
  }
  void signal(int number) { ::kill(pid_, number); }
  // The exit code, or -1 after a signal; reads the rest of the output.
  int wait() {
    while (!line().empty()) {
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::string output_;
  bool exited_ = false;
};

const std::regex kServing("serving on http://127\\.0\\.0\\.1:([0-9]+)/");

TEST_F(WebServer, CtrlCStopsTrainingAndTheServerCleanly) {
  options();  // writes the CSV data sets
  ServeProcess serve({"serve", "--port", "0", "--dataset", path("train.csv"), "--test-csv",
                      path("test.csv"), "--samples-dir", path("samples"), "--threads", "2"});
  const std::string found = serve.find(kServing);
  ASSERT_FALSE(found.empty()) << serve.output();
  port = std::stoi(found);
  httplib::Client http = client();
  GrayImage drawing{40, 40, std::vector<float>(1600, 0.0f)};
  for (int y = 5; y < 35; ++y) drawing.pixels[size_t(y) * 40 + 20] = 1.0f;
  ASSERT_EQ(http.Post("/api/samples?label=1", encode_png_gray(drawing), "image/png")->status, 201);
  // A long run (640 images, 100 epochs), stopped while it trains.
  ASSERT_EQ(http.Post("/api/train/start", "{\"epochs\": 100}", "application/json")->status, 202);
  nlohmann::json status;
  do {  // until it has trained a mini-batch (polled)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    status = json_of(http.Get("/api/train/status?history=0"));
  } while (status["samples_done"] == 0 && status["running"] == true);
  serve.signal(SIGINT);
  EXPECT_EQ(serve.wait(), 0) << serve.output();
  EXPECT_NE(serve.output().find("edgetrain serve: Interrupt: stopping"), std::string::npos)
      << serve.output();
  EXPECT_NE(serve.output().find("edgetrain serve: stopped"), std::string::npos);
  // The sample is whole, and nothing half-written is left.
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(folder / "samples")) {
    if (!entry.is_regular_file()) continue;
    ++files;
    EXPECT_EQ(entry.path().extension(), ".png") << entry.path();
    EXPECT_EQ(decode_png_gray(file_bytes(entry.path().string()), "sample").pixels.size(), 784u);
  }
  EXPECT_EQ(files, 1u);
  EXPECT_FALSE(http.Get("/api/model/info")) << "no longer serving";
}

TEST_F(WebServer, SigtermStopsItAndABusyPortIsAnError) {
  ServeProcess first({"serve", "--port", "0", "--samples-dir", path("samples")});
  const std::string found = first.find(kServing);
  ASSERT_FALSE(found.empty()) << first.output();
  ServeProcess second({"serve", "--port", found, "--samples-dir", path("samples")});
  const std::string said = second.find(std::regex("(serving on|error: .*)"));
  ASSERT_NE(said, "serving on") << "two servers on one port";
  EXPECT_EQ(second.wait(), 1);
  EXPECT_NE(second.output().find("edgetrain: error: cannot listen on 127.0.0.1:" + found),
            std::string::npos)
      << second.output();
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait(), 0) << first.output();
  EXPECT_NE(first.output().find("Terminated: stopping"), std::string::npos) << first.output();
}

}  // namespace
}  // namespace edgetrain::web_test
