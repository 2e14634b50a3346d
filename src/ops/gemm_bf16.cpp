// Mixed-precision GEMM: C(M,N) = beta * C + op(A) · op(B), row-major (see gemm_bf16.h), with A and B
// rounded to bf16 while they are packed and the products summed in fp32 (issue #14: does bf16 pay
// on a CPU with AVX512-BF16, whose vdpbf16ps does twice the multiply-adds of an fp32 FMA?).
//
// The blocking is gemm.cpp's (Goto / BLIS): column blocks of nc, depth blocks of kc, row blocks of
// mc, register tiles of mr x nr. Packing differs: it rounds each value to bf16 and stores two
// consecutive k steps per 32-bit word (gemm_bf16_internal.h), which halves the packed buffers.
#include <algorithm>
#include <cassert>
#include <cstring>

#include "edgetrain/error.h"
#include "ops/gemm_bf16.h"
#include "ops/gemm_bf16_internal.h"
#include "ops/ops.h"

namespace edgetrain::ops {

uint16_t round_to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint32_t exponent = bits & 0x7F800000u;
  // Zero and denormals: a signed zero, as vcvtne2ps2bf16 treats denormal inputs as zero.
  if (exponent == 0) return uint16_t((bits >> 16) & 0x8000u);
  if (exponent == 0x7F800000u) {
    // A NaN whose payload sits only in the low half would truncate to infinity: set the quiet bit.
    if ((bits & 0x007FFFFFu) != 0) return uint16_t((bits >> 16) | 0x0040u);
    return uint16_t(bits >> 16);  // infinity
  }
  // Adding 0x7FFF plus the kept half's lowest bit carries into the kept half exactly when the
  // dropped half is above one half, or equal to it with an odd kept half: ties go to even. A carry
  // out of the largest finite values lands on infinity, as rounding requires.
  const uint32_t kept_lowest_bit = (bits >> 16) & 1u;
  return uint16_t((bits + 0x7FFFu + kept_lowest_bit) >> 16);
}

float bf16_to_float(uint16_t bits) {
  const uint32_t widened = uint32_t(bits) << 16;
  float value;
  std::memcpy(&value, &widened, sizeof(value));
  return value;
}

void gemm_bf16_reference(float* c, const float* a, const float* b, int m, int n, int k,
                         Transpose transpose_a, Transpose transpose_b, float beta, int lda, int ldb,
                         int ldc) {
  assert(m >= 0 && n >= 0 && k >= 0);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int p = 0; p < k; ++p) {
        const float a_ip =
            transpose_a == Transpose::kNo ? a[size_t(i) * lda + p] : a[size_t(p) * lda + i];
        const float b_pj =
            transpose_b == Transpose::kNo ? b[size_t(p) * ldb + j] : b[size_t(j) * ldb + p];
        // Two 8-bit significands multiply exactly in fp32 (16 bits), barring underflow.
        sum += bf16_to_float(round_to_bf16(a_ip)) * bf16_to_float(round_to_bf16(b_pj));
      }
      float& out = c[size_t(i) * ldc + j];
      // beta 0 must not read C: 0 * NaN would leak garbage into the result.
      out = beta == 0.0f ? float(sum) : float(beta * out + sum);
    }
  }
}

namespace gemm_internal {
namespace {

int pair_steps(int depth) {
  return (depth + 1) / 2;
}

// Packs op(A)[row0 : row0+rows, p0 : p0+depth] into panels of mr rows; panel i starts at
// dst + i * pair_steps(depth) (i a multiple of mr).
void pack_a(const Bf16MicroKernel& kernel, Bf16Pair* dst, const float* a, Transpose transpose_a,
            int lda, int row0, int rows, int p0, int depth) {
  const int mr = kernel.mr;
  for (int i = 0; i < rows; i += mr) {
    const int panel_rows = std::min(mr, rows - i);
    Bf16Pair* panel = dst + size_t(i) * pair_steps(depth);
    if (transpose_a == Transpose::kNo) {  // A stored (M, K): rows run along k
      kernel.pack_x_major(panel, mr, a + size_t(row0 + i) * lda + p0, lda, panel_rows, depth);
    } else {  // A stored (K, M)
      kernel.pack_k_major(panel, mr, a + size_t(p0) * lda + row0 + i, lda, panel_rows, depth);
    }
  }
}

// Packs op(B)[p0 : p0+depth, col0 : col0+cols] into panels of nr columns, zero past the last one.
void pack_b(const Bf16MicroKernel& kernel, Bf16Pair* dst, const float* b, Transpose transpose_b,
            int ldb, int p0, int depth, int col0, int cols) {
  const int nr = kernel.nr;
  for (int j = 0; j < cols; j += nr) {
    const int panel_cols = std::min(nr, cols - j);
    Bf16Pair* panel = dst + size_t(j) * pair_steps(depth);
    if (transpose_b == Transpose::kNo) {  // B stored (K, N)
      kernel.pack_k_major(panel, nr, b + size_t(p0) * ldb + col0 + j, ldb, panel_cols, depth);
    } else {  // B stored (N, K): columns of op(B) run along k
      kernel.pack_x_major(panel, nr, b + size_t(col0 + j) * ldb + p0, ldb, panel_cols, depth);
    }
  }
}

void gemm_bf16_blocked(const Bf16MicroKernel& kernel, float* c, const float* a, const float* b,
                       int m, int n, int k, Transpose transpose_a, Transpose transpose_b,
                       float beta, int lda, int ldb, int ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || (beta != 0.0f && beta != 1.0f)) {
    // C = beta * C by the fp32 GEMM's own rule (a product of depth 0), then add the products.
    gemm(c, a, b, m, n, 0, transpose_a, transpose_b, beta, lda, ldb, ldc);
    if (k == 0) return;
    beta = 1.0f;
  }
  const int mr = kernel.mr, nr = kernel.nr;
  const int kc_max = std::min(kernel.kc, k);
  const int nc_max = std::min(std::max(kernel.nc / nr, 1) * nr, (n + nr - 1) / nr * nr);
  const int mc_max = std::min(std::max(kernel.mc / mr, 1) * mr, (m + mr - 1) / mr * mr);
  thread_local GrowingAlignedBuffer<Bf16Pair> a_buffer, b_buffer;
  Bf16Pair* packed_a = a_buffer.reserve(size_t(mc_max) * pair_steps(kc_max));  // (mc, kc/2)
  Bf16Pair* packed_b = b_buffer.reserve(size_t(nc_max) * pair_steps(kc_max));  // (kc/2, nc)

  for (int jc = 0; jc < n; jc += nc_max) {
    const int nc = std::min(nc_max, n - jc);
    for (int pc = 0; pc < k; pc += kc_max) {
      const int kc = std::min(kc_max, k - pc);  // odd only in the last depth block
      const int k_pairs = pair_steps(kc);
      const bool accumulate = beta != 0.0f || pc > 0;
      pack_b(kernel, packed_b, b, transpose_b, ldb, pc, kc, jc, nc);
      for (int ic = 0; ic < m; ic += mc_max) {
        const int mc = std::min(mc_max, m - ic);
        pack_a(kernel, packed_a, a, transpose_a, lda, ic, mc, pc, kc);
        for (int jr = 0; jr < nc; jr += nr) {
          const int cols = std::min(nr, nc - jr);
          const Bf16Pair* b_panel = packed_b + size_t(jr) * k_pairs;
          const Bf16MicroKernelFn* by_rows =
              cols <= kernel.narrow_nr ? kernel.narrow_by_rows : kernel.by_rows;
          for (int ir = 0; ir < mc; ir += mr) {
            const int rows = std::min(mr, mc - ir);
            float* c_tile = c + size_t(ic + ir) * ldc + jc + jr;
            by_rows[rows](k_pairs, packed_a + size_t(ir) * k_pairs, b_panel, c_tile, ldc, cols,
                          accumulate);
          }
        }
      }
    }
  }
}

}  // namespace

#if !defined(__x86_64__)
// No bf16 kernel for this architecture (CMakeLists.txt builds gemm_bf16_x86.cpp on x86-64 only).
const Bf16MicroKernel* architecture_bf16_micro_kernel() {
  return nullptr;
}
#endif

}  // namespace gemm_internal

bool bf16_supported() {
  return gemm_internal::architecture_bf16_micro_kernel() != nullptr;
}

void gemm_with_products(Products products, float* c, const float* a, const float* b, int m, int n,
                        int k, Transpose transpose_a, Transpose transpose_b, float beta, int lda,
                        int ldb, int ldc) {
  if (products == Products::kBfloat16) {
    gemm_bf16(c, a, b, m, n, k, transpose_a, transpose_b, beta, lda, ldb, ldc);
  } else {
    gemm(c, a, b, m, n, k, transpose_a, transpose_b, beta, lda, ldb, ldc);
  }
}

void gemm_bf16(float* c, const float* a, const float* b, int m, int n, int k, Transpose transpose_a,
               Transpose transpose_b, float beta, int lda, int ldb, int ldc) {
  assert(m >= 0 && n >= 0 && k >= 0);
  static const gemm_internal::Bf16MicroKernel* kernel =
      gemm_internal::architecture_bf16_micro_kernel();
  if (kernel == nullptr) {
    throw Error(
        "gemm_bf16: this CPU or build has no AVX512-BF16 (vdpbf16ps), so bf16_supported() is "
        "false; use the fp32 gemm() instead");
  }
  gemm_internal::gemm_bf16_blocked(*kernel, c, a, b, m, n, k, transpose_a, transpose_b, beta, lda,
                                   ldb, ldc);
}

}  // namespace edgetrain::ops
