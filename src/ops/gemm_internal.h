// Internals of the blocked GEMM, shared by gemm.cpp (packing, blocking, dispatch), the per-ISA
// micro-kernels and the tests, which run every ISA path the machine supports.
//
// Which micro-kernels a build has is decided when it is configured (CMakeLists.txt picks the
// sources by target processor): gemm_kernels.cpp (portable, every build), gemm_kernels_x86.cpp
// (AVX-512 and AVX2 + FMA, chosen at run time on x86-64) or gemm_kernels_neon.cpp (aarch64, where
// NEON is always there). No file includes another architecture's intrinsics.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

#include "ops/ops.h"

namespace edgetrain::ops::gemm_internal {

enum class Isa { kPortable, kAvx2, kAvx512, kNeon };
constexpr Isa kAllIsas[] = {Isa::kPortable, Isa::kAvx2, Isa::kAvx512, Isa::kNeon};
const char* isa_name(Isa isa);

// Computes one tile of C: rows x cols with rows <= mr (chosen by the table index) and cols <= nr.
//   a_panel: op(A) rows packed k-major, mr floats per k step (only the first `rows` are read).
//   b_panel: op(B) columns k-major, nr floats per k step (zero-padded past `cols` when cols < nr),
//            b_stride floats from one k step to the next: nr when packed, ldb when B is read in
//            place (gemm.cpp: op(B) = B, whole panels, one block of rows).
//   c:       the tile's top-left element; row stride ldc.
// accumulate=false overwrites C without reading it (C may hold NaN); true adds to C.
using MicroKernelFn = void (*)(int k, const float* a_panel, const float* b_panel, size_t b_stride,
                               float* c, int ldc, int cols, bool accumulate);
// The same tile with A read where it is stored, (M, K) row-major: row r's value at k step p is
// a[r*lda + p]. The same products summed in the same order as MicroKernelFn's, so the same bits.
using InPlaceAKernelFn = void (*)(int k, const float* a, size_t lda, const float* b_panel,
                                  size_t b_stride, float* c, int ldc, int cols, bool accumulate);
// The unpacked path for a few rows of C (gemm_small.cpp): x·y over k floats, and y += alpha·x over
// n floats.
using DotFn = float (*)(const float* x, const float* y, int k);
using AxpyFn = void (*)(float* y, float alpha, const float* x, int n);
// Four dot products of x with the rows y, y + ldy, y + 2 ldy, y + 3 ldy into out[0..3], each
// bit-identical to DotFn's (x is read once for the four: the single-image GEMV is load-bound).
using Dot4Fn = void (*)(const float* x, const float* y, size_t ldy, int k, float* out);
// dst[p*width + r] = src[r*ld + p] for r < rows <= width, p < depth: a (rows, depth) block of a
// row-major matrix transposed into a k-major panel (the packing of an operand whose depth runs
// along its rows). Leaves dst[p*width + r] for r >= rows unwritten.
using PackTransposedFn = void (*)(float* dst, int width, const float* src, size_t ld, int rows,
                                  int depth);

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
  // Full-width tiles reading A in place (null where the kernel has none: gemm.cpp then packs).
  InPlaceAKernelFn a_in_place_by_rows[kMaxRows + 1];
  DotFn dot;
  AxpyFn axpy;
  Dot4Fn dot4;  // null: gemm_small calls dot four times
  PackTransposedFn pack_transposed;
};

// Fills the row-count tables: Kernel<r, kWide>::run for full-width tiles, Kernel<r, kNarrow>::run
// for right-edge tiles of at most narrow_nr columns, Kernel<r, kWide>::run_a_in_place where the
// kernel has it.
template <template <int, int> class Kernel, int kWide, int kNarrow, int... kRows>
constexpr MicroKernel make_micro_kernel(Isa isa, int mr, int nr, int narrow_nr, int kc, int mc,
                                        int nc, DotFn dot, AxpyFn axpy, Dot4Fn dot4,
                                        PackTransposedFn pack_transposed,
                                        std::integer_sequence<int, kRows...>) {
  MicroKernel kernel{isa,       mr, nr, kc,  mc,   nc,   {},
                     narrow_nr, {}, {}, dot, axpy, dot4, pack_transposed};
  ((kernel.by_rows[kRows + 1] = &Kernel<kRows + 1, kWide>::run), ...);
  ((kernel.narrow_by_rows[kRows + 1] = &Kernel<kRows + 1, kNarrow>::run), ...);
  if constexpr (requires { &Kernel<1, kWide>::run_a_in_place; }) {
    ((kernel.a_in_place_by_rows[kRows + 1] = &Kernel<kRows + 1, kWide>::run_a_in_place), ...);
  }
  return kernel;
}

// Every build has the portable kernel (gemm_kernels.cpp).
const MicroKernel& portable_micro_kernel();
// The architecture's own kernel for `isa`, or null when this build has none for it or the CPU
// lacks the instructions (defined by the architecture's kernel file, or gemm.cpp elsewhere).
const MicroKernel* architecture_micro_kernel(Isa isa);

// C = op(A)·op(B) (+ C when accumulate) for m <= kSmallRows rows with A not transposed, without
// packing: dot products against B's rows, or AXPYs of them (gemm_small.cpp), with the kernel's
// dot and axpy.
constexpr int kSmallRows = 4;
void gemm_small_rows(const MicroKernel& kernel, float* c, const float* a, const float* b, int m,
                     int n, int k, Transpose transpose_b, bool accumulate, int lda, int ldb,
                     int ldc);
float dot_portable(const float* x, const float* y, int k);
// The transposing pack every build has (4x4 register transposes where SSE or NEON exist, scalar
// otherwise); the x86 kernels' faster one must give its exact bytes.
void pack_transposed_portable(float* dst, int width, const float* src, size_t ld, int rows,
                              int depth);
void axpy_portable(float* y, float alpha, const float* x, int n);

// A 64-byte aligned buffer of T that only grows (the packed panels of A and B; one per thread and
// operand), for the fp32 GEMM (gemm.cpp) and the bf16 one (gemm_bf16.cpp).
template <typename T>
class GrowingAlignedBuffer {
 public:
  T* reserve(size_t count) {
    if (count > capacity_) {
      data_.reset(new (std::align_val_t(64)) T[count]);
      capacity_ = count;
    }
    return data_.get();
  }

 private:
  struct AlignedDelete {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<T[], AlignedDelete> data_;
  size_t capacity_ = 0;
};

bool isa_supported(Isa isa);
// The fastest ISA this CPU runs; gemm() uses it.
Isa best_isa();
// gemm() forced onto one ISA's micro-kernel; the ISA must be supported.
void gemm_with_isa(Isa isa, float* c, const float* a, const float* b, int m, int n, int k,
                   Transpose transpose_a, Transpose transpose_b, float beta, int lda, int ldb,
                   int ldc);

}  // namespace edgetrain::ops::gemm_internal
