// Inner product (fully connected), forward and backward, on the blocked GEMM.
//
// Forward keeps nothing; backward takes the forward input and the weight again.
//   out     (N, O)  = in (N, I) · weightᵀ (I, O) + bias     weight (O, I) as Core ML stores it
//   dinput  (N, I) += dout (N, O) · weight (O, I)
//   dweight (O, I) += doutᵀ (O, N) · in (N, I)
//   dbias   (O)    += Σ_n dout[n]
// With Products::kBfloat16 all three products round their operands to bf16 (mixed precision:
// the weights, their gradient and the optimizer state stay fp32 in the caller's buffers).
#include <algorithm>
#include <cassert>
#include <cstddef>

#include "ops/gemm_bf16.h"
#include "ops/ops.h"

namespace edgetrain::ops {
void inner_product_forward(float* out, const float* in, const float* weight, const float* bias,
                           int batch, int in_features, int out_features, Products products,
                           Part part) {
  assert(batch >= 0 && in_features >= 0 && out_features >= 0);
  // This part's outputs [begin, end) of each row: weight rows [begin, end), a narrower GEMM whose
  // C keeps the full row stride.
  const Range outputs = part_range(out_features, part, 4);
  const int width = outputs.end - outputs.begin;
  if (width == 0) return;
  out += outputs.begin;
  weight += size_t(outputs.begin) * in_features;
  // Start every row from the bias and let the GEMM accumulate onto it.
  if (bias != nullptr) {
    for (int n = 0; n < batch; ++n)
      std::copy(bias + outputs.begin, bias + outputs.end, out + size_t(n) * out_features);
  }
  gemm_with_products(products, out, in, weight, batch, width, in_features, Transpose::kNo,
                     Transpose::kYes, bias != nullptr ? 1.0f : 0.0f, in_features, in_features,
                     out_features);
}

void inner_product_backward(float* dinput, float* dweight, float* dbias, const float* dout,
                            const float* in, const float* weight, int batch, int in_features,
                            int out_features, Products products, bool dweight_zero) {
  assert(batch >= 0 && in_features >= 0 && out_features >= 0);
  if (dinput != nullptr) {
    gemm_with_products(products, dinput, dout, weight, batch, in_features, out_features,
                       Transpose::kNo, Transpose::kNo, 1.0f, out_features, in_features,
                       in_features);
  }
  if (dweight != nullptr) {
    gemm_with_products(products, dweight, dout, in, out_features, in_features, batch,
                       Transpose::kYes, Transpose::kNo, dweight_zero ? 0.0f : 1.0f, out_features,
                       in_features, in_features);
  }
  if (dbias != nullptr) {
    for (int n = 0; n < batch; ++n) {
      const float* row = dout + size_t(n) * out_features;
      for (int o = 0; o < out_features; ++o) dbias[o] += row[o];
    }
  }
}

void inner_product_weight_gradient(float* dweight, const DenseBatchPart* parts, int part_count,
                                   int in_features, int out_features, Products products,
                                   bool dweight_zero, Part rows) {
  assert(part_count >= 0 && in_features >= 0 && out_features >= 0);
  // Blocks of 128 rows: the GEMM then reads each part's inputs (B, stored (K, N)) in place instead
  // of packing them, and a block's result (LeNet's hidden1: 128 x 1152, 590 KB) stays in L2 while
  // every part adds to it.
  constexpr int kRowBlock = 128;
  const Range outputs = part_range(out_features, rows, 8);
  for (int row = outputs.begin; row < outputs.end; row += kRowBlock) {
    const int height = std::min(kRowBlock, outputs.end - row);
    bool holds_sum = !dweight_zero;  // the block holds what the next part adds to
    for (int p = 0; p < part_count; ++p) {
      if (parts[p].batch == 0) continue;
      gemm_with_products(products, dweight + size_t(row) * in_features, parts[p].dout + row,
                         parts[p].in, height, in_features, parts[p].batch, Transpose::kYes,
                         Transpose::kNo, holds_sum ? 1.0f : 0.0f, out_features, in_features,
                         in_features);
      holds_sum = true;
    }
  }
}

}  // namespace edgetrain::ops
