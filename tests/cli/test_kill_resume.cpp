// Kill -9 and resume: `edgetrain train --checkpoint` is killed at random moments, resumed each
// time with `--resume`, and must end with exactly the weights of an uninterrupted run. After every
// kill, each file it writes must be a complete, valid checkpoint or model (or absent).
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "edgetrain/io.h"
#include "test_paths.h"
#include "train/checkpoint.h"

namespace edgetrain {
namespace {

namespace fs = std::filesystem;

class KillResume : public ::testing::Test {
 protected:
  void SetUp() override {
    folder = fs::temp_directory_path() / ("edgetrain-kill-" + std::to_string(::getpid()));
    fs::create_directories(folder);
  }
  void TearDown() override { fs::remove_all(folder); }
  std::string path(const std::string& name) const { return (folder / name).string(); }

  std::vector<std::string> train_arguments(const std::string& output) const {
    return {test_paths::cli(), "train",   "--dataset",   test_paths::mnist_dir(),
            "--limit",         "6000",    "--epochs",    "3",
            "--batch-size",    "100",     "--seed",      "11",
            "--threads",       "2",       "--quiet",     "--output",
            output};
  }

  // Starts the CLI; returns its pid. Output goes to a log in the folder.
  pid_t start(std::vector<std::string> arguments) const {
    const std::string log = path("log.txt");
    pid_t pid = fork();
    if (pid == 0) {
      FILE* out = std::freopen(log.c_str(), "a", stdout);
      FILE* err = std::freopen(log.c_str(), "a", stderr);
      (void)out;
      (void)err;
      std::vector<char*> argv;
      for (std::string& argument : arguments) argv.push_back(argument.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    return pid;
  }
  static int wait_for(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  fs::path folder;
};

TEST_F(KillResume, KilledRunsResumeToTheUninterruptedWeights) {
  // The reference: one uninterrupted run.
  ASSERT_EQ(wait_for(start(train_arguments(path("reference.mlmodel")))), 0);
  const Model reference = load_model(path("reference.mlmodel"));

  const std::string checkpoint = path("run.ckpt"), output = path("resumed.mlmodel");
  std::mt19937 random(20261125);
  int kills = 0, runs = 0;
  for (; runs < 12; ++runs) {
    std::vector<std::string> arguments = train_arguments(output);
    for (const char* extra : {"--checkpoint", checkpoint.c_str(), "--checkpoint-every", "3"}) {
      arguments.push_back(extra);
    }
    if (fs::exists(checkpoint)) {
      arguments.push_back("--resume");
      arguments.push_back(checkpoint);
    }
    const pid_t pid = start(arguments);
    if (runs < 6) {
      // A random moment within the first seconds: loading, training, checkpointing, saving.
      std::this_thread::sleep_for(std::chrono::milliseconds(300 + random() % 2700));
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == 0) {  // still running
        kill(pid, SIGKILL);
        ++kills;
        wait_for(pid);
      }
      // Whatever is on disk is whole and valid.
      if (fs::exists(checkpoint)) EXPECT_NO_THROW(load_checkpoint(checkpoint)) << "after kill " << kills;
      if (fs::exists(output)) EXPECT_NO_THROW(load_model(output)) << "after kill " << kills;
      continue;
    }
    ASSERT_EQ(wait_for(pid), 0) << "the resumed run failed; see " << path("log.txt");
    break;
  }
  std::printf("survived %d kills in %d runs\n", kills, runs + 1);
  EXPECT_GE(kills, 4);
  const Model resumed = load_model(output);
  EXPECT_EQ(resumed.parameters, reference.parameters);
}

}  // namespace
}  // namespace edgetrain
