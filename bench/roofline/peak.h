// The limits of one core that a kernel's speed is judged against (bench/roofline/): the fused
// multiply-add rate in fp32 per instruction set, in bf16 dot products where the CPU has them
// (x86 AVX512-BF16 `vdpbf16ps`, detected at run time), and the memory bandwidth a stream-like
// triad reaches from DRAM and from L2.
#pragma once

#include <time.h>

#include <string>
#include <vector>

namespace edgetrain::bench {

// CPU time of the calling thread, in seconds. Single-thread timings use it rather than the wall
// clock: on a machine other jobs share, the thread's own running time is still the kernel's cost
// (caches and memory bandwidth stay shared, so numbers under load remain provisional).
inline double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return double(now.tv_sec) + 1e-9 * double(now.tv_nsec);
}

struct PeakRate {
  std::string name;                   // "fp32 AVX-512 FMA", "bf16 AVX512-BF16 vdpbf16ps", ...
  double gflops = 0.0;                // best of the runs, one core
  double flops_per_cycle_hint = 0.0;  // FLOPs per instruction x independent chains, for the README
};

// Every rate this build and CPU can run, widest first; each is measured on the calling thread for
// about `seconds` of its CPU time (best of five runs).
std::vector<PeakRate> measure_compute_peaks(double seconds);

struct Bandwidth {
  std::string name;  // "triad DRAM, 1 thread", ...
  double bytes_per_second = 0.0;
};

// a[i] = b[i] + s·c[i] over arrays of `bytes_per_array` (STREAM counts 12 bytes per element: two
// reads and one write), best of five passes, with `threads` threads each on its own slice.
Bandwidth measure_triad(const std::string& name, size_t bytes_per_array, int threads);

}  // namespace edgetrain::bench
