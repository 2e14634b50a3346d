#include "base/thread_pool.h"

#include <algorithm>
#include <string>
#include <system_error>

#include "base/denormals.h"
#include "edgetrain/error.h"

namespace edgetrain {

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  try {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  } catch (const std::system_error& e) {
    // Out of threads or of memory for their stacks: stop the ones started (the destructor does
    // not run for a constructor that throws) and say so.
    const size_t started = workers_.size() + 1;
    stop_workers();
    throw Error(std::string("cannot start thread ") + std::to_string(started + 1) + " of " +
                std::to_string(threads) + ": " + e.what() + " (try fewer threads)");
  }
}

ThreadPool::~ThreadPool() {
  stop_workers();
}

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  start_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

void ThreadPool::record_exception() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!error_) error_ = std::current_exception();
}

void ThreadPool::worker_loop(int index) {
  const FlushDenormals flush;  // the workers only ever run our kernels
  size_t seen = 0;
  for (;;) {
    const std::function<void(int)>* task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      task = task_;
    }
    try {
      (*task)(index);
    } catch (...) {
      record_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (--pending_ == 0) done_.notify_one();
  }
}

void ThreadPool::run(const std::function<void(int)>& task) {
  const FlushDenormals flush;  // for task 0, on the caller's thread; restored on return
  if (workers_.empty()) {
    task(0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &task;
    pending_ = int(workers_.size());
    error_ = nullptr;
    ++generation_;
  }
  start_.notify_all();
  try {
    task(0);
  } catch (...) {
    record_exception();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  if (error_) std::rethrow_exception(error_);
}

void ThreadPool::parallel_for(size_t count, const std::function<void(size_t, size_t)>& body) {
  const size_t parts = size_t(size());
  run([&](int t) {
    size_t begin = count * size_t(t) / parts, end = count * size_t(t + 1) / parts;
    if (begin < end) body(begin, end);
  });
}

}  // namespace edgetrain
