// What the planner's fusions need from the pooling kind.
#pragma once

#include <memory>

#include "edgetrain/layers.h"
#include "nn/layers/classic.h"
#include "nn/op.h"
#include "ops/ops.h"

namespace edgetrain {

// The kernel shape of a pooling layer from (C, H, W) to its output; batch filled at run time.
ops::Pool2dShape pool2d_shape(const Pooling& pool, const Chw& in, const Chw& out);
// Max pooling; `masks_relu`: its input is an in-place ReLU's output read by nothing else, so the
// pool masks its own output gradient by (pooled value > 0), which is the ReLU's mask at every
// argmax, and the ReLU's backward is left out of the plan.
std::unique_ptr<Op> max_pool_op(const ops::Pool2dShape& shape, int64_t outer, bool masks_relu);

}  // namespace edgetrain
