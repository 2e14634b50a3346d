#include "base/spin_team.h"

#include <string>
#include <system_error>

#include "base/denormals.h"
#include "edgetrain/error.h"

#if defined(__x86_64__) || defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace edgetrain {
namespace {

// Tells the core this is a spin-wait: it lets the other hyper-thread run and saves power.
inline void spin_pause() {
#if defined(__x86_64__) || defined(__SSE2__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

SpinTeam::SpinTeam(int threads) {
  try {
    for (int i = 1; i < threads; ++i) helpers_.emplace_back([this] { helper_loop(); });
  } catch (const std::system_error& e) {
    const size_t started = helpers_.size() + 1;
    stop_helpers();
    throw Error(std::string("cannot start thread ") + std::to_string(started + 1) + " of " +
                std::to_string(threads) + ": " + e.what() + " (try fewer threads)");
  }
}

SpinTeam::~SpinTeam() {
  stop_helpers();
}

void SpinTeam::hold_helpers(bool held) {
  held_.store(held, std::memory_order_release);
}

void SpinTeam::stop_helpers() {
  stopping_.store(true);
  post(generation_.load(std::memory_order_relaxed) + 1);
  for (std::thread& helper : helpers_) helper.join();
  helpers_.clear();
}

void SpinTeam::post(uint32_t generation) {
  // Sequentially consistent with the helper's `sleepers_` increment and generation re-check:
  // either the helper sees the new generation before it sleeps, or this sees it going to sleep and
  // (taking the mutex it checks under) wakes it.
  generation_.store(generation);
  wake();
}

void SpinTeam::wake() {
  if (sleepers_.load() == 0) return;
  { const std::lock_guard<std::mutex> lock(sleep_mutex_); }
  wake_up_.notify_all();
}

void SpinTeam::helper_loop() {
  const FlushDenormals flush;  // the helpers only ever run our kernels
  // The generation the team was made with, not a load: a helper that starts late must still see
  // the first run() as new.
  uint32_t seen = 0;
  for (;;) {
    // Spin for new work, checking the clock every 256 pauses; sleep once idle too long.
    auto idle_since = std::chrono::steady_clock::now();
    for (int spins = 0; generation_.load(std::memory_order_acquire) == seen; ++spins) {
      spin_pause();
      if (spins % 256 != 255) continue;
      if (std::chrono::steady_clock::now() - idle_since < kSpinBeforeSleep) continue;
      std::unique_lock<std::mutex> lock(sleep_mutex_);
      sleepers_.fetch_add(1);
      wake_up_.wait(lock, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
      idle_since = std::chrono::steady_clock::now();
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stopping_.load()) return;
    while (held_.load(std::memory_order_acquire) && !stopping_.load()) spin_pause();
    run_unclaimed_parts();
  }
}

void SpinTeam::run_unclaimed_parts() {
  const int parts = size();
  // Claiming a part acquires what run() released with next_part_: the task and its inputs. A
  // helper that saw an earlier generation late may claim a part of the current run; it then runs
  // it with the current task, which is all a part needs.
  for (int part; (part = next_part_.fetch_add(1, std::memory_order_acq_rel)) < parts;) {
    try {
      (*task_)(part);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    finished_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void SpinTeam::run(const std::function<void(int)>& task) {
  const FlushDenormals flush;  // for task 0, on the caller's thread; restored on return
  if (helpers_.empty()) {
    task(0);
    return;
  }
  task_ = &task;
  finished_.store(0, std::memory_order_relaxed);
  next_part_.store(1, std::memory_order_release);  // parts 1.. are open; releases task_
  post(generation_.load(std::memory_order_relaxed) + 1);
  std::exception_ptr own;
  try {
    task(0);
  } catch (...) {
    own = std::current_exception();  // still wait: the helpers use the caller's buffers
  }
  // Parts no helper has started yet (one descheduled by other programs) are the caller's.
  run_unclaimed_parts();
  const int helper_parts = int(helpers_.size());
  for (int spins = 0; finished_.load(std::memory_order_acquire) < helper_parts; ++spins) {
    // A helper that claimed a part and lost its core needs one: after kSpinsBeforeYield pauses
    // (tens of µs), offer it this one.
    if (spins < kSpinsBeforeYield) {
      spin_pause();
    } else {
      std::this_thread::yield();
    }
  }
  if (own) std::rethrow_exception(own);
  if (error_) {
    std::exception_ptr error = error_;
    error_ = nullptr;
    std::rethrow_exception(error);
  }
}

}  // namespace edgetrain
