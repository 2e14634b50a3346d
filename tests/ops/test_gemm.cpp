// GEMM: the blocked kernel (every ISA path this CPU supports) against the triple-loop reference,
// over edge-case and random shapes, all transpose combinations, padded strides and both betas.
#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "base/rng.h"
#include "gemm_test_case.h"
#include "ops/gemm_internal.h"
#include "ops/ops.h"

namespace edgetrain::ops {
namespace {

using gemm_internal::Isa;

// Runs one case through `isa` (or the public gemm() when use_public) and the reference; checks
// every element within a k-scaled rounding bound and that the row padding of C is untouched.
void check_case(const GemmCase& g, Isa isa, bool use_public, uint64_t seed) {
  SCOPED_TRACE(describe(g) + " isa=" + (use_public ? "public" : gemm_internal::isa_name(isa)));
  const GemmOperands operands(g, seed);
  const int lda = operands.lda, ldb = operands.ldb, ldc = operands.ldc;
  const std::vector<float>& a = operands.a;
  const std::vector<float>& b = operands.b;
  const std::vector<float>& c_initial = operands.c_initial;
  const bool ta = g.transpose_a == Transpose::kYes, tb = g.transpose_b == Transpose::kYes;
  std::vector<float> c_fast = c_initial, c_ref = c_initial;
  if (use_public) {
    gemm(c_fast.data(), a.data(), b.data(), g.m, g.n, g.k, g.transpose_a, g.transpose_b, g.beta,
         lda, ldb, ldc);
  } else {
    gemm_internal::gemm_with_isa(isa, c_fast.data(), a.data(), b.data(), g.m, g.n, g.k,
                                 g.transpose_a, g.transpose_b, g.beta, lda, ldb, ldc);
  }
  gemm_reference(c_ref.data(), a.data(), b.data(), g.m, g.n, g.k, g.transpose_a, g.transpose_b,
                 g.beta, lda, ldb, ldc);

  int failures = 0;
  for (int i = 0; i < g.m && failures < 5; ++i) {
    for (int j = 0; j < ldc && failures < 5; ++j) {
      const size_t at = size_t(i) * ldc + j;
      if (j >= g.n) {
        if (c_fast[at] != c_initial[at]) {
          ADD_FAILURE() << "padding of C changed at (" << i << "," << j << ")";
          ++failures;
        }
        continue;
      }
      // Both sides round k products and sums: bound the difference by ~2k ulps of Σ|a·b|.
      double magnitude = g.beta == 0.0f ? 0.0 : std::fabs(c_initial[at]);
      for (int p = 0; p < g.k; ++p) {
        const float a_ip = ta ? a[size_t(p) * lda + i] : a[size_t(i) * lda + p];
        const float b_pj = tb ? b[size_t(j) * ldb + p] : b[size_t(p) * ldb + j];
        magnitude += std::fabs(double(a_ip) * b_pj);
      }
      const double tolerance = (2.0 * g.k + 4.0) * FLT_EPSILON * magnitude;
      if (!(std::fabs(double(c_fast[at]) - c_ref[at]) <= tolerance)) {
        ADD_FAILURE() << "C(" << i << "," << j << "): fast " << c_fast[at] << " reference "
                      << c_ref[at] << " tolerance " << tolerance;
        ++failures;
      }
    }
  }
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (Isa isa : gemm_internal::kAllIsas)
    if (gemm_internal::isa_supported(isa)) isas.push_back(isa);
  return isas;
}

// The micro-kernel set behind an ISA: the portable one, or the architecture's (null if missing).
const gemm_internal::MicroKernel* kernel_for(Isa isa) {
  return isa == Isa::kPortable ? &gemm_internal::portable_micro_kernel()
                               : gemm_internal::architecture_micro_kernel(isa);
}

constexpr Transpose kNo = Transpose::kNo, kYes = Transpose::kYes;

TEST(Gemm, EdgeShapesAllTransposesAndBetas) {
  const int shapes[][3] = {{0, 5, 7},    {5, 0, 7},    {5, 7, 0},    {0, 0, 0},   {1, 1, 1},
                           {1, 13, 7},   {13, 1, 7},   {7, 7, 1},    {7, 13, 31}, {31, 67, 13},
                           {67, 31, 67}, {8, 32, 256}, {9, 33, 257}, {16, 64, 5}, {2, 500, 3}};
  uint64_t seed = 1;
  for (Isa isa : supported_isas())
    for (const auto& s : shapes)
      for (Transpose ta : {kNo, kYes})
        for (Transpose tb : {kNo, kYes})
          for (float beta : {0.0f, 1.0f})
            check_case({s[0], s[1], s[2], ta, tb, beta}, isa, false, seed++);
}

TEST(Gemm, StridedOperands) {
  uint64_t seed = 100;
  for (Isa isa : supported_isas())
    for (Transpose ta : {kNo, kYes})
      for (Transpose tb : {kNo, kYes})
        for (float beta : {0.0f, 1.0f}) {
          check_case({13, 31, 7, ta, tb, beta, 3, 5, 2}, isa, false, seed++);
          check_case({67, 7, 45, ta, tb, beta, 1, 0, 9}, isa, false, seed++);
        }
}

TEST(Gemm, LargeShapeCrossesEveryCacheBlock) {
  // 129 x 257 x 300 crosses the kc, mc and (with nc 1024 not) nc blocks and leaves edges
  // everywhere.
  uint64_t seed = 200;
  for (Isa isa : supported_isas())
    for (Transpose ta : {kNo, kYes})
      for (Transpose tb : {kNo, kYes})
        for (float beta : {0.0f, 1.0f})
          check_case({129, 257, 300, ta, tb, beta, 1, 2, 3}, isa, false, seed++);
  check_case({40, 1100, 20, kNo, kNo, 0.0f}, supported_isas().back(), false, seed++);
}

TEST(Gemm, RandomShapes) {
  Rng rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    GemmCase g{int(rng.below(90)),        int(rng.below(90)),        int(rng.below(90)),
               rng.below(2) ? kYes : kNo, rng.below(2) ? kYes : kNo, rng.below(2) ? 1.0f : 0.0f,
               int(rng.below(4)),         int(rng.below(4)),         int(rng.below(4))};
    for (Isa isa : supported_isas()) check_case(g, isa, false, 1000 + trial);
  }
}

TEST(Gemm, PublicEntryPointAtTrainingShapes) {
  // The shapes the LeNet-style trainer runs: conv forward, dweight, dcol, dense forward, dweight.
  check_case({32, 676, 9, kNo, kNo, 0.0f}, Isa::kPortable, true, 1);
  check_case({32, 169, 128, kNo, kNo, 1.0f}, Isa::kPortable, true, 2);
  check_case({32, 128, 169, kNo, kYes, 1.0f}, Isa::kPortable, true, 3);
  check_case({128, 169, 32, kYes, kNo, 0.0f}, Isa::kPortable, true, 4);
  check_case({64, 500, 1152, kNo, kYes, 1.0f}, Isa::kPortable, true, 5);
  check_case({500, 1152, 64, kYes, kNo, 1.0f}, Isa::kPortable, true, 6);
}

// The architecture's own kernels are built and chosen: NEON on aarch64, AVX-512 or AVX2 on x86-64
// when the CPU has them, never another architecture's.
TEST(Gemm, TheArchitecturesKernelsAreBuiltAndChosen) {
  using gemm_internal::isa_supported;
#if defined(__aarch64__)
  EXPECT_TRUE(isa_supported(Isa::kNeon));
  EXPECT_EQ(gemm_internal::best_isa(), Isa::kNeon);
  EXPECT_FALSE(isa_supported(Isa::kAvx2) || isa_supported(Isa::kAvx512));
#elif defined(__x86_64__)
  EXPECT_FALSE(isa_supported(Isa::kNeon));
  EXPECT_EQ(isa_supported(Isa::kAvx512), bool(__builtin_cpu_supports("avx512f")));
#endif
  EXPECT_TRUE(isa_supported(Isa::kPortable));
}

// The few-rows path's four-at-once dot (x read once for four rows of B) must give each row the
// bits of the single dot it replaces, over every tail length and a padded row stride: training and
// inference results do not depend on which of the two ran.
TEST(Gemm, FourDotsAtOnceGiveEachSingleDotsBits) {
  int kernels_with_dot4 = 0;
  for (Isa isa : supported_isas()) {
    const gemm_internal::MicroKernel* kernel = kernel_for(isa);
    ASSERT_NE(kernel, nullptr);
    if (!kernel->dot4) continue;
    ++kernels_with_dot4;
    for (int k : {0, 1, 7, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 1152}) {
      SCOPED_TRACE(std::string(gemm_internal::isa_name(isa)) + " k=" + std::to_string(k));
      const size_t ldy = size_t(k) + 3;
      std::vector<float> x(size_t(k) + 1), y(4 * ldy);
      Rng rng(uint64_t(k) + 7);
      for (float& v : x) v = 2.0f * rng.uniform() - 1.0f;
      for (float& v : y) v = 2.0f * rng.uniform() - 1.0f;
      float four[4];
      kernel->dot4(x.data(), y.data(), ldy, k, four);
      for (int r = 0; r < 4; ++r) {
        const float one = kernel->dot(x.data(), y.data() + r * ldy, k);
        EXPECT_EQ(std::bit_cast<uint32_t>(four[r]), std::bit_cast<uint32_t>(one)) << "row " << r;
      }
    }
  }
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) {
    EXPECT_GT(kernels_with_dot4, 0);
  }
#endif
}

// Every kernel's transposing pack writes exactly the portable pack's bytes and nothing past the
// block's rows: over row counts up to the panel width, depths around the 8-deep steps, and a
// padded source stride (the x86 one transposes eight rows at a time, the rest falls back).
TEST(Gemm, TransposingPacksWriteThePortablePacksBytes) {
  for (Isa isa : supported_isas()) {
    const gemm_internal::MicroKernel* kernel = kernel_for(isa);
    ASSERT_NE(kernel, nullptr);
    for (int width : {kernel->mr, kernel->nr}) {
      for (int rows = 0; rows <= width; ++rows) {
        for (int depth : {0, 1, 7, 8, 9, 15, 16, 17, 40, 257}) {
          SCOPED_TRACE(std::string(gemm_internal::isa_name(isa)) +
                       " width=" + std::to_string(width) + " rows=" + std::to_string(rows) +
                       " depth=" + std::to_string(depth));
          const size_t ld = size_t(depth) + 5;
          std::vector<float> source(size_t(rows) * ld + 1);
          Rng rng(uint64_t(rows * 1000 + depth));
          for (float& v : source) v = 2.0f * rng.uniform() - 1.0f;
          // Unwritten places keep a sentinel: the pack leaves rows >= `rows` of each step alone.
          const float sentinel = -777.0f;
          std::vector<float> expected(size_t(width) * depth, sentinel), packed = expected;
          gemm_internal::pack_transposed_portable(expected.data(), width, source.data() + 1, ld,
                                                  rows, depth);
          kernel->pack_transposed(packed.data(), width, source.data() + 1, ld, rows, depth);
          ASSERT_EQ(packed, expected);
          if (rows > 0 && depth > 0) {
            EXPECT_EQ(expected[size_t(depth - 1) * width + rows - 1],
                      source[1 + size_t(rows - 1) * ld + depth - 1]);
          }
          if (rows < width && depth > 0) {
            EXPECT_EQ(expected[rows], sentinel);
          }
        }
      }
    }
  }
}

// Rows [first, first + rows) of `shape` (m rows, more than any row block) computed alone, for each
// count in `row_counts`, give the bits of the same rows of the whole product.
void expect_rows_alone_give_the_whole_products_bits(Isa isa, const GemmCase& shape,
                                                    std::initializer_list<int> row_counts) {
  SCOPED_TRACE(describe(shape) + " isa=" + gemm_internal::isa_name(isa));
  const int first = 5;
  const GemmOperands operands(shape, 31);
  std::vector<float> whole = operands.c_initial;
  gemm_internal::gemm_with_isa(isa, whole.data(), operands.a.data(), operands.b.data(), shape.m,
                               shape.n, shape.k, shape.transpose_a, shape.transpose_b, shape.beta,
                               operands.lda, operands.ldb, operands.ldc);
  // A's rows (or columns, transposed) from `first`.
  const float* a = shape.transpose_a == kYes ? operands.a.data() + first
                                             : operands.a.data() + size_t(first) * operands.lda;
  for (int rows : row_counts) {
    ASSERT_LE(first + rows, shape.m);
    std::vector<float> alone = operands.c_initial;
    float* c = alone.data() + size_t(first) * operands.ldc;
    gemm_internal::gemm_with_isa(isa, c, a, operands.b.data(), rows, shape.n, shape.k,
                                 shape.transpose_a, shape.transpose_b, shape.beta, operands.lda,
                                 operands.ldb, operands.ldc);
    for (int i = first; i < first + rows; ++i) {
      for (int j = 0; j < shape.n; ++j) {
        const size_t at = size_t(i) * operands.ldc + j;
        ASSERT_EQ(std::bit_cast<uint32_t>(alone[at]), std::bit_cast<uint32_t>(whole[at]))
            << "rows=" << rows << " C(" << i << "," << j << ")";
      }
    }
  }
}

// With one block of rows (m <= mc) a B stored (K, N) is read in place, not packed (gemm.cpp);
// beyond it, packed. Each element sums the same products in the same order either way, so rows
// computed alone (more than kSmallRows, which take the unpacked dot-product path) give the bits of
// the same rows inside a product of more rows than a block: over LeNet's dense input gradient
// (1152 x 500: two depth blocks) and an edge shape (a right-edge panel that is still packed, three
// depth blocks, padded strides), both betas, A plain and transposed.
TEST(Gemm, BReadInPlaceGivesThePackedPathsBits) {
  const int tall = 257;  // rows: above every kernel's mc (asserted below)
  for (Isa isa : supported_isas()) {
    const gemm_internal::MicroKernel* kernel = kernel_for(isa);
    ASSERT_NE(kernel, nullptr);
    ASSERT_GT(tall, kernel->mc);
    for (const GemmCase& shape : {GemmCase{tall, 1152, 500, kNo, kNo, 0.0f},
                                  GemmCase{tall, 77, 600, kNo, kNo, 1.0f, 2, 3, 1},
                                  GemmCase{tall, 77, 600, kYes, kNo, 0.0f, 1, 5, 0}}) {
      expect_rows_alone_give_the_whole_products_bits(
          isa, shape, {gemm_internal::kSmallRows + 1, kernel->mr + 1, 64, kernel->mc});
    }
  }
}

// Up to 128 rows against a B stored (N, K) with more columns than rows are computed as Cᵀ =
// B·op(A)ᵀ, B read in place by the kernels that can (gemm.cpp, gemm_swapped); taller products take
// the blocked path. The same products in the same order, so the same bits: over LeNet's dense
// forward at 1 and 2 threads (128 and 64 x 500 x 1152, bias as beta 1, five depth blocks), a B of
// 2,100 rows (three chunks of Cᵀ, the last short), an edge shape (a last row panel of B shorter
// than mr, a last column panel of Cᵀ narrower than nr, three depth blocks, padded strides) with A
// plain and transposed, both betas.
TEST(Gemm, SwappedProductGivesTheBlockedPathsBits) {
  const int tall = 257;  // rows: beyond the swapped path's 128
  int kernels_that_swap = 0;
  for (Isa isa : supported_isas()) {
    const gemm_internal::MicroKernel* kernel = kernel_for(isa);
    ASSERT_NE(kernel, nullptr);
    if (kernel->a_in_place_by_rows[1] == nullptr) continue;
    ++kernels_that_swap;
    for (const GemmCase& shape : {GemmCase{tall, 500, 1152, kNo, kYes, 1.0f},
                                  GemmCase{tall, 2100, 70, kNo, kYes, 1.0f, 0, 1, 2},
                                  GemmCase{tall, 77, 600, kNo, kYes, 0.0f, 2, 3, 1},
                                  GemmCase{tall, 77, 600, kYes, kYes, 1.0f, 1, 5, 0}}) {
      expect_rows_alone_give_the_whole_products_bits(
          isa, shape, {gemm_internal::kSmallRows + 1, kernel->mr + 1, 40, 64, 128});
    }
  }
  // Both x86 kernels have the in-place entry point: where either runs, the swapped path is tested.
  if (gemm_internal::isa_supported(Isa::kAvx2) || gemm_internal::isa_supported(Isa::kAvx512)) {
    EXPECT_GT(kernels_that_swap, 0);
  }
}

TEST(Gemm, ZeroDepthClearsOrKeepsC) {
  std::vector<float> c(6, std::numeric_limits<float>::quiet_NaN());
  gemm(c.data(), nullptr, nullptr, 2, 3, 0, kNo, kNo, 0.0f, 1, 3, 3);
  for (float x : c) EXPECT_EQ(x, 0.0f);
  std::vector<float> d{1, 2, 3, 4, 5, 6};
  gemm(d.data(), nullptr, nullptr, 2, 3, 0, kNo, kNo, 1.0f, 1, 3, 3);
  EXPECT_EQ(d, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

}  // namespace
}  // namespace edgetrain::ops
