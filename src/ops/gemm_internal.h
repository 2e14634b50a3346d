// Internals of the blocked GEMM, shared by gemm.cpp (packing, blocking, dispatch), gemm_kernels.cpp
// (the per-ISA micro-kernels) and the tests, which run every ISA path the machine supports.
#pragma once

#include "ops/ops.h"

namespace edgetrain::ops::gemm_internal {

enum class Isa { kPortable, kAvx2, kAvx512 };

// Computes one tile of C: rows x cols with rows <= mr (chosen by the table index) and cols <= nr.
//   a_panel: op(A) rows packed k-major, mr floats per k step (only the first `rows` are read).
//   b_panel: op(B) columns packed k-major, nr floats per k step, zero-padded past `cols`.
//   c:       the tile's top-left element; row stride ldc.
// accumulate=false overwrites C without reading it (C may hold NaN); true adds to C.
using MicroKernelFn = void (*)(int k, const float* a_panel, const float* b_panel, float* c, int ldc,
                               int cols, bool accumulate);

constexpr int kMaxRows = 16;

struct MicroKernel {
  Isa isa;
  int mr, nr;      // register tile
  int kc, mc, nc;  // cache blocks: depth, rows of the packed A block, columns of the packed B block
  MicroKernelFn by_rows[kMaxRows + 1];  // by_rows[r] computes a tile of r rows, 1 <= r <= mr
  // Right-edge tiles of at most narrow_nr columns (0: none) use these cheaper kernels; they read
  // the same nr-wide panels but only compute their first narrow_nr columns.
  int narrow_nr;
  MicroKernelFn narrow_by_rows[kMaxRows + 1];
};

const MicroKernel& portable_micro_kernel();
const MicroKernel& avx2_micro_kernel();
const MicroKernel& avx512_micro_kernel();

// C = op(A)·op(B) (+ C when accumulate) for m <= kSmallRows rows with A not transposed, without
// packing: dot products against B's rows, or AXPYs of them (gemm_small.cpp).
constexpr int kSmallRows = 4;
void gemm_small_rows(Isa isa, float* c, const float* a, const float* b, int m, int n, int k,
                     Transpose transpose_b, bool accumulate, int lda, int ldb, int ldc);

bool isa_supported(Isa isa);
// The fastest ISA this CPU runs; gemm() uses it.
Isa best_isa();
// gemm() forced onto one ISA's micro-kernel; the ISA must be supported.
void gemm_with_isa(Isa isa, float* c, const float* a, const float* b, int m, int n, int k,
                   Transpose transpose_a, Transpose transpose_b, float beta, int lda, int ldb,
                   int ldc);

}  // namespace edgetrain::ops::gemm_internal
