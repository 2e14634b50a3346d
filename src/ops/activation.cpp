// Element-wise activations over n values, forward and backward.
//
// Forward keeps its output: every backward here is written in terms of `out` (ReLU's mask is
// out > 0, which equals in > 0; sigmoid' = out(1 - out); tanh' = 1 - out²), so the input need not
// be kept. Linear keeps nothing.
#include <cmath>
#include <cstddef>

#include "ops/ops.h"
#include "ops/simd.h"

namespace edgetrain::ops {

EDGETRAIN_VECTORIZE
void relu_forward(float* out, const float* in, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

EDGETRAIN_VECTORIZE
void relu_backward(float* dinput, const float* dout, const float* out, size_t n) {
  if (dinput == nullptr) return;
  for (size_t i = 0; i < n; ++i) dinput[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

// A select, not a branch: whether a unit is cut is data, and mispredicting it costs more than the
// whole vectorised pass.
EDGETRAIN_VECTORIZE
void relu_backward_in_place(float* grad, const float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) grad[i] = out[i] > 0.0f ? grad[i] : 0.0f;
}

void sigmoid_forward(float* out, const float* in, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    // exp of a non-positive argument only: no overflow for large |x|.
    const float e = std::exp(-std::fabs(in[i]));
    out[i] = in[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
}

void sigmoid_backward(float* dinput, const float* dout, const float* out, size_t n) {
  if (dinput == nullptr) return;
  for (size_t i = 0; i < n; ++i) dinput[i] += dout[i] * out[i] * (1.0f - out[i]);
}

void tanh_forward(float* out, const float* in, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
}

void tanh_backward(float* dinput, const float* dout, const float* out, size_t n) {
  if (dinput == nullptr) return;
  for (size_t i = 0; i < n; ++i) dinput[i] += dout[i] * (1.0f - out[i] * out[i]);
}

void linear_forward(float* out, const float* in, size_t n, float alpha, float beta) {
  for (size_t i = 0; i < n; ++i) out[i] = alpha * in[i] + beta;
}

void linear_backward(float* dinput, const float* dout, size_t n, float alpha) {
  if (dinput == nullptr) return;
  for (size_t i = 0; i < n; ++i) dinput[i] += alpha * dout[i];
}

}  // namespace edgetrain::ops
