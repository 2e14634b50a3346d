#include "train/optimizer.h"

#include <cmath>

#include "ops/adam.h"
#include "ops/simd.h"

namespace edgetrain {
namespace {

// Parts 2.. are added into part 0 and zeroed, leaving one part; the steps below then read one or
// two parts in a single vectorised pass.
void fold_extra_parts(GradientParts gradients, size_t n) {
  float* sum = gradients.parts[0];
  for (int t = 2; t < gradients.count; ++t) {
    float* part = gradients.parts[t];
    for (size_t i = 0; i < n; ++i) sum[i] += part[i], part[i] = 0.0f;
  }
}

EDGETRAIN_VECTORIZE
void sgd_kernel(float* __restrict parameters, float* __restrict first, float* __restrict second,
                float* __restrict velocity, size_t n, float lr, float mu, bool first_step) {
  for (size_t i = 0; i < n; ++i) {
    const float g = second == nullptr ? first[i] : first[i] + second[i];
    first[i] = 0.0f;
    if (second != nullptr) second[i] = 0.0f;
    if (mu == 0.0f) {
      parameters[i] -= lr * g;
    } else {
      velocity[i] = first_step ? g : mu * velocity[i] + g;
      parameters[i] -= lr * velocity[i];
    }
  }
}

}  // namespace

void adam_step(float* parameters, GradientParts gradients, float* m, float* v, size_t n,
               double learning_rate, double beta1, double beta2, double eps, int64_t step) {
  fold_extra_parts(gradients, n);
  const double correction1 = 1.0 - std::pow(beta1, double(step));
  const double correction2 = 1.0 - std::pow(beta2, double(step));
  const ops::AdamConstants constants{float(learning_rate / correction1),
                                     float(std::sqrt(correction2)),
                                     float(beta1),
                                     float(beta2),
                                     float(eps),
                                     float(1.0 - beta1),
                                     float(1.0 - beta2)};
  // Adds (first + second) in that order, as fold_extra_parts left them.
  ops::adam_update(parameters, gradients.parts[0],
                   gradients.count > 1 ? gradients.parts[1] : nullptr, m, v, n, constants);
}

EDGETRAIN_VECTORIZE
void decay_weights(float* __restrict parameters, size_t n, double learning_rate, double decay) {
  const float keep = float(1.0 - learning_rate * decay);
  for (size_t i = 0; i < n; ++i) parameters[i] *= keep;
}

EDGETRAIN_VECTORIZE
void add_l2_gradient(float* __restrict gradient, const float* __restrict parameters, size_t n,
                     double decay) {
  const float d = float(decay);
  for (size_t i = 0; i < n; ++i) gradient[i] += d * parameters[i];
}

EDGETRAIN_VECTORIZE
void add_proximal_term(float* __restrict gradient, const float* __restrict parameters,
                       const float* __restrict center, size_t n, float mu) {
  for (size_t i = 0; i < n; ++i) gradient[i] += mu * (parameters[i] - center[i]);
}

void sgd_step(float* parameters, GradientParts gradients, float* velocity, size_t n,
              double learning_rate, double momentum, bool first_step) {
  fold_extra_parts(gradients, n);
  sgd_kernel(parameters, gradients.parts[0], gradients.count > 1 ? gradients.parts[1] : nullptr,
             velocity, n, float(learning_rate), float(momentum), first_step);
}

}  // namespace edgetrain
