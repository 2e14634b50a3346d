// Adam's per-value update, the optimizer's inner loop (train/optimizer.cpp sums the gradient parts
// and works out the constants). It lives in ops beside the other kernels because it has an
// ISA-specific version: on x86 with AVX-512 the new parameters are written with streaming stores.
//
// Why: in data-parallel training every thread reads all parameters in its forward pass, so when a
// thread steps its share of them, their cache lines are shared with the other cores; an ordinary
// store must first take each line back from them (a read-for-ownership per line), and on the
// 2-core Zen 4 machine that made the step 4x slower on two threads than its share on one (0.6-0.85
// ms per thread per LeNet step against 0.2). Streaming stores skip that read. The other arrays
// (moments, gradient parts) keep ordinary stores: streaming them measured slower.
#pragma once

#include <cstddef>

namespace edgetrain::ops {

struct AdamConstants {
  float step_size;         // learning_rate / (1 - beta1^t)
  float correction2_sqrt;  // sqrt(1 - beta2^t)
  float b1, b2, e, one_minus_b1, one_minus_b2;
};

// For i < n, with g = first[i] (+ second[i] when second is not null):
//   m = b1·m + (1-b1)·g;  v = b2·v + (1-b2)·g²;
//   p -= step_size · m / (sqrt(v) / correction2_sqrt + e)
// and first[i] (and second[i]) set to zero. The arrays must not overlap. Picks the streaming
// kernel where the CPU has it. Every value gets the same fused multiply-adds there (see
// adam_x86.cpp), so its bits do not depend on where a value falls in the run.
void adam_update(float* parameters, float* first, float* second, float* m, float* v, size_t n,
                 const AdamConstants& c);

// The plain loop, vectorised by the compiler per ISA: the reference the kernel is tested against.
// It agrees to rounding, not bit for bit: the compiler contracts its vector body into the
// kernel's fused multiply-adds but rounds its scalar remainder (the last n mod 16 values) apart.
void adam_update_reference(float* parameters, float* first, float* second, float* m, float* v,
                           size_t n, const AdamConstants& c);

// The AVX-512 streaming-store kernel (adam_x86.cpp). Returns false, doing nothing, where the CPU or
// the build has no such kernel.
bool adam_update_streaming(float* parameters, float* first, float* second, float* m, float* v,
                           size_t n, const AdamConstants& c);

}  // namespace edgetrain::ops
