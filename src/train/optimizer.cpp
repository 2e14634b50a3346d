#include "train/optimizer.h"

#include <cmath>

#include "ops/simd.h"

namespace edgetrain {

EDGETRAIN_VECTORIZE
void adam_step(float* parameters, const float* gradients, float* m, float* v, size_t n,
               double learning_rate, double beta1, double beta2, double eps, int64_t step) {
  const double correction1 = 1.0 - std::pow(beta1, double(step));
  const double correction2 = 1.0 - std::pow(beta2, double(step));
  const float step_size = float(learning_rate / correction1);
  const float correction2_sqrt = float(std::sqrt(correction2));
  const float b1 = float(beta1), b2 = float(beta2), e = float(eps);
  const float one_minus_b1 = float(1.0 - beta1), one_minus_b2 = float(1.0 - beta2);
  for (size_t i = 0; i < n; ++i) {
    const float g = gradients[i];
    m[i] = m[i] * b1 + g * one_minus_b1;
    v[i] = v[i] * b2 + g * g * one_minus_b2;
    const float denominator = std::sqrt(v[i]) / correction2_sqrt + e;
    parameters[i] -= step_size * (m[i] / denominator);
  }
}

EDGETRAIN_VECTORIZE
void sgd_step(float* parameters, const float* gradients, float* velocity, size_t n,
              double learning_rate, double momentum, bool first_step) {
  const float lr = float(learning_rate), mu = float(momentum);
  if (mu == 0.0f) {
    for (size_t i = 0; i < n; ++i) parameters[i] -= lr * gradients[i];
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    velocity[i] = first_step ? gradients[i] : mu * velocity[i] + gradients[i];
    parameters[i] -= lr * velocity[i];
  }
}

}  // namespace edgetrain
