// GEMM: C(M,N) = beta * C + op(A) · op(B), row-major (see ops.h).
//
// The fast path is the classic packed, cache-blocked scheme (Goto / BLIS):
//   for each column block of C (nc wide)
//     for each depth block (kc deep): pack op(B) into nr-wide k-major panels
//       for each row block (mc tall): pack op(A) into mr-tall k-major panels
//         for each (mr x nr) tile: the micro-kernel runs over the kc slice in registers.
// Packing turns all four transpose combinations and any lda/ldb into one contiguous layout, so the
// micro-kernels (gemm_kernels.cpp) see unit-stride data only. Two cases read an operand in place
// instead: a B stored (K, N) when there is one block of rows, and a B stored (N, K) against at
// most 128 rows, computed as Cᵀ (gemm_swapped). Single-threaded: the trainer parallelises over the
// batch, so the packing buffers are per thread.
#include <algorithm>
#include <cassert>

#if defined(__SSE2__)
#include <xmmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#include "ops/gemm_internal.h"
#include "ops/ops.h"

namespace edgetrain::ops {

void gemm_reference(float* c, const float* a, const float* b, int m, int n, int k,
                    Transpose transpose_a, Transpose transpose_b, float beta, int lda, int ldb,
                    int ldc) {
  assert(m >= 0 && n >= 0 && k >= 0);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      float sum = 0.0f;
      for (int p = 0; p < k; ++p) {
        const float a_ip =
            transpose_a == Transpose::kNo ? a[size_t(i) * lda + p] : a[size_t(p) * lda + i];
        const float b_pj =
            transpose_b == Transpose::kNo ? b[size_t(p) * ldb + j] : b[size_t(j) * ldb + p];
        sum += a_ip * b_pj;
      }
      float& out = c[size_t(i) * ldc + j];
      // beta 0 must not read C: 0 * NaN would leak garbage into the result.
      out = beta == 0.0f ? sum : beta * out + sum;
    }
  }
}

namespace gemm_internal {
namespace {

// 4x4 register transposes for pack_transposed_portable (SSE is part of the x86-64 baseline, NEON
// of aarch64's).
#if defined(__SSE2__)
inline void transpose_4x4(float* dst, size_t dst_stride, const float* s0, const float* s1,
                          const float* s2, const float* s3) {
  __m128 v0 = _mm_loadu_ps(s0), v1 = _mm_loadu_ps(s1), v2 = _mm_loadu_ps(s2), v3 = _mm_loadu_ps(s3);
  _MM_TRANSPOSE4_PS(v0, v1, v2, v3);  // v_q now holds element q of rows 0..3
  _mm_storeu_ps(dst, v0);
  _mm_storeu_ps(dst + dst_stride, v1);
  _mm_storeu_ps(dst + 2 * dst_stride, v2);
  _mm_storeu_ps(dst + 3 * dst_stride, v3);
}
#define EDGETRAIN_HAS_TRANSPOSE_4X4 1
#elif defined(__ARM_NEON)
inline void transpose_4x4(float* dst, size_t dst_stride, const float* s0, const float* s1,
                          const float* s2, const float* s3) {
  // trn pairs rows 0,1 and 2,3: {a0 b0 a2 b2}, {a1 b1 a3 b3}, {c0 d0 c2 d2}, {c1 d1 c3 d3}.
  const float32x4x2_t t01 = vtrnq_f32(vld1q_f32(s0), vld1q_f32(s1));
  const float32x4x2_t t23 = vtrnq_f32(vld1q_f32(s2), vld1q_f32(s3));
  vst1q_f32(dst, vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])));
  vst1q_f32(dst + dst_stride, vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])));
  vst1q_f32(dst + 2 * dst_stride,
            vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])));
  vst1q_f32(dst + 3 * dst_stride,
            vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])));
}
#define EDGETRAIN_HAS_TRANSPOSE_4X4 1
#endif

// Packs op(A)[row0 : row0+rows, p0 : p0+depth] into panels of mr rows: panel i starts at
// dst + i*depth and holds, for each k step, the mr values of its rows (a short last panel leaves
// its unused rows unwritten; the micro-kernel for that row count never reads them).
void pack_a(const MicroKernel& kernel, float* dst, const float* a, Transpose transpose_a, int lda,
            int row0, int rows, int p0, int depth) {
  const int mr = kernel.mr;
  for (int i = 0; i < rows; i += mr) {
    const int panel_rows = std::min(mr, rows - i);
    float* panel = dst + size_t(i) * depth;
    if (transpose_a == Transpose::kNo) {
      // A stored (M, K): the panel is the transpose of a (panel_rows, depth) block of A.
      kernel.pack_transposed(panel, mr, a + size_t(row0 + i) * lda + p0, lda, panel_rows, depth);
    } else {
      // A stored (K, M): each k step of the panel is a contiguous run of A, mr floats: a loop the
      // compiler vectorises beats a memcpy call per run.
      for (int p = 0; p < depth; ++p) {
        const float* src = a + size_t(p0 + p) * lda + row0 + i;
        float* out = panel + size_t(p) * mr;
        for (int row = 0; row < panel_rows; ++row) out[row] = src[row];
      }
    }
  }
}

// Packs op(B)[p0 : p0+depth, col0 : col0+cols] into panels of nr columns: panel j starts at
// dst + j*depth and holds, for each k step, nr values (zero past the last column, so the
// micro-kernel can always run full-width vectors without picking up garbage or NaN).
void pack_b(const MicroKernel& kernel, float* dst, const float* b, Transpose transpose_b, int ldb,
            int p0, int depth, int col0, int cols) {
  const int nr = kernel.nr;
  for (int j = 0; j < cols; j += nr) {
    const int panel_cols = std::min(nr, cols - j);
    float* panel = dst + size_t(j) * depth;
    if (transpose_b == Transpose::kNo) {
      // B stored (K, N): each k step of the panel is a contiguous run of B.
      for (int p = 0; p < depth; ++p) {
        const float* src = b + size_t(p0 + p) * ldb + col0 + j;
        float* out = panel + size_t(p) * nr;
        // A few dozen floats per step: a loop the compiler vectorises beats a memcpy call.
        for (int col = 0; col < panel_cols; ++col) out[col] = src[col];
        for (int col = panel_cols; col < nr; ++col) out[col] = 0.0f;
      }
    } else {
      // B stored (N, K): the panel is the transpose of a (panel_cols, depth) block of B.
      kernel.pack_transposed(panel, nr, b + size_t(col0 + j) * ldb + p0, ldb, panel_cols, depth);
      if (panel_cols < nr) {
        for (int p = 0; p < depth; ++p)
          std::fill(panel + size_t(p) * nr + panel_cols, panel + size_t(p + 1) * nr, 0.0f);
      }
    }
  }
}

// C = beta * C, for the cases the micro-kernels do not cover (k == 0, or beta not 0 or 1).
void scale_c(float* c, int m, int n, int ldc, float beta) {
  for (int i = 0; i < m; ++i) {
    float* row = c + size_t(i) * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else {
      for (int j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

// Few rows against a B stored (N, K), more columns than rows: a dense layer's forward over one
// thread's share of a batch (LeNet's hidden1 at 2 threads: C (64, 500) = in (64, 1152) · Wᵀ, W
// stored (500, 1152)). The blocked path packs all of B transposed (2.3 MB, once per thread and
// step) to use each panel for one run of row tiles. Here Cᵀ (N, M) = B · op(A)ᵀ instead: B is the
// left operand, read in place a row per register-tile row, and op(A)ᵀ, M columns, is what gets
// packed; Cᵀ goes through a per-thread buffer, transposed from C when beta is 1 and into C at the
// end. Each element is the same products (a·b = b·a exactly) summed in the same order (a depth
// block from zero, then added to C), so the bits are the blocked path's. The x86 kernels have an
// in-place entry point; NEON's loads A four rows to a vector, so it and the portable kernel keep
// the blocked path. Bench, one thread, medians of 5, alternated: 64 x 500 x 1152 813/809 -> 725/707
// µs; with the weights flushed from the caches first (as the optimizer's streaming stores leave
// them), best of 200, 830 -> 715-720 µs; 32 x 128 x 169 15.8/15.6 -> 14.0/13.5 µs. With 128 rows
// (LeNet's batch on one thread) warm within noise (1,432/1,527 against 1,542/1,518 µs), flushed
// 1,491-1,508 -> 1,352-1,431 µs.
constexpr int kSwapMaxRows = 128;

bool swapping_pays(const MicroKernel& kernel, int m, int n, Transpose transpose_b) {
  return transpose_b == Transpose::kYes && kernel.a_in_place_by_rows[1] != nullptr &&
         m <= kSwapMaxRows && n > m;
}

void gemm_swapped(const MicroKernel& kernel, float* c, const float* a, const float* b, int m, int n,
                  int k, Transpose transpose_a, float beta, int lda, int ldb, int ldc) {
  const int mr = kernel.mr, nr = kernel.nr;
  const int kc_max = std::min(kernel.kc, k);
  const int mc_max = std::max(kernel.mc / mr, 1) * mr;
  // Cᵀ's rows (C's columns) in chunks of nc, so the buffers stay bounded whatever B's size: at
  // most nc x 128 floats of Cᵀ and one depth block of op(A)ᵀ.
  const int chunk_max = std::min(kernel.nc, n);
  thread_local GrowingAlignedBuffer<float> transposed_c_buffer, packed_buffer;
  float* transposed_c = transposed_c_buffer.reserve(size_t(chunk_max) * m);  // row stride m
  float* packed = packed_buffer.reserve(size_t((m + nr - 1) / nr * nr) * kc_max);
  // op(A)ᵀ (k, m): A stored (M, K) read transposed, or A stored (K, M) read as it is.
  const Transpose transpose_at = transpose_a == Transpose::kNo ? Transpose::kYes : Transpose::kNo;
  for (int jc = 0; jc < n; jc += chunk_max) {
    const int chunk = std::min(chunk_max, n - jc);
    if (beta != 0.0f) kernel.pack_transposed(transposed_c, m, c + jc, size_t(ldc), m, chunk);
    for (int pc = 0; pc < k; pc += kc_max) {
      const int kc = std::min(kc_max, k - pc);
      const bool accumulate = beta != 0.0f || pc > 0;
      pack_b(kernel, packed, a, transpose_at, lda, pc, kc, 0, m);
      for (int ic = 0; ic < chunk; ic += mc_max) {
        const int mc = std::min(mc_max, chunk - ic);
        for (int jr = 0; jr < m; jr += nr) {
          const int cols = std::min(nr, m - jr);
          for (int ir = 0; ir < mc; ir += mr) {
            const int rows = std::min(mr, mc - ir);
            kernel.a_in_place_by_rows[rows](
                kc, b + size_t(jc + ic + ir) * ldb + pc, size_t(ldb), packed + size_t(jr) * kc,
                size_t(nr), transposed_c + size_t(ic + ir) * m + jr, m, cols, accumulate);
          }
        }
      }
    }
    kernel.pack_transposed(c + jc, ldc, transposed_c, size_t(m), chunk, m);
  }
}

void gemm_blocked(const MicroKernel& kernel, float* c, const float* a, const float* b, int m, int n,
                  int k, Transpose transpose_a, Transpose transpose_b, float beta, int lda, int ldb,
                  int ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || (beta != 0.0f && beta != 1.0f)) {
    scale_c(c, m, n, ldc, beta);
    if (k == 0) return;
    beta = 1.0f;
  }
  if (m <= kSmallRows && transpose_a == Transpose::kNo) {
    gemm_small_rows(kernel, c, a, b, m, n, k, transpose_b, beta != 0.0f, lda, ldb, ldc);
    return;
  }
  if (swapping_pays(kernel, m, n, transpose_b)) {
    gemm_swapped(kernel, c, a, b, m, n, k, transpose_a, beta, lda, ldb, ldc);
    return;
  }
  const int mr = kernel.mr, nr = kernel.nr;
  // Row and column blocks hold whole panels (the packing writes full mr / nr strides); shrink them
  // to the problem so small products do not touch big buffers.
  const int kc_max = std::min(kernel.kc, k);
  const int nc_max = std::min(std::max(kernel.nc / nr, 1) * nr, (n + nr - 1) / nr * nr);
  const int mc_max = std::min(std::max(kernel.mc / mr, 1) * mr, (m + mr - 1) / mr * mr);
  thread_local GrowingAlignedBuffer<float> a_buffer, b_buffer;
  float* packed_a = a_buffer.reserve(size_t(mc_max) * kc_max);
  float* packed_b = b_buffer.reserve(size_t(nc_max) * kc_max);

  // With one block of rows each B panel is used by one run of row tiles, straight after it is
  // packed, so a B stored (K, N) is read where it is: packing would copy it (the weights of a dense
  // layer's input gradient, 2.3 MB for LeNet's hidden1, once per thread per step) to save nothing.
  // Only a right-edge panel narrower than nr is packed, for its zero padding.
  const bool b_in_place = transpose_b == Transpose::kNo && m <= mc_max;
  for (int jc = 0; jc < n; jc += nc_max) {
    const int nc = std::min(nc_max, n - jc);
    const int packed_from = b_in_place ? nc / nr * nr : 0;  // columns before it are read in place
    for (int pc = 0; pc < k; pc += kc_max) {
      const int kc = std::min(kc_max, k - pc);
      // The first depth block overwrites C when beta is 0; later ones add to it.
      const bool accumulate = beta != 0.0f || pc > 0;
      if (packed_from < nc) {
        pack_b(kernel, packed_b, b, transpose_b, ldb, pc, kc, jc + packed_from, nc - packed_from);
      }
      for (int ic = 0; ic < m; ic += mc_max) {
        const int mc = std::min(mc_max, m - ic);
        pack_a(kernel, packed_a, a, transpose_a, lda, ic, mc, pc, kc);
        for (int jr = 0; jr < nc; jr += nr) {
          const int cols = std::min(nr, nc - jr);
          const bool in_place = jr < packed_from;
          const float* b_panel =
              in_place ? b + size_t(pc) * ldb + jc + jr : packed_b + size_t(jr - packed_from) * kc;
          const size_t b_stride = in_place ? size_t(ldb) : size_t(nr);
          const MicroKernelFn* by_rows =
              cols <= kernel.narrow_nr ? kernel.narrow_by_rows : kernel.by_rows;
          for (int ir = 0; ir < mc; ir += mr) {
            const int rows = std::min(mr, mc - ir);
            float* c_tile = c + size_t(ic + ir) * ldc + jc + jr;
            by_rows[rows](kc, packed_a + size_t(ir) * kc, b_panel, b_stride, c_tile, ldc, cols,
                          accumulate);
          }
        }
      }
    }
  }
}

// The kernel for a supported ISA.
const MicroKernel& micro_kernel(Isa isa) {
  const MicroKernel* kernel = architecture_micro_kernel(isa);
  return kernel != nullptr ? *kernel : portable_micro_kernel();
}

}  // namespace

// PackTransposedFn (gemm_internal.h). Strided scalar stores would dominate small GEMMs, so whole
// groups of four rows go through 4x4 register transposes; the rest is copied value by value.
void pack_transposed_portable(float* dst, int width, const float* src, size_t ld, int rows,
                              int depth) {
  int r = 0;
#if defined(EDGETRAIN_HAS_TRANSPOSE_4X4)
  for (; r + 4 <= rows; r += 4) {
    const float* s0 = src + r * ld;
    const float* s1 = s0 + ld;
    const float* s2 = s1 + ld;
    const float* s3 = s2 + ld;
    int p = 0;
    for (; p + 4 <= depth; p += 4) {  // k steps p..p+3 of rows r..r+3
      transpose_4x4(dst + size_t(p) * width + r, size_t(width), s0 + p, s1 + p, s2 + p, s3 + p);
    }
    for (; p < depth; ++p) {
      float* out = dst + size_t(p) * width + r;
      out[0] = s0[p], out[1] = s1[p], out[2] = s2[p], out[3] = s3[p];
    }
  }
#endif
  for (; r < rows; ++r) {
    const float* row = src + r * ld;
    for (int p = 0; p < depth; ++p) dst[size_t(p) * width + r] = row[p];
  }
}

#if !defined(__x86_64__) && !defined(__aarch64__)
// No architecture file in this build (CMakeLists.txt): the portable kernel only.
const MicroKernel* architecture_micro_kernel(Isa) {
  return nullptr;
}
#endif

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kPortable:
      return "portable";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kNeon:
      return "neon";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  return isa == Isa::kPortable || architecture_micro_kernel(isa) != nullptr;
}

Isa best_isa() {
  // Widest first: AVX-512, AVX2, NEON (only one of the x86 and arm sets exists in a build).
  static const Isa isa = isa_supported(Isa::kAvx512) ? Isa::kAvx512
                         : isa_supported(Isa::kAvx2) ? Isa::kAvx2
                         : isa_supported(Isa::kNeon) ? Isa::kNeon
                                                     : Isa::kPortable;
  return isa;
}

void gemm_with_isa(Isa isa, float* c, const float* a, const float* b, int m, int n, int k,
                   Transpose transpose_a, Transpose transpose_b, float beta, int lda, int ldb,
                   int ldc) {
  assert(isa_supported(isa));
  gemm_blocked(micro_kernel(isa), c, a, b, m, n, k, transpose_a, transpose_b, beta, lda, ldb, ldc);
}

}  // namespace gemm_internal

void gemm(float* c, const float* a, const float* b, int m, int n, int k, Transpose transpose_a,
          Transpose transpose_b, float beta, int lda, int ldb, int ldc) {
  assert(m >= 0 && n >= 0 && k >= 0);
  static const gemm_internal::MicroKernel& kernel =
      gemm_internal::micro_kernel(gemm_internal::best_isa());
  gemm_internal::gemm_blocked(kernel, c, a, b, m, n, k, transpose_a, transpose_b, beta, lda, ldb,
                              ldc);
}

}  // namespace edgetrain::ops
