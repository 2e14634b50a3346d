// The planner's fusion pass and the helper it shares with the other passes (planner.cpp).
#pragma once

#include <vector>

#include "edgetrain/model.h"
#include "nn/plan.h"

namespace edgetrain {

// `blob` uses `with`'s buffers from now on, together with every blob already sharing `blob`'s.
void share_buffer(Plan& plan, int blob, int with);

// Convolution → in-place ReLU → max-pool (window = stride) into one op, channel-last between
// fused ops and into a channel-last flatten (which then aliases), and a max-pool after an in-place
// ReLU masking the gradient itself. `consumers` and `exposed` are per blob; the fused ops' forward
// multiplies with `products` (NetworkOptions::products).
void fuse_steps(Plan& plan, const Model& model, const std::vector<int>& consumers,
                const std::vector<char>& exposed, ops::Products products);

}  // namespace edgetrain
