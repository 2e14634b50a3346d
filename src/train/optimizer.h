// Optimizer steps over a contiguous run of parameters, element-wise (so a step can be split across
// threads at any boundary and still give the same bits).
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgetrain {

// Adam as PyTorch computes it: m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
// p -= lr / (1-β1^t) · m / (sqrt(v) / sqrt(1-β2^t) + ε). `step` counts from 1.
void adam_step(float* parameters, const float* gradients, float* m, float* v, size_t n,
               double learning_rate, double beta1, double beta2, double eps, int64_t step);

// SGD with momentum as PyTorch computes it: b = μ·b + g (b = g on the first step); p -= lr·b.
void sgd_step(float* parameters, const float* gradients, float* velocity, size_t n,
              double learning_rate, double momentum, bool first_step);

}  // namespace edgetrain
