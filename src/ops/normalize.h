// Normalisations that divide each value by a statistic of its neighbours: L2 normalisation of
// whole blocks and local response normalisation across channels. Forward keeps nothing; backward
// recomputes the statistic from the forward input and ADDS into dinput.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgetrain::ops {

// out = in / sqrt(Σ in² + epsilon) over each row; in, out (rows, size).
void l2_normalize_forward(float* out, const float* in, int64_t rows, int64_t size, float epsilon);
void l2_normalize_backward(float* dinput, const float* dout, const float* in, int64_t rows,
                           int64_t size, float epsilon);

// Local response normalisation over (rows, channels, plane):
// out[c] = in[c] / (k + alpha / size · Σ in[j]²)^beta, j over the `size` channels centred on c
// (size odd) that exist.
struct LrnShape {
  int64_t rows = 1;
  int channels = 1;
  int64_t plane = 1;
  int size = 1;
  float alpha = 1e-4f, beta = 0.75f, k = 1.0f;
};
// Scratch floats forward and backward need: prefix sums over channels (double) and the scale.
size_t lrn_scratch_floats(const LrnShape& shape);
void lrn_forward(float* out, const float* in, const LrnShape& shape, float* scratch);
void lrn_backward(float* dinput, const float* dout, const float* in, const LrnShape& shape,
                  float* scratch);

}  // namespace edgetrain::ops
