// A fixed set of worker threads that run one task per thread and wait for all of them. The caller is
// task 0, so a pool of 1 runs everything inline. Work is split by task index, never stolen, so the
// same thread count always gives the same partition (and bit-identical training). Tasks run with
// denormals flushed to zero (base/denormals.h).
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace edgetrain {

class ThreadPool {
 public:
  // threads <= 0 means every core the machine reports. Throws Error (having stopped the threads
  // it started) when the system cannot start them all.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }
  // Runs task(t) for every t in [0, size()) at once; returns when all have finished and rethrows
  // the first exception a task threw.
  void run(const std::function<void(int)>& task);
  // Splits [0, count) into size() contiguous chunks and runs body(begin, end) on each.
  void parallel_for(size_t count, const std::function<void(size_t, size_t)>& body);

 private:
  void worker_loop(int index);
  void stop_workers();
  void record_exception();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* task_ = nullptr;
  size_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace edgetrain
