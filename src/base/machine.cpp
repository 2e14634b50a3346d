#include "base/machine.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "edgetrain/error.h"

namespace edgetrain {
namespace {

double page_bytes() { return double(sysconf(_SC_PAGESIZE)); }

// MemAvailable from /proc/meminfo (the kernel's estimate of what can be allocated without
// swapping), else free pages; infinity when neither is known.
double available_physical_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kilobytes = 0;
  std::string unit;
  while (meminfo >> key >> kilobytes >> unit) {
    if (key == "MemAvailable:") return kilobytes * 1024;
  }
  const long pages = sysconf(_SC_AVPHYS_PAGES);
  return pages > 0 ? double(pages) * page_bytes() : std::numeric_limits<double>::infinity();
}

// Field `index` of /proc/self/statm (0: whole address space, 5: data + stack), in bytes; 0 if
// unknown.
double statm_bytes(int index) {
  std::ifstream statm("/proc/self/statm");
  double pages = 0;
  for (int i = 0; i <= index; ++i) {
    if (!(statm >> pages)) return 0;
  }
  return pages * page_bytes();
}

// What is left of a resource limit, or infinity when none is set.
double left_under_limit(int resource, double in_use) {
  rlimit limit{};
  if (getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<double>::infinity();
  }
  return std::max(0.0, double(limit.rlim_cur) - in_use);
}

}  // namespace

int hardware_threads() { return int(std::max(1u, std::thread::hardware_concurrency())); }

int effective_threads(int requested) {
  return requested <= 0 ? hardware_threads() : std::min(requested, hardware_threads());
}

MemoryBudget memory_budget() {
  MemoryBudget budget{available_physical_bytes(), "in physical memory"};
  const double mapped = statm_bytes(0);
  const double address_space = left_under_limit(RLIMIT_AS, mapped);
  if (address_space < budget.bytes) {
    budget = {address_space, "under the address-space limit of " +
                                 byte_text(address_space + mapped) + " (RLIMIT_AS, ulimit -v), " +
                                 byte_text(mapped) + " of which is in use"};
  }
  const double data = statm_bytes(5);
  const double data_space = left_under_limit(RLIMIT_DATA, data);
  if (data_space < budget.bytes) {
    budget = {data_space, "under the data-size limit of " + byte_text(data_space + data) +
                              " (RLIMIT_DATA, ulimit -d), " + byte_text(data) +
                              " of which is in use"};
  }
  return budget;
}

std::string byte_text(double bytes) {
  if (!std::isfinite(bytes)) return "unlimited memory";
  if (bytes < 1000) return std::to_string(int64_t(bytes)) + " bytes";
  static constexpr const char* kUnits[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
  int unit = 0;
  bytes /= 1000;
  while (bytes >= 999.5 && unit + 1 < int(std::size(kUnits))) {
    bytes /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.3g %s", bytes, kUnits[unit]);
  return text;
}

void check_memory(double bytes, const std::string& what, const std::string& hint) {
  const MemoryBudget budget = memory_budget();
  if (bytes <= budget.bytes) return;
  throw Error(what + " needs " + byte_text(bytes) + " of memory, but only " +
              byte_text(budget.bytes) + " is available " + budget.limited_by + "; " + hint);
}

}  // namespace edgetrain
