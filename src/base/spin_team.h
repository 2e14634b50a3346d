// Threads that share one short computation, step by step: single-image prediction splits each
// large layer's outputs between the caller and a helper, and a layer takes a few microseconds.
//
// Why not ThreadPool: its hand-off goes through a mutex and a condition variable, a futex wake-up
// of 5-50 µs per step, longer than the steps themselves. Here the helpers spin on an atomic
// generation counter (a cache line passing between cores, well under a microsecond) and the caller
// spins until they are done. A helper that has had nothing to do for kSpinBeforeSleep goes to
// sleep on a condition variable, so an idle team costs no CPU; the next run() wakes it. (Not
// std::atomic::wait: libstdc++ 12's lost a wake-up here, and the helper slept through a run.)
//
// The caller always runs task 0; tasks 1.. go to whichever thread claims them first, helpers or,
// once its own task is done, the caller. On a machine busy with other programs a helper may not
// get a core for a while: its task then runs on the caller rather than wait (a single-image
// prediction with a CPU-bound program beside it took 126 µs waiting, against 46 µs on one
// thread). Which thread runs a task never changes its result: a task's work depends on its index
// alone, and every task runs with denormals flushed to zero (base/denormals.h), so a team of any
// size rounds alike.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace edgetrain {

class SpinTeam {
 public:
  static constexpr std::chrono::microseconds kSpinBeforeSleep{200};
  // The caller's pauses (~30 ns each on this project's machines) waiting for a helper's task
  // before it yields its core to the helper instead.
  static constexpr int kSpinsBeforeYield = 2048;

  // threads - 1 helpers (threads <= 1: none, run() calls task(0) inline). Throws Error (having
  // stopped the helpers it started) when the system cannot start them.
  explicit SpinTeam(int threads);
  ~SpinTeam();
  SpinTeam(const SpinTeam&) = delete;
  SpinTeam& operator=(const SpinTeam&) = delete;

  int size() const { return int(helpers_.size()) + 1; }
  // Runs task(t) once for every t in [0, size()), task 0 on the caller, the others on whichever
  // thread claims them; returns when all have finished and rethrows the first exception a task
  // threw. One caller at a time.
  void run(const std::function<void(int)>& task);
  // Wakes sleeping helpers ahead of a run() that is about to come, so the first hand-off does not
  // wait for a futex wake-up. Optional.
  void wake();
  // While held, helpers claim no task, as when other programs have their cores: run() then runs
  // every task on the caller. For tests.
  void hold_helpers(bool held);

 private:
  void helper_loop();
  void run_unclaimed_parts();  // claims and runs tasks 1.. until none is left
  void stop_helpers();
  void post(uint32_t generation);

  std::vector<std::thread> helpers_;
  // The posted task's number; helpers run it when it changes. Kept apart from `finished_` so the
  // caller's spinning and the helpers' spinning read different cache lines.
  alignas(64) std::atomic<uint32_t> generation_{0};
  std::atomic<int> sleepers_{0};  // helpers asleep or about to be; changed under sleep_mutex_
  std::mutex sleep_mutex_;
  std::condition_variable wake_up_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> held_{false};                   // hold_helpers()
  const std::function<void(int)>* task_ = nullptr;  // written before generation_ is released
  alignas(64) std::atomic<int> finished_{0};        // tasks 1.. done in the current run
  std::atomic<int> next_part_{0};  // the next task of the current run to claim; >= size(): none
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace edgetrain
