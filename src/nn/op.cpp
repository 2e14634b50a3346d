#include "nn/op.h"

#include <algorithm>

namespace edgetrain {

BatchSync::BatchSync(int threads)
    : threads_(threads), barrier_(threads), slots_(size_t(threads)), parts_(size_t(threads)) {}

const BatchPart* BatchSync::share(int thread, const BatchPart& mine) {
  parts_[size_t(thread)] = mine;
  barrier_.arrive_and_wait();  // every part written, or its thread gone
  return left_.load() ? nullptr : parts_.data();
}

void BatchSync::done_reading() {
  barrier_.arrive_and_wait();
}

void BatchSync::leave() {
  left_.store(true);  // before arriving: whoever the arrival releases sees it
  barrier_.arrive_and_drop();
}

void BatchSync::all_reduce(int thread, const double* local, double* total, size_t count) {
  slots_[size_t(thread)].assign(local, local + count);
  barrier_.arrive_and_wait();  // every slot written, or its thread gone
  if (left_.load()) {
    // A thread left (its slot may never have been written): any total will do.
    std::copy(local, local + count, total);
    barrier_.arrive_and_wait();
    return;
  }
  for (size_t i = 0; i < count; ++i) total[i] = 0;
  for (const std::vector<double>& slot : slots_) {
    for (size_t i = 0; i < count; ++i) total[i] += slot[i];
  }
  barrier_.arrive_and_wait();  // every slot read: the next call may overwrite them
}

}  // namespace edgetrain
