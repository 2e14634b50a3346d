// The inner product's op, for kinds that compute the same product (batchedMatmul with one input).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "nn/op.h"
#include "ops/ops.h"

namespace edgetrain {

// out (n · rows_per_sample, out_features) = in (n · rows_per_sample, in_features) · weightsᵀ +
// bias, weights (out_features, in_features) and bias (out_features) at these offsets of the
// parameter block; they get gradients when `trains`; `products` as NetworkOptions::products.
std::unique_ptr<Op> make_inner_product_op(int64_t rows_per_sample, int in_features,
                                          int out_features, size_t weights,
                                          std::optional<size_t> bias, bool trains,
                                          ops::Products products);

}  // namespace edgetrain
