// Checkpoints: a run stopped and resumed (several times) ends bit-identical to an uninterrupted one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "edgetrain/error.h"
#include "edgetrain/train.h"
#include "base/atomic_file.h"
#include "test_paths.h"
#include "train/checkpoint.h"

namespace edgetrain {
namespace {

namespace fs = std::filesystem;

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    folder = fs::temp_directory_path() / ("edgetrain-checkpoint-" + std::to_string(::getpid()));
    fs::create_directories(folder);
    data = read_idx(test_paths::mnist("t10k-images-idx3-ubyte.gz"),
                    test_paths::mnist("t10k-labels-idx1-ubyte.gz"));
    data.truncate(500);
  }
  void TearDown() override { fs::remove_all(folder); }
  std::string path(const std::string& name) const { return (folder / name).string(); }
  Model fresh() const { return lenet({.batch_size = 50, .epochs = 3}); }
  fs::path folder;
  Dataset data;
};

TEST_F(Checkpoint, StoppedAndResumedRunsEndBitIdentical) {
  Model uninterrupted = fresh();
  const TrainingResult whole = UpdateTask(uninterrupted, data, {.seed = 4, .threads = 2}).run();

  // Stop after global batches 7, 10 (the first of epoch 1) and 24, resuming each time.
  Model model = fresh();
  const std::string checkpoint = path("run.ckpt");
  int resumes = 0;
  for (int64_t stop_after : {7, 10, 24, -1}) {
    UpdateConfig config{.seed = 4, .threads = 2, .checkpoint_path = checkpoint};
    if (resumes > 0) config.resume_from = checkpoint;
    Model attempt = fresh();  // a new process starts from new weights; the checkpoint restores them
    UpdateTask task(attempt, data, config);
    int64_t seen = 0;
    task.handlers.batch_end = [&](UpdateTask& t, const BatchEnd& end) {
      seen = end.epoch * end.batches_per_epoch + end.batch + 1;
      if (seen == stop_after) t.cancel();
    };
    const TrainingResult result = task.run();
    EXPECT_EQ(result.cancelled, stop_after > 0);
    ++resumes;
    model = attempt;
    if (stop_after < 0) {
      EXPECT_EQ(result.samples_seen, whole.samples_seen);
    }
  }
  EXPECT_EQ(model.parameters, uninterrupted.parameters);
}

TEST_F(Checkpoint, PeriodicCheckpointsAreCompleteAndLoadable) {
  Model model = fresh();
  const std::string checkpoint = path("periodic.ckpt");
  UpdateTask task(model, data, {.checkpoint_path = checkpoint, .checkpoint_every_batches = 4});
  int64_t last_step_seen = 0;
  task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& end) {
    const int64_t step = end.epoch * end.batches_per_epoch + end.batch + 1;
    if (step > 4 && fs::exists(checkpoint)) {
      const TrainingState state = load_checkpoint(checkpoint);
      EXPECT_EQ(state.step % 4, 0);
      EXPECT_LE(state.step, step);
      EXPECT_GE(state.step, last_step_seen);
      last_step_seen = state.step;
    }
  };
  task.run();
  const TrainingState final_state = load_checkpoint(checkpoint);
  EXPECT_EQ(final_state.epoch, 3);
  EXPECT_EQ(final_state.parameters, model.parameters);
  EXPECT_GT(last_step_seen, 0);
}

// Time-based checkpoints, judged without the clock: every mini-batch takes longer than a
// nanosecond on any machine, so an interval of 1 ns checkpoints after every step, and an interval
// of 10^9 s (32 years) never before the end.
TEST_F(Checkpoint, EverySecondsFollowsTheIntervalWhateverTheMachinesSpeed) {
  const std::string every_step = path("every-step.ckpt"), never = path("never.ckpt");
  Model model = fresh();
  UpdateTask often(model, data, {.checkpoint_path = every_step, .checkpoint_every_seconds = 1e-9});
  int64_t checked = 0;
  often.handlers.batch_end = [&](UpdateTask&, const BatchEnd& end) {
    const int64_t step = end.epoch * end.batches_per_epoch + end.batch + 1;
    // Called before this step's checkpoint: the one on disk is the previous step's.
    if (step > 1) {
      EXPECT_EQ(load_checkpoint(every_step).step, step - 1) << "at step " << step;
      ++checked;
    }
  };
  often.run();
  EXPECT_EQ(checked, 29);  // 3 epochs of 500 / 50 = 10 steps, after the first

  Model other = fresh();
  UpdateTask rarely(other, data, {.checkpoint_path = never, .checkpoint_every_seconds = 1e9});
  rarely.handlers.batch_end = [&](UpdateTask&, const BatchEnd& end) {
    EXPECT_FALSE(fs::exists(never)) << "epoch " << end.epoch << " batch " << end.batch;
  };
  rarely.run();
  EXPECT_EQ(load_checkpoint(never).step, 30);  // the final checkpoint, when the run ends
  EXPECT_EQ(other.parameters, model.parameters);
}

TEST_F(Checkpoint, ResumingADifferentRunOrACorruptFileIsRefused) {
  Model model = fresh();
  const std::string checkpoint = path("a.ckpt");
  UpdateTask(model, data, {.seed = 1, .checkpoint_path = checkpoint}).run();
  Model other = fresh();
  try {
    UpdateTask(other, data, {.seed = 2, .resume_from = checkpoint}).run();
    FAIL() << "a different seed must not resume";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("different run"), std::string::npos) << e.what();
  }
  std::string bytes = read_whole_file(checkpoint);
  bytes[bytes.size() / 2] ^= 0x40;
  std::ofstream(path("bad.ckpt"), std::ios::binary) << bytes;
  EXPECT_THROW(load_checkpoint(path("bad.ckpt")), Error);
  std::ofstream(path("short.ckpt"), std::ios::binary) << bytes.substr(0, 100);
  try {
    load_checkpoint(path("short.ckpt"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CRC"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace edgetrain
