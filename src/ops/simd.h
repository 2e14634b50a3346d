// Runtime ISA dispatch for plain loops. A function marked EDGETRAIN_VECTORIZE is compiled three
// times by GCC (AVX-512, AVX2+FMA, baseline x86-64) and the loader picks the best clone the CPU
// runs (an ifunc resolver), so simple loops get full-width vectors without per-ISA source. Other
// compilers and targets build the one portable version.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define EDGETRAIN_VECTORIZE __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define EDGETRAIN_VECTORIZE
#endif
