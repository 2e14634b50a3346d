// Runtime ISA dispatch for plain loops. A function marked EDGETRAIN_VECTORIZE is compiled three
// times by GCC (AVX-512, AVX2+FMA, baseline x86-64) and the loader picks the best clone the CPU
// runs (an ifunc resolver), so simple loops get full-width vectors without per-ISA source. Other
// compilers and targets build the one portable version.
#pragma once

#include <cstdint>
#include <cstring>

// Not under ThreadSanitizer: the loader runs the clones' resolvers before TSan's runtime is up,
// and the instrumented resolver crashes the process at start.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__)
#define EDGETRAIN_VECTORIZE __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define EDGETRAIN_VECTORIZE
#endif

// Helpers called from an EDGETRAIN_VECTORIZE function must inline into each clone to be compiled
// for its ISA (an out-of-line copy is built for the baseline only).
#if defined(__GNUC__)
#define EDGETRAIN_INLINE inline __attribute__((always_inline))
#else
#define EDGETRAIN_INLINE inline
#endif

// These helpers always inline into their ISA clone; in the baseline one GCC passes 64-byte
// vectors in memory, which is what -Wpsabi warns about.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace edgetrain::ops {

// 16 floats as one value, with GCC/Clang vector extensions: one AVX-512 register, two AVX2 ones or
// four SSE ones, whichever the enclosing clone targets. Operators work lane-wise, a float operand
// broadcasts, and comparisons give Lanes of -1 (true) or 0.
using Vec = float __attribute__((vector_size(64)));      // 16 channels
using Lanes = int32_t __attribute__((vector_size(64)));  // 16 channel masks or argmax values
constexpr int kLanes = 16;

EDGETRAIN_INLINE Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
EDGETRAIN_INLINE void store(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }
EDGETRAIN_INLINE Vec select(Lanes mask, Vec yes, Vec no) {
  return Vec(Lanes(yes) & mask) + Vec(Lanes(no) & ~mask);  // one side is all-zero bits
}
EDGETRAIN_INLINE Lanes select(Lanes mask, Lanes yes, Lanes no) { return (yes & mask) | (no & ~mask); }

}  // namespace edgetrain::ops
