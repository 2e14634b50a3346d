// Losses: categorical cross-entropy on probabilities (plus the fused softmax + cross-entropy
// backward) and mean squared error. Forward returns the loss, summed in double; backward adds the
// gradient of that loss into its first argument.
//
// `scale_count` is the batch size the mean divides by, so a sub-batch (one worker's share of a
// mini-batch) contributes exactly its share of the whole mini-batch's mean and gradient.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>

#include "ops/ops.h"

namespace edgetrain::ops {
namespace {

// Probabilities are clamped before the log so that a confidently wrong prediction gives a large
// finite loss instead of infinity.
constexpr float kMinProbability = 1e-12f;

}  // namespace

// probabilities (N, C), targets (N).
double cross_entropy_forward(const float* probabilities, const int32_t* targets, int batch,
                             int classes, int scale_count) {
  assert(scale_count > 0);
  double sum = 0.0;
  for (int n = 0; n < batch; ++n) {
    const int32_t t = targets[n];
    assert(t >= 0 && t < classes);
    const float p = std::max(probabilities[size_t(n) * classes + t], kMinProbability);
    sum -= std::log(double(p));
  }
  return sum / scale_count;
}

// Only the target class has a gradient: d(-log p)/dp = -1/p. The clamp is applied here too (the
// gradient of max(p, eps) is taken as 1), so a vanishing probability still gets a large, finite
// push upward rather than none.
void cross_entropy_backward(float* dprobabilities, const float* probabilities,
                            const int32_t* targets, int batch, int classes, int scale_count) {
  assert(scale_count > 0);
  if (dprobabilities == nullptr) return;
  for (int n = 0; n < batch; ++n) {
    const int32_t t = targets[n];
    assert(t >= 0 && t < classes);
    const size_t at = size_t(n) * classes + t;
    const float p = std::max(probabilities[at], kMinProbability);
    dprobabilities[at] -= float(1.0 / (double(p) * scale_count));
  }
}

// The softmax Jacobian times the cross-entropy gradient collapses to (p - onehot(t)): cheaper and,
// unlike dividing by a tiny p, numerically harmless.
void softmax_cross_entropy_backward(float* dlogits, const float* probabilities,
                                    const int32_t* targets, int batch, int classes,
                                    int scale_count) {
  assert(scale_count > 0);
  if (dlogits == nullptr) return;
  const float scale = 1.0f / float(scale_count);
  for (int n = 0; n < batch; ++n) {
    const int32_t t = targets[n];
    assert(t >= 0 && t < classes);
    const float* p = probabilities + size_t(n) * classes;
    float* d = dlogits + size_t(n) * classes;
    for (int c = 0; c < classes; ++c) d[c] += (p[c] - (c == t ? 1.0f : 0.0f)) * scale;
  }
}

// prediction, target (N, size).
double mse_forward(const float* prediction, const float* target, int batch, int size,
                   int scale_count) {
  assert(scale_count > 0);
  const size_t count = size_t(batch) * size;
  double sum = 0.0;
  for (size_t i = 0; i < count; ++i) {
    const double diff = double(prediction[i]) - target[i];
    sum += diff * diff;
  }
  return sum / (double(scale_count) * size);
}

void mse_backward(float* dprediction, const float* prediction, const float* target, int batch,
                  int size, int scale_count) {
  assert(scale_count > 0);
  if (dprediction == nullptr) return;
  const size_t count = size_t(batch) * size;
  const float scale = float(2.0 / (double(scale_count) * size));
  for (size_t i = 0; i < count; ++i) dprediction[i] += scale * (prediction[i] - target[i]);
}

}  // namespace edgetrain::ops
