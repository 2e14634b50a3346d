// One GEMM test case, shared by the fp32 (test_gemm.cpp) and bf16 (test_gemm_bf16.cpp) GEMM tests:
// the shape, the transposes, beta and the padding of each operand's stored rows.
#pragma once

#include <string>

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

}  // namespace edgetrain::ops
