// Kill -9 and resume: `edgetrain train --checkpoint` is killed at random moments, resumed each
// time with `--resume`, and must end with exactly the weights of an uninterrupted run. After every
// kill, each file it writes must be a complete, valid checkpoint or model (or absent).
//
// The moments come from the run's own progress, never from a fixed time, so the test means the
// same on a fast idle machine and a slow loaded one: each kill waits until the checkpoint on disk
// has reached a randomly drawn optimizer step, then sends SIGKILL at a random point of the next
// checkpoint cycle (timed at the run's own pace). Five kills are drawn inside the first three
// quarters of training (the last quarter is the margin that keeps them inside training however
// fast the machine), and the sixth waits for the final checkpoint, so it lands while the finished
// run evaluates and saves its model. The test prints how many kills landed while training ran.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <random>
#include <thread>

#include "edgetrain/io.h"
#include "test_paths.h"
#include "train/checkpoint.h"

namespace edgetrain {
namespace {

namespace fs = std::filesystem;

// 6000 images in mini-batches of 100 for 3 epochs; a checkpoint every 3 steps.
constexpr int64_t kImages = 6000, kBatchSize = 100, kEpochs = 3, kCheckpointEvery = 3;
constexpr int64_t kSteps = kEpochs * (kImages / kBatchSize);
constexpr int kKills = 6, kKillsInTraining = 5;

class KillResume : public ::testing::Test {
 protected:
  void SetUp() override {
    folder = fs::temp_directory_path() / ("edgetrain-kill-" + std::to_string(::getpid()));
    fs::create_directories(folder);
  }
  void TearDown() override { fs::remove_all(folder); }
  std::string path(const std::string& name) const { return (folder / name).string(); }

  std::vector<std::string> train_arguments(const std::string& output) const {
    return {test_paths::cli(),
            "train",
            "--dataset",
            test_paths::mnist_dir(),
            "--limit",
            std::to_string(kImages),
            "--epochs",
            std::to_string(kEpochs),
            "--batch-size",
            std::to_string(kBatchSize),
            "--seed",
            "11",
            "--threads",
            "2",
            "--quiet",
            "--output",
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
  static int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  static int wait_for(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return exit_code(status);
  }
  // Optimizer steps recorded in the checkpoint on disk (0 when there is none). The file is only
  // ever replaced by a rename, so an opened one is whole; load_checkpoint verifies it (CRC).
  static int64_t checkpoint_step(const std::string& checkpoint) {
    return fs::exists(checkpoint) ? load_checkpoint(checkpoint).step : 0;
  }
  // Polls the run's checkpoint until it records at least `target` steps. Returns the run's own
  // pace then, the time between the last two checkpoints seen (zero if only one was), with the
  // run still going; returns nullopt and its exit code when the run ends first.
  static std::optional<std::chrono::nanoseconds> wait_for_step(pid_t pid,
                                                               const std::string& checkpoint,
                                                               int64_t target, int* ended_with) {
    using clock = std::chrono::steady_clock;
    struct stat seen {};
    std::optional<clock::time_point> last_seen;
    std::chrono::nanoseconds cycle{0};
    for (;;) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        *ended_with = exit_code(status);
        return std::nullopt;
      }
      struct stat now {};
      // A new checkpoint is a new file: reload only when its identity or time changed.
      if (stat(checkpoint.c_str(), &now) == 0 &&
          (now.st_ino != seen.st_ino || now.st_mtim.tv_nsec != seen.st_mtim.tv_nsec ||
           now.st_mtim.tv_sec != seen.st_mtim.tv_sec)) {
        seen = now;
        if (last_seen) cycle = clock::now() - *last_seen;
        last_seen = clock::now();
        if (checkpoint_step(checkpoint) >= target) return cycle;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // the polling interval
    }
  }
  fs::path folder;
};

TEST_F(KillResume, KilledRunsResumeToTheUninterruptedWeights) {
  // The reference: one uninterrupted run.
  ASSERT_EQ(wait_for(start(train_arguments(path("reference.mlmodel")))), 0)
      << "see " << path("log.txt");
  const Model reference = load_model(path("reference.mlmodel"));

  const std::string checkpoint = path("run.ckpt"), output = path("resumed.mlmodel");
  const unsigned seed = std::random_device()();
  std::mt19937 random(seed);
  int kills = 0, kills_in_training = 0, runs = 0;
  std::string steps_at_kills;
  for (int attempt = 0;; ++attempt) {
    std::vector<std::string> arguments = train_arguments(output);
    for (const std::string& extra :
         {std::string("--checkpoint"), checkpoint, std::string("--checkpoint-every"),
          std::to_string(kCheckpointEvery)}) {
      arguments.push_back(extra);
    }
    const int64_t resumed_at = checkpoint_step(checkpoint);
    if (fs::exists(checkpoint)) {
      arguments.push_back("--resume");
      arguments.push_back(checkpoint);
    }
    const pid_t pid = start(arguments);
    ++runs;
    if (attempt >= kKills) {  // no more kills: this run must finish
      ASSERT_EQ(wait_for(pid), 0) << "the resumed run failed; see " << path("log.txt");
      break;
    }
    // Kill k < 5 lands at a random step of the k-th fifth of [1, 3/4 of the steps]; the last one
    // when the final checkpoint is written. A run resumed past its draw is killed at its first
    // new checkpoint.
    int64_t target = kSteps;
    if (attempt < kKillsInTraining) {
      const int64_t span = kSteps * 3 / 4;
      std::uniform_int_distribution<int64_t> draw(1 + span * attempt / kKillsInTraining,
                                                  span * (attempt + 1) / kKillsInTraining);
      target = std::max(draw(random), resumed_at + 1);
    }
    int ended_with = 0;
    const std::optional<std::chrono::nanoseconds> cycle =
        wait_for_step(pid, checkpoint, target, &ended_with);
    if (!cycle) {
      // It finished before the kill (on a very fast machine, possibly the last one).
      ASSERT_EQ(ended_with, 0) << "the run failed before its kill; see " << path("log.txt");
      break;
    }
    // Then a random point of the next checkpoint cycle, measured at the run's own pace: inside a
    // mini-batch or inside a checkpoint write. At most one cycle, far from the end of training.
    std::this_thread::sleep_for(std::chrono::nanoseconds(
        std::uniform_int_distribution<int64_t>(0, cycle->count())(random)));
    kill(pid, SIGKILL);
    const int status = wait_for(pid);
    if (status != -SIGKILL) {
      ASSERT_EQ(status, 0) << "the run failed before its kill; see " << path("log.txt");
      break;  // it finished first
    }
    ++kills;
    const int64_t step = checkpoint_step(checkpoint);
    // The final checkpoint has every step: a kill before it landed while training ran.
    if (step < kSteps) ++kills_in_training;
    steps_at_kills += steps_at_kills.empty() ? "" : ", ";
    steps_at_kills += std::to_string(step);
    // Whatever is on disk is whole and valid.
    if (fs::exists(checkpoint)) {
      EXPECT_NO_THROW(load_checkpoint(checkpoint)) << "after kill " << kills;
    }
    if (fs::exists(output)) {
      EXPECT_NO_THROW(load_model(output)) << "after kill " << kills;
    }
  }
  std::printf(
      "kill -9: %d of %d kills landed while training ran, %d after it (evaluating or saving); "
      "steps in the checkpoint after each kill: %s (of %lld); %d runs; random seed %u\n",
      kills_in_training, kKills, kills - kills_in_training, steps_at_kills.c_str(),
      (long long)kSteps, runs, seed);
  RecordProperty("kills_in_training", kills_in_training);
  RecordProperty("kills", kills);
  EXPECT_GE(kills_in_training, 4);
  const Model resumed = load_model(output);
  EXPECT_EQ(resumed.parameters, reference.parameters);
}

}  // namespace
}  // namespace edgetrain
