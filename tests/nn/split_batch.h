// Runs a mini-batch split the way the trainer splits it: consecutive parts of parts[t] samples,
// one thread per part, thread 0 on the caller, the others started before it and joined after.
#pragma once

#include <thread>
#include <vector>

namespace edgetrain {

// Calls run_part(t, first) for every part t, `first` being the index of its first sample.
template <typename RunPart>
void run_parts_on_threads(const std::vector<int>& parts, RunPart run_part) {
  std::vector<std::thread> workers;
  int first = parts.empty() ? 0 : parts[0];
  for (size_t t = 1; t < parts.size(); ++t) {
    workers.emplace_back(run_part, int(t), first);
    first += parts[t];
  }
  if (!parts.empty()) run_part(0, 0);
  for (std::thread& worker : workers) worker.join();
}

}  // namespace edgetrain
