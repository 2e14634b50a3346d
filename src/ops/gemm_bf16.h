// Mixed-precision GEMM: bf16 products, fp32 sums (gemm_bf16.cpp; issue #14). Same conventions as
// gemm() in ops.h: row-major, C = op(A) · op(B), C is (M, N), op(A) is (M, K), op(B) is (K, N).
// The dense layer calls it under --precision bf16 (ops::Products::kBfloat16 in ops.h).
#pragma once

#include <cstdint>

#include "ops/ops.h"

namespace edgetrain::ops {

// bf16 is the upper half of an fp32: the same 8-bit exponent, an 8-bit significand (7 bits
// stored), so rounding to it keeps a relative error of at most 2^-9.
//
// fp32 -> bf16, round to nearest, ties to even, exactly as AVX512-BF16's vcvtne2ps2bf16 does:
// zero and denormal inputs give a zero of the same sign, infinities stay infinities, NaN stays a
// (quiet) NaN of the same sign, finite values past bf16's largest round to infinity.
uint16_t round_to_bf16(float value);
float bf16_to_float(uint16_t bits);
// True where this build and CPU run gemm_bf16() (x86-64 with AVX512-BF16, detected at run time).
bool bf16_supported();
// C(M,N) = beta * C + op(A) · op(B) with the same arguments and conventions as gemm(), but every
// element of A and B is rounded to bf16 (round_to_bf16) before it is multiplied; the products are
// summed in fp32. Throws edgetrain::Error where bf16_supported() is false.
void gemm_bf16(float* c, const float* a, const float* b, int m, int n, int k, Transpose transpose_a,
               Transpose transpose_b, float beta, int lda, int ldb, int ldc);
// gemm() or gemm_bf16() as `products` says: the one switch every layer with a Products choice
// multiplies through (dense.cpp, conv_relu_pool.cpp).
void gemm_with_products(Products products, float* c, const float* a, const float* b, int m, int n,
                        int k, Transpose transpose_a, Transpose transpose_b, float beta, int lda,
                        int ldb, int ldc);
// The same product in plain loops (inputs rounded with round_to_bf16, sums in double): runs
// everywhere, for tests.
void gemm_bf16_reference(float* c, const float* a, const float* b, int m, int n, int k,
                         Transpose transpose_a, Transpose transpose_b, float beta, int lda, int ldb,
                         int ldc);

}  // namespace edgetrain::ops
