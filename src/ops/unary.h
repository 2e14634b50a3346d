// Core ML's element-wise `unary` functions and `clip`, over n values of any shape. Forward keeps
// nothing; backward reads the forward input and ADDS into dinput (the ops' accumulation rule).
#pragma once

#include <cstddef>

#include "edgetrain/layers.h"

namespace edgetrain::ops {

// out = f(scale · in + shift) with f, alpha and epsilon as UnaryFunction (layers.h) describes.
void unary_forward(float* out, const float* in, size_t n, const UnaryFunction& function);
// dinput += f'(scale · in + shift) · scale · dout. Where f has no derivative (sqrt, log, power at
// 0 with alpha below 1) the gradient is what IEEE arithmetic gives (infinite or NaN), as PyTorch's.
void unary_backward(float* dinput, const float* dout, const float* in, size_t n,
                    const UnaryFunction& function);

// out = min(max(in, low), high).
void clip_forward(float* out, const float* in, size_t n, float low, float high);
// dinput += dout where low < in < high; at the bounds themselves (kinks) it adds nothing.
void clip_backward(float* dinput, const float* dout, const float* in, size_t n, float low,
                   float high);

}  // namespace edgetrain::ops
