// Internals of the mixed-precision GEMM (gemm_bf16.cpp: blocking, dispatch; the architecture's
// file: packing that rounds to bf16, and the micro-kernels), shared with the tests.
//
// The packed layout is the one vdpbf16ps multiplies: each 32-bit word holds the bf16 values of two
// consecutive k steps, k = 2q in the low half and k = 2q + 1 in the high half (zero past an odd
// depth). An instruction then adds, per fp32 lane, a[2q]·b[2q] + a[2q+1]·b[2q+1]. Only x86-64 has
// a kernel (gemm_bf16_x86.cpp, AVX512-BF16 checked at run time); elsewhere gemm_bf16.cpp says none.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ops/gemm_internal.h"

namespace edgetrain::ops::gemm_internal {

using Bf16Pair = uint32_t;

// Packs `depth` k steps of `count` vectors (rows of op(A) or columns of op(B)) into
// ceil(depth / 2) pair steps of `width` words: dst[q * width + x] = the pair (x, 2q), (x, 2q + 1)
// for x < count, and zero words for count <= x < width, so kernels can run full-width vectors.
//   k-major source: element (p, x) at src[p * ld + x] (A stored (K, M), B stored (K, N))
//   x-major source: element (x, p) at src[x * ld + p] (A stored (M, K), B stored (N, K))
using Bf16PackFn = void (*)(Bf16Pair* dst, int width, const float* src, size_t ld, int count,
                            int depth);

// One tile of C, rows x cols with rows <= mr (the table index) and cols <= nr, over k_pairs pair
// steps of a packed A panel (mr words a step) and B panel (nr words a step). accumulate=false
// overwrites C without reading it; true adds to it.
using Bf16MicroKernelFn = void (*)(int k_pairs, const Bf16Pair* a_panel, const Bf16Pair* b_panel,
                                   float* c, int ldc, int cols, bool accumulate);

struct Bf16MicroKernel {
  int mr, nr;      // register tile
  int kc, mc, nc;  // cache blocks: depth in k steps (even, so pairs never straddle blocks), rows
                   // of the packed A block, columns of the packed B block
  Bf16MicroKernelFn by_rows[kMaxRows + 1];  // by_rows[r] computes a tile of r rows
  // Right-edge tiles of at most narrow_nr columns use these; they skip the panel's last vectors.
  int narrow_nr;
  Bf16MicroKernelFn narrow_by_rows[kMaxRows + 1];
  Bf16PackFn pack_k_major, pack_x_major;
};

// The kernel this CPU runs, or null (no AVX512-BF16, or a build for another architecture).
const Bf16MicroKernel* architecture_bf16_micro_kernel();

}  // namespace edgetrain::ops::gemm_internal
