// Runtime ISA dispatch for plain loops. A function marked EDGETRAIN_VECTORIZE is compiled three
// times by GCC (AVX-512, AVX2+FMA, baseline x86-64) and the loader picks the best clone the CPU
// runs (an ifunc resolver), so simple loops get full-width vectors without per-ISA source. Other
// compilers and targets build the one portable version.
// The AVX2 clone is named by the x86-64-v3 level (AVX2, FMA, BMI2, ...), which the resolver checks
// as CPU features. "arch=haswell" would compile the same code, but its resolver tests the CPU
// model: any AVX2 CPU that is not an Intel Haswell (every AMD Zen, Intel since Skylake without
// AVX-512) ran the baseline SSE2 clone (tests/ops/test_isa_clones.cpp). With that and the AVX2
// kernel set (conv_relu_pool_kernels.cpp) mended, one Zen 4 core limited to AVX2 trains LeNet at
// 9,650 samples/s instead of 1,235.
#pragma once

#include <cstdint>
#include <cstring>

// Not under ThreadSanitizer: the loader runs the clones' resolvers before TSan's runtime is up,
// and the instrumented resolver crashes the process at start.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__)
#define EDGETRAIN_AVX2_CLONE "arch=x86-64-v3"
#define EDGETRAIN_VECTORIZE \
  __attribute__((target_clones("avx512f", EDGETRAIN_AVX2_CLONE, "default")))
#define EDGETRAIN_HAS_ISA_CLONES 1
#else
#define EDGETRAIN_VECTORIZE
#define EDGETRAIN_HAS_ISA_CLONES 0
#endif

// Helpers called from an EDGETRAIN_VECTORIZE function must inline into each clone to be compiled
// for its ISA (an out-of-line copy is built for the baseline only).
// The same holds for a lambda inside such a function (`[&](int i) EDGETRAIN_INLINE_LAMBDA {...}`):
// GCC may keep its body out of line, and then every clone calls one baseline copy (the AVX2
// clones of LeNet's deep convolution forward and sparse backward did, in scalar SSE code).
// tests/ops/test_isa_clones.cpp reads the library's disassembly for such calls.
#if defined(__GNUC__)
#define EDGETRAIN_INLINE inline __attribute__((always_inline))
#define EDGETRAIN_INLINE_LAMBDA __attribute__((always_inline))
#else
#define EDGETRAIN_INLINE inline
#define EDGETRAIN_INLINE_LAMBDA
#endif

// These helpers always inline into their ISA clone; in the baseline one GCC passes 64-byte
// vectors in memory, which is what -Wpsabi warns about.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace edgetrain::ops {

// "AVX2" for the hand-written x86 code (the GEMM's AVX2 micro-kernel and helpers, the fused
// convolution's avx2 kernel set), said once: the target it is compiled for and the run-time test
// that lets it run. The clones' x86-64-v3 level asks for more (BMI1/2, F16C, LZCNT, MOVBE), which
// every CPU made with AVX2 and FMA also has, so both choose the same CPUs.
#if defined(__GNUC__) && defined(__x86_64__)
#define EDGETRAIN_AVX2_TARGET __attribute__((target("avx2,fma")))
inline bool cpu_runs_avx2_target() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

// 16 floats as one value, with GCC/Clang vector extensions: one AVX-512 register, two AVX2 ones or
// four SSE ones, whichever the enclosing clone targets. Operators work lane-wise, a float operand
// broadcasts, and comparisons give Lanes of -1 (true) or 0. VecN<W> / LanesN<W> are the same with
// W lanes, for kernels tiled per register width (conv_relu_pool_kernels.cpp: 8 on AVX2).
// (Spelled out per width: GCC 12 drops vector_size from an alias template used in a template.)
template <int W>
struct VectorTypes;
template <>
struct VectorTypes<16> {
  using Floats = float __attribute__((vector_size(64)));
  using Ints = int32_t __attribute__((vector_size(64)));
};
template <>
struct VectorTypes<8> {
  using Floats = float __attribute__((vector_size(32)));
  using Ints = int32_t __attribute__((vector_size(32)));
};
template <int W>
using VecN = typename VectorTypes<W>::Floats;
template <int W>
using LanesN = typename VectorTypes<W>::Ints;
using Vec = VecN<16>;      // 16 channels
using Lanes = LanesN<16>;  // 16 channel masks or argmax values
constexpr int kLanes = 16;

template <int W = kLanes>
EDGETRAIN_INLINE VecN<W> load(const float* p) {
  VecN<W> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
EDGETRAIN_INLINE void store(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}
// Lane-wise mask ? yes : no, for float vectors (V) or integer ones (V = L): one blend (an
// AVX-512 mask move). Spelled with and/or/add, it took two masked moves and an add, on the
// dependency chain of every max-pool in the fused convolution.
template <typename L, typename V>
EDGETRAIN_INLINE V select(L mask, V yes, V no) {
  return mask ? yes : no;
}

}  // namespace edgetrain::ops
