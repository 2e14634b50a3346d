// MNIST download against a local HTTP server (tests/cli/range_http_server.py) that serves copies
// of the real .gz files and answers Range requests: full download, resume of a .part, a server
// ignoring Range, a corrupted file, a 404 mirror and a refused connection.
#include "cli/fetch.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "data/test_files.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"

extern char** environ;

namespace edgetrain {
namespace {

namespace fs = std::filesystem;
using test::error_message;
using test::expect_mentions;
using test::kMnistDir;
using test::ScratchDir;

// The range server running as a child process for the length of one test.
class RangeServer {
 public:
  RangeServer(const std::string& directory, const std::string& log_path,
              const std::vector<std::string>& flags = {}) {
    std::vector<std::string> args = {"/usr/bin/python3",
                                     EDGETRAIN_SOURCE_DIR "/tests/cli/range_http_server.py",
                                     directory, "--log", log_path};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    const int spawned = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    if (spawned != 0) {
      close(pipe_fds[0]);
      pid_ = -1;
      throw std::runtime_error("cannot start /usr/bin/python3 for the range server");
    }
    port_ = read_port(pipe_fds[0]);
    close(pipe_fds[0]);
    if (port_ <= 0) {
      stop();
      throw std::runtime_error("the range server exited without reporting its port");
    }
  }
  ~RangeServer() { stop(); }

  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  // Reads the port line, however long the server takes to start (no deadline: a machine may be
  // slow); ends early with -1 when the server exits without one (the pipe closes).
  static int read_port(int fd) {
    std::string line;
    while (line.find('\n') == std::string::npos) {
      char buffer[64];
      const ssize_t got = read(fd, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      line.append(buffer, size_t(got));
    }
    return line.find('\n') == std::string::npos ? -1 : std::atoi(line.c_str());
  }

  // The server keeps nothing unwritten (each request's log line is closed as written): kill it.
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  pid_t pid_ = -1;
  int port_ = -1;
};

// A scratch folder with `serve/` (copies of the real .gz files) and an empty `data/`.
class FetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(serve_dir());
    for (const PublishedFile& file : mnist_files()) {
      fs::copy_file(kMnistDir + "/" + file.name, serve_dir() + "/" + file.name);
    }
  }
  std::string serve_dir() const { return scratch_.path("serve"); }
  std::string data_dir() const { return scratch_.path("data"); }
  std::string log_path() const { return scratch_.path("requests.log"); }
  std::string served(const std::string& name) const { return serve_dir() + "/" + name; }
  std::string downloaded(const std::string& name) const { return data_dir() + "/" + name; }

  FetchOptions options_for(const RangeServer& server, const std::string& path = "") const {
    FetchOptions options;
    options.mirror = server.url(path);
    options.data_dir = data_dir();
    // Only a hung server would reach these; generous, so that a slow machine never does.
    options.connect_timeout_seconds = 300;
    options.low_speed_seconds = 300;
    return options;
  }

  ScratchDir scratch_;
};

TEST_F(FetchTest, DownloadsVerifiesAndSkipsWhatIsPresent) {
  RangeServer server(serve_dir(), log_path());
  FetchOptions fetch_options = options_for(server);  // no trailing '/': one is added
  uint64_t progress_calls = 0, last_done = 0, last_total = 0;
  fetch_options.progress = [&](const std::string& file, uint64_t done, uint64_t total) {
    ++progress_calls;
    last_done = done;
    last_total = total;
    EXPECT_FALSE(file.empty());
  };
  const std::vector<FetchResult> results = fetch_mnist(fetch_options);
  ASSERT_EQ(results.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const PublishedFile& file = mnist_files()[i];
    const uint64_t size = fs::file_size(served(file.name));
    EXPECT_EQ(results[i].path, downloaded(file.name));
    EXPECT_FALSE(results[i].already_present);
    EXPECT_EQ(results[i].bytes, size);
    EXPECT_EQ(results[i].bytes_downloaded, size);
    EXPECT_EQ(results[i].resumed_from, 0u);
    EXPECT_EQ(md5_file(downloaded(file.name)), file.md5);
    EXPECT_FALSE(fs::exists(downloaded(file.name) + ".part"));
  }
  EXPECT_GT(progress_calls, 4u);
  EXPECT_EQ(last_done, fs::file_size(served("t10k-labels-idx1-ubyte.gz")));
  EXPECT_EQ(last_total, last_done);
  EXPECT_EQ(read_idx_folder(data_dir(), "t10k").count(), 10000u);

  fetch_options.mirror += "/";
  for (const FetchResult& result : fetch_mnist(fetch_options)) {
    EXPECT_TRUE(result.already_present) << result.path;
    EXPECT_EQ(result.bytes_downloaded, 0u);
  }
}

TEST_F(FetchTest, ResumesAPartialDownloadWithRange) {
  const std::string images = "train-images-idx3-ubyte.gz";
  const std::string labels = "t10k-labels-idx1-ubyte.gz";
  const std::string images_bytes = test::read_file(served(images));
  const size_t half = images_bytes.size() / 2;
  fs::create_directories(data_dir());
  test::write_file(downloaded(images) + ".part", images_bytes.substr(0, half));
  // A .part already complete: the server answers 416 and the .part is verified as it is.
  fs::copy_file(served(labels), downloaded(labels) + ".part");

  RangeServer server(serve_dir(), log_path());
  const std::vector<FetchResult> results = fetch_mnist(options_for(server, "/"));
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].resumed_from, half);
  EXPECT_EQ(results[0].bytes_downloaded, images_bytes.size() - half);
  EXPECT_EQ(results[0].bytes, images_bytes.size());
  EXPECT_EQ(results[3].resumed_from, fs::file_size(served(labels)));
  EXPECT_EQ(results[3].bytes_downloaded, 0u);
  for (const PublishedFile& file : mnist_files()) {
    EXPECT_EQ(md5_file(downloaded(file.name)), file.md5) << file.name;
  }
  const std::string log = test::read_file(log_path());
  expect_mentions(log, {"GET /" + images + " range=bytes=" + std::to_string(half) + "- status=206",
                        "GET /" + labels + " range=bytes=" + std::to_string(results[3].bytes) +
                            "- status=416"});
}

TEST_F(FetchTest, RestartsFromZeroWhenTheServerIgnoresRange) {
  const std::string labels = "train-labels-idx1-ubyte.gz";
  const std::string bytes = test::read_file(served(labels));
  fs::create_directories(data_dir());
  test::write_file(downloaded(labels) + ".part", bytes.substr(0, 1000));

  RangeServer server(serve_dir(), log_path(), {"--ignore-range"});
  const std::vector<FetchResult> results = fetch_mnist(options_for(server));
  EXPECT_EQ(results[1].resumed_from, 0u);
  EXPECT_EQ(results[1].bytes_downloaded, bytes.size());
  EXPECT_EQ(md5_file(downloaded(labels)), mnist_files()[1].md5);
  expect_mentions(test::read_file(log_path()),
                  {"GET /" + labels + " range=bytes=1000- status=200"});
}

TEST_F(FetchTest, RestartsFromZeroWhenA206StartsElsewhere) {
  const std::string labels = "train-labels-idx1-ubyte.gz";
  const std::string bytes = test::read_file(served(labels));
  fs::create_directories(data_dir());
  test::write_file(downloaded(labels) + ".part", bytes.substr(0, 1000));

  RangeServer server(serve_dir(), log_path(), {"--bad-range"});
  const std::vector<FetchResult> results = fetch_mnist(options_for(server));
  EXPECT_EQ(results[1].resumed_from, 0u);
  EXPECT_EQ(md5_file(downloaded(labels)), mnist_files()[1].md5);
  expect_mentions(test::read_file(log_path()), {"GET /" + labels + " range=bytes=1000- status=206",
                                                "GET /" + labels + " range=- status=200"});
}

TEST_F(FetchTest, DamagedPartIsDownloadedAgainFromZero) {
  const std::string labels = "t10k-labels-idx1-ubyte.gz";
  fs::create_directories(data_dir());
  test::write_file(downloaded(labels) + ".part", std::string(3000, 'x'));

  RangeServer server(serve_dir(), log_path());
  const std::vector<FetchResult> results = fetch_mnist(options_for(server));
  EXPECT_EQ(results[3].resumed_from, 0u);
  EXPECT_EQ(md5_file(downloaded(labels)), mnist_files()[3].md5);
  expect_mentions(test::read_file(log_path()), {"GET /" + labels + " range=bytes=3000- status=206",
                                                "GET /" + labels + " range=- status=200"});
}

TEST_F(FetchTest, CorruptedFileFailsTheMd5Check) {
  const std::string labels = "train-labels-idx1-ubyte.gz";
  RangeServer server(serve_dir(), log_path(), {"--corrupt", labels});
  const FetchOptions fetch_options = options_for(server);
  const std::string message = error_message([&] { fetch_mnist(fetch_options); });
  expect_mentions(message, {downloaded(labels), "MD5 mismatch", mnist_files()[1].md5,
                            server.url("/" + labels), ".part"});
  EXPECT_FALSE(fs::exists(downloaded(labels)));
  EXPECT_FALSE(fs::exists(downloaded(labels) + ".part"));
  // The file before it was verified and kept.
  EXPECT_EQ(md5_file(downloaded("train-images-idx3-ubyte.gz")), mnist_files()[0].md5);
}

TEST_F(FetchTest, MissingFileOnTheMirrorNamesTheUrl) {
  RangeServer server(serve_dir(), log_path());
  const FetchOptions fetch_options = options_for(server, "/missing/");
  const std::string message = error_message([&] { fetch_mnist(fetch_options); });
  expect_mentions(message, {server.url("/missing/train-images-idx3-ubyte.gz"), "404"});
  EXPECT_FALSE(fs::exists(downloaded("train-images-idx3-ubyte.gz")));
}

TEST_F(FetchTest, RefusedConnectionNamesTheUrl) {
  // A port that was free a moment ago and has nothing listening on it now.
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(probe, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int port = ntohs(address.sin_port);
  close(probe);

  FetchOptions fetch_options;
  fetch_options.mirror = "http://127.0.0.1:" + std::to_string(port) + "/mnist";
  fetch_options.data_dir = data_dir();
  // The refusal itself ends it, not a timeout: the message says so, whatever the machine's speed.
  fetch_options.connect_timeout_seconds = 300;
  const std::string message = error_message([&] { fetch_mnist(fetch_options); });
  expect_mentions(message, {fetch_options.mirror + "/train-images-idx3-ubyte.gz",
                            "Couldn't connect to server"});
  EXPECT_EQ(message.find("timed out"), std::string::npos) << message;
  EXPECT_EQ(message.find("Timeout"), std::string::npos) << message;
}

TEST_F(FetchTest, Md5OfAKnownFile) {
  EXPECT_EQ(md5_file(served("t10k-images-idx3-ubyte.gz")), "9fb629c4189551a2d022fa330f9573f3");
  expect_mentions(error_message([&] { md5_file(scratch_.path("nothing")); }),
                  {scratch_.path("nothing"), "cannot open"});
}

}  // namespace
}  // namespace edgetrain
