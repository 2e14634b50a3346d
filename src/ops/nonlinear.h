// Core ML's activations beyond ReLU, sigmoid, tanh and linear (those are in ops.h): element-wise
// over n values, or per channel over (rows, channels, plane) with per-channel alpha (and beta).
// Backward reads the forward input and ADDS into dinput, dalpha and dbeta (null: not needed).
#pragma once

#include <cstddef>

#include "edgetrain/layers.h"

namespace edgetrain::ops {

// kLeakyReLU, kThresholdedReLU, kScaledTanh, kSigmoidHard, kELU, kSoftsign, kSoftplus, with the
// scalar alpha and beta of layers.h.
void nonlinear_forward(float* out, const float* in, size_t n, ActivationType type, float alpha,
                       float beta);
void nonlinear_backward(float* dinput, const float* dout, const float* in, size_t n,
                        ActivationType type, float alpha, float beta);

// kPReLU (alpha per channel) and kParametricSoftplus (alpha and beta per channel).
void channel_nonlinear_forward(float* out, const float* in, int rows, int channels, int plane,
                               ActivationType type, const float* alpha, const float* beta);
void channel_nonlinear_backward(float* dinput, float* dalpha, float* dbeta, const float* dout,
                                const float* in, int rows, int channels, int plane,
                                ActivationType type, const float* alpha, const float* beta);

}  // namespace edgetrain::ops
