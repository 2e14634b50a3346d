// Optimizer steps over a contiguous run of parameters, element-wise (so a step can be split across
// threads at any boundary and still give the same bits).
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgetrain {

// The gradient g of a run is the sum of `count` per-thread parts, added in part order (so the bits
// do not depend on timing): g[i] = ((parts[0][i] + parts[1][i]) + parts[2][i]) + ... The step
// reads each part once and leaves it zeroed for the next batch, so the gradients are never
// cleared in a separate pass over memory.
struct GradientParts {
  float* const* parts;  // each points at the run's first value in its part
  int count;
};

// Adam as PyTorch computes it: m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
// p -= lr / (1-β1^t) · m / (sqrt(v) / sqrt(1-β2^t) + ε). `step` counts from 1.
void adam_step(float* parameters, GradientParts gradients, float* m, float* v, size_t n,
               double learning_rate, double beta1, double beta2, double eps, int64_t step);

// Weight decay (TrainingOptions::weight_decay), one pass over a run before the step:
// Adam's decoupled decay, as PyTorch's AdamW: p *= 1 - learning_rate · decay.
void decay_weights(float* parameters, size_t n, double learning_rate, double decay);
// SGD's L2 decay, as PyTorch's SGD weight_decay: g += decay · p, into the first gradient part (the
// parts are summed after it).
void add_l2_gradient(float* gradient, const float* parameters, size_t n, double decay);
// FedProx's proximal gradient: gradient[i] += mu * (parameters[i] - center[i]).
void add_proximal_term(float* gradient, const float* parameters, const float* center, size_t n,
                       float mu);

// SGD with momentum as PyTorch computes it: b = μ·b + g (b = g on the first step); p -= lr·b.
void sgd_step(float* parameters, GradientParts gradients, float* velocity, size_t n,
              double learning_rate, double momentum, bool first_step);

}  // namespace edgetrain
