// One GEMM test case and its operands, shared by the fp32 (test_gemm.cpp) and bf16
// (test_gemm_bf16.cpp) GEMM tests: the shape, the transposes, beta and the padding of each
// operand's stored rows.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "base/rng.h"
#include "ops/ops.h"

namespace edgetrain::ops {

struct GemmCase {
  int m, n, k;
  Transpose transpose_a, transpose_b;
  float beta;
  int lda_pad = 0, ldb_pad = 0, ldc_pad = 0;  // extra floats per stored row
};

inline std::string describe(const GemmCase& g) {
  return "m=" + std::to_string(g.m) + " n=" + std::to_string(g.n) + " k=" + std::to_string(g.k) +
         " ta=" + (g.transpose_a == Transpose::kYes ? "T" : "N") +
         " tb=" + (g.transpose_b == Transpose::kYes ? "T" : "N") +
         " beta=" + std::to_string(g.beta) + " pads=" + std::to_string(g.lda_pad) + "," +
         std::to_string(g.ldb_pad) + "," + std::to_string(g.ldc_pad);
}

// A case's operands as stored, uniform in [-1, 1) from `seed` (A, then B, then C): row strides with
// the case's padding, one spare element past each, and C's starting values, NaN inside the tile
// when beta is 0 (it must not be read) and finite in the padding (it must stay untouched).
struct GemmOperands {
  int lda, ldb, ldc;
  std::vector<float> a, b, c_initial;

  GemmOperands(const GemmCase& g, uint64_t seed) {
    Rng rng(seed);
    auto random_vector = [&rng](size_t size) {
      std::vector<float> v(size);
      for (float& x : v) x = 2.0f * rng.uniform() - 1.0f;
      return v;
    };
    const bool ta = g.transpose_a == Transpose::kYes, tb = g.transpose_b == Transpose::kYes;
    lda = (ta ? g.m : g.k) + g.lda_pad;
    ldb = (tb ? g.k : g.n) + g.ldb_pad;
    ldc = g.n + g.ldc_pad;
    a = random_vector(size_t(ta ? g.k : g.m) * lda + 1);
    b = random_vector(size_t(tb ? g.n : g.k) * ldb + 1);
    c_initial = random_vector(size_t(g.m) * ldc + 1);
    if (g.beta == 0.0f)
      for (int i = 0; i < g.m; ++i)
        for (int j = 0; j < g.n; ++j)
          c_initial[size_t(i) * ldc + j] = std::numeric_limits<float>::quiet_NaN();
  }
};

}  // namespace edgetrain::ops
