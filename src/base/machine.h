// What the machine offers a run: the threads its hardware runs at once and the memory this process
// may still take. Thread counts are capped to the first; a run whose buffers cannot fit in the
// second is refused before anything is allocated, with the figure it would need.
#pragma once

#include <cstdint>
#include <string>

namespace edgetrain {

// Logical CPUs online (std::thread::hardware_concurrency), at least 1.
int hardware_threads();
// The threads a run uses for a request (0 or less: every core): never more than the hardware's.
// More would only add workspaces and context switches, and results depend on this count.
int effective_threads(int requested);

struct MemoryBudget {
  double bytes = 0;        // how much more this process may allocate (infinity: no limit known)
  std::string limited_by;  // what sets it, for messages: "in physical memory", "under the ..."
};
// The least of: available physical memory (MemAvailable), the address-space limit (RLIMIT_AS)
// less what is mapped already, and the data-size limit (RLIMIT_DATA) less the data in use.
MemoryBudget memory_budget();

// "512 bytes", "41.2 MB", "1.23 TB" (decimal units).
std::string byte_text(double bytes);

// Throws Error when `bytes` exceed memory_budget(): "<what> needs 1.23 TB of memory, but only
// 21.4 GB is available in physical memory; <hint>". Call it before allocating.
void check_memory(double bytes, const std::string& what, const std::string& hint);

}  // namespace edgetrain
