// The thread pool: every task index runs exactly once per run, runs follow each other without
// mixing, a task's exception reaches the caller, and parallel_for covers its range in the fixed
// contiguous partition the trainer's determinism relies on. ThreadSanitizer runs these
// (scripts/sanitize.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <utility>
#include <vector>

#include "base/thread_pool.h"

namespace edgetrain {
namespace {

TEST(ThreadPool, EveryTaskIndexRunsOncePerRun) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    ASSERT_EQ(pool.size(), threads);
    for (int round = 0; round < 200; ++round) {
      std::vector<int> runs(size_t(threads), 0);  // each task writes only its own slot
      pool.run([&](int t) { runs[size_t(t)] += 1; });
      for (int t = 0; t < threads; ++t) ASSERT_EQ(runs[size_t(t)], 1) << threads << " threads";
    }
  }
}

TEST(ThreadPool, RunSeesWritesOfThePreviousRun) {
  ThreadPool pool(4);
  std::vector<long> values(4, 0);
  for (int round = 1; round <= 500; ++round) {
    pool.run([&](int t) { values[size_t(t)] += t + 1; });
    pool.run(
        [&](int t) { ASSERT_EQ(values[size_t((t + 1) % 4)], long(round) * ((t + 1) % 4 + 1)); });
  }
}

TEST(ThreadPool, ExceptionReachesTheCallerAndThePoolStaysUsable) {
  ThreadPool pool(3);
  for (int thrower : {0, 1, 2}) {
    EXPECT_THROW(pool.run([&](int t) {
      if (t == thrower) throw std::runtime_error("task failed");
    }),
                 std::runtime_error);
    std::atomic<int> count{0};
    pool.run([&](int) { count++; });
    EXPECT_EQ(count.load(), 3);
  }
}

TEST(ThreadPool, ParallelForCoversTheRangeInContiguousChunks) {
  ThreadPool pool(3);
  for (size_t count : {size_t(0), size_t(1), size_t(2), size_t(7), size_t(1000)}) {
    std::vector<int> hits(count, 0);
    std::vector<std::pair<size_t, size_t>> chunks(3, {0, 0});
    std::atomic<int> calls{0};
    pool.parallel_for(count, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) hits[i] += 1;
      chunks[size_t(calls++)] = {begin, end};
    });
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(hits[i], 1) << "index " << i << " of " << count;
    // Chunk t is [count * t / 3, count * (t + 1) / 3), empty ones skipped: the same split always.
    chunks.resize(size_t(calls.load()));
    std::sort(chunks.begin(), chunks.end());
    std::vector<std::pair<size_t, size_t>> expected;
    for (size_t t = 0; t < 3; ++t) {
      if (count * t / 3 < count * (t + 1) / 3)
        expected.emplace_back(count * t / 3, count * (t + 1) / 3);
    }
    EXPECT_EQ(chunks, expected) << count << " items";
  }
}

#if defined(__x86_64__) || defined(__aarch64__)
// A denormal (below 1.2e-38) reads as 0 inside tasks, and the caller's own mode is back after.
TEST(ThreadPool, TasksFlushDenormalsAndTheCallerKeepsItsMode) {
  volatile float denormal = 1e-39f;  // volatile: computed at run time, under the current mode
  ASSERT_NE(denormal * 0.5f, 0.0f);
  for (int threads : {1, 3}) {
    ThreadPool pool(threads);
    std::vector<float> seen(size_t(pool.size()), -1.0f);
    pool.run([&](int t) { seen[size_t(t)] = denormal * 0.5f; });
    for (float value : seen) EXPECT_EQ(value, 0.0f) << threads << " threads";
    EXPECT_NE(denormal * 0.5f, 0.0f) << "the caller's mode was not restored";
  }
}
#endif

TEST(ThreadPool, DestroyedRightAfterCreation) {
  for (int i = 0; i < 50; ++i) ThreadPool pool(4);
}

}  // namespace
}  // namespace edgetrain
