// Flatten (N, C, H, W) → (N, C*H*W), forward and backward, and the transpose it (and the fused
// convolution's layout changes) run on. Keeps nothing.
//
// Channel-first is a plain copy. Channel-last (Core ML's FlattenOrder CHANNEL_LAST) transposes each
// sample to (H, W, C) first: out[n][(h*W + w)*C + c] = in[n][c][h][w]. Backward is the inverse
// permutation, added into dinput.
#include <cstddef>

#include "ops/ops.h"
#include "ops/simd.h"

namespace edgetrain::ops {

EDGETRAIN_VECTORIZE
void transpose_matrix(float* __restrict to, const float* __restrict from, int rows, int cols,
                      bool accumulate) {
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      float& cell = to[size_t(c) * rows + r];
      const float value = from[size_t(r) * cols + c];
      cell = accumulate ? cell + value : value;
    }
  }
}

void flatten_forward(float* out, const float* in, int batch, int channels, int height, int width,
                     bool channel_last) {
  const size_t plane = size_t(height) * width;
  const size_t sample = plane * channels;
  if (!channel_last) {
    for (size_t i = 0; i < sample * batch; ++i) out[i] = in[i];
    return;
  }
  for (int n = 0; n < batch; ++n) {  // (C, H*W) → (H*W, C)
    transpose_matrix(out + n * sample, in + n * sample, channels, int(plane), false);
  }
}

void flatten_backward(float* dinput, const float* dout, int batch, int channels, int height,
                      int width, bool channel_last) {
  if (dinput == nullptr) return;
  const size_t plane = size_t(height) * width;
  const size_t sample = plane * channels;
  if (!channel_last) {
    for (size_t i = 0; i < sample * batch; ++i) dinput[i] += dout[i];
    return;
  }
  for (int n = 0; n < batch; ++n) {  // (H*W, C) → (C, H*W), added
    transpose_matrix(dinput + n * sample, dout + n * sample, int(plane), channels, true);
  }
}

}  // namespace edgetrain::ops
