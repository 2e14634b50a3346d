#include "ops/adam.h"

#include <cmath>

#include "ops/simd.h"

namespace edgetrain::ops {
namespace {

// The AVX-512 and AVX2 clones' vector bodies contract m·b1 + (g·(1-b1)) and v·b2 + ((g·g)·(1-b2))
// into FMAs, as the streaming kernel does; their scalar remainders round differently.
EDGETRAIN_VECTORIZE
void adam_loop(float* __restrict parameters, float* __restrict first, float* __restrict second,
               float* __restrict m, float* __restrict v, size_t n, AdamConstants c) {
  auto update = [&](size_t i, float g) EDGETRAIN_INLINE_LAMBDA {
    m[i] = m[i] * c.b1 + g * c.one_minus_b1;
    v[i] = v[i] * c.b2 + g * g * c.one_minus_b2;
    const float denominator = std::sqrt(v[i]) / c.correction2_sqrt + c.e;
    parameters[i] -= c.step_size * (m[i] / denominator);
  };
  if (second == nullptr) {
    for (size_t i = 0; i < n; ++i) {
      const float g = first[i];
      first[i] = 0.0f;
      update(i, g);
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      const float g = first[i] + second[i];
      first[i] = 0.0f, second[i] = 0.0f;
      update(i, g);
    }
  }
}

}  // namespace

void adam_update_reference(float* parameters, float* first, float* second, float* m, float* v,
                           size_t n, const AdamConstants& c) {
  adam_loop(parameters, first, second, m, v, n, c);
}

void adam_update(float* parameters, float* first, float* second, float* m, float* v, size_t n,
                 const AdamConstants& c) {
  if (adam_update_streaming(parameters, first, second, m, v, n, c)) return;
  adam_loop(parameters, first, second, m, v, n, c);
}

#if !defined(__x86_64__)
bool adam_update_streaming(float*, float*, float*, float*, float*, size_t, const AdamConstants&) {
  return false;
}
#endif

}  // namespace edgetrain::ops
