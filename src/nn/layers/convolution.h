// What the planner's fusions need from the convolution kind.
#pragma once

#include "edgetrain/layers.h"
#include "ops/ops.h"

namespace edgetrain {

// The kernel shape of a convolution over (in_c, in_h, in_w) giving (out_c, out_h, out_w); the
// batch is filled in at run time.
ops::Conv2dShape conv2d_shape(const Convolution& conv, int in_c, int in_h, int in_w, int out_c,
                              int out_h, int out_w);

}  // namespace edgetrain
