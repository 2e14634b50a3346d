// SpinTeam: every task index runs once per run, task 0 on the caller; exceptions reach the caller;
// helpers that fell asleep wake for the next run; a team can be destroyed asleep or awake; tasks
// flush denormals as ThreadPool's do. A lost wake-up shows as a run that never returns (the test's
// time limit), not as a timed verdict.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "base/spin_team.h"

namespace edgetrain {
namespace {

TEST(SpinTeam, EveryTaskIndexRunsOncePerRunTaskZeroOnTheCaller) {
  SpinTeam team(3);
  ASSERT_EQ(team.size(), 3);
  std::vector<std::atomic<int>> runs(3);
  std::vector<std::thread::id> where(3);
  const std::function<void(int)> task = [&](int t) {
    runs[size_t(t)].fetch_add(1);
    where[size_t(t)] = std::this_thread::get_id();
  };
  for (int i = 0; i < 2000; ++i) team.run(task);
  for (const auto& count : runs) EXPECT_EQ(count.load(), 2000);
  EXPECT_EQ(where[0], std::this_thread::get_id());
}

// A helper that cannot claim its task (other programs hold its core; here held) does not stall the
// run: the caller runs that task too, each exactly once. Released, the helpers take tasks again and
// run nothing twice.
TEST(SpinTeam, TasksNoHelperClaimsRunOnTheCaller) {
  SpinTeam team(3);
  std::vector<std::atomic<int>> runs(3);
  std::vector<std::thread::id> where(3);
  const std::function<void(int)> task = [&](int t) {
    runs[size_t(t)].fetch_add(1);
    where[size_t(t)] = std::this_thread::get_id();
  };
  team.hold_helpers(true);
  for (int i = 0; i < 100; ++i) {
    team.run(task);
    for (int t = 0; t < 3; ++t) {
      ASSERT_EQ(runs[size_t(t)].load(), i + 1);
      ASSERT_EQ(where[size_t(t)], std::this_thread::get_id());
    }
  }
  team.hold_helpers(false);
  for (int i = 0; i < 100; ++i) team.run(task);
  for (const auto& count : runs) EXPECT_EQ(count.load(), 200);
}

// A task already claimed is waited for, never run twice or around: run() returns only once the
// slow task (on a helper, or on the caller if it claimed it first) has finished.
TEST(SpinTeam, RunReturnsOnlyOnceEveryTaskHasFinished) {
  SpinTeam team(2);
  for (int i = 0; i < 5; ++i) {
    std::atomic<bool> slow_done{false};
    std::atomic<int> runs{0};
    team.run([&](int t) {
      runs.fetch_add(1);
      if (t == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      slow_done.store(true);
    });
    EXPECT_EQ(runs.load(), 2);
    EXPECT_TRUE(slow_done.load());
  }
}

// A helper that starts after the first run() is posted must still run it (it once did not, and
// the run never returned).
TEST(SpinTeam, ATeamRunAtOnceAfterCreationRunsEveryTask) {
  for (int i = 0; i < 200; ++i) {
    SpinTeam team(2);
    std::atomic<int> runs{0};
    team.run([&](int) { runs.fetch_add(1); });
    EXPECT_EQ(runs.load(), 2);
  }
}

TEST(SpinTeam, RunSeesWhatTheTasksWrote) {
  SpinTeam team(2);
  std::vector<int> values(2, 0);  // plain ints: run() must order the writes before its return
  for (int i = 1; i <= 500; ++i) {
    team.run([&](int t) { values[size_t(t)] = i * (t + 1); });
    ASSERT_EQ(values[0], i);
    ASSERT_EQ(values[1], 2 * i);
  }
}

TEST(SpinTeam, AHelpersExceptionReachesTheCallerAndTheTeamGoesOn) {
  SpinTeam team(2);
  EXPECT_THROW(team.run([](int t) {
    if (t == 1) throw std::runtime_error("helper failed");
  }),
               std::runtime_error);
  EXPECT_THROW(team.run([](int t) {
    if (t == 0) throw std::runtime_error("caller failed");
  }),
               std::runtime_error);
  std::atomic<int> runs{0};
  team.run([&](int) { runs.fetch_add(1); });
  EXPECT_EQ(runs.load(), 2);
}

TEST(SpinTeam, SleepingHelpersWakeForTheNextRun) {
  SpinTeam team(2);
  std::atomic<int> runs{0};
  for (int round = 0; round < 3; ++round) {
    team.run([&](int) { runs.fetch_add(1); });
    // Idle far longer than the helper spins: it goes to sleep (when, the test does not ask).
    std::this_thread::sleep_for(SpinTeam::kSpinBeforeSleep * 5);
    if (round == 1) team.wake();
  }
  EXPECT_EQ(runs.load(), 6);
}

TEST(SpinTeam, DestroyedAsleepAwakeOrUnused) {
  { SpinTeam unused(2); }
  {
    SpinTeam awake(2);
    awake.run([](int) {});
  }
  {
    SpinTeam asleep(2);
    asleep.run([](int) {});
    std::this_thread::sleep_for(SpinTeam::kSpinBeforeSleep * 5);
  }
}

TEST(SpinTeam, OneThreadRunsInline) {
  SpinTeam team(1);
  EXPECT_EQ(team.size(), 1);
  std::thread::id where;
  team.run([&](int) { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, std::this_thread::get_id());
}

// A denormal (below 1.2e-38) reads as 0 inside tasks, and the caller's own mode is back after.
TEST(SpinTeam, TasksFlushDenormalsAndTheCallerKeepsItsMode) {
  volatile float denormal = 1e-39f;  // volatile: computed at run time, under the current mode
  ASSERT_NE(denormal * 0.5f, 0.0f);
  SpinTeam team(2);
  std::vector<float> seen(2, -1.0f);
  team.run([&](int t) { seen[size_t(t)] = denormal * 0.5f; });
  EXPECT_EQ(seen[0], 0.0f);
  EXPECT_EQ(seen[1], 0.0f);
  EXPECT_NE(denormal * 0.5f, 0.0f) << "the caller's mode was not restored";
}

}  // namespace
}  // namespace edgetrain
