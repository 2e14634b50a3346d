// Flatten (N, C, H, W) → (N, C*H*W), forward and backward. Keeps nothing.
//
// Channel-first is a plain copy. Channel-last (Core ML's FlattenOrder CHANNEL_LAST) transposes each
// sample to (H, W, C) first: out[n][(h*W + w)*C + c] = in[n][c][h][w]. Backward is the inverse
// permutation, added into dinput.
#include <cstddef>

#include "ops/ops.h"

namespace edgetrain::ops {

void flatten_forward(float* out, const float* in, int batch, int channels, int height, int width,
                     bool channel_last) {
  const size_t plane = size_t(height) * width;
  const size_t sample = plane * channels;
  if (!channel_last) {
    for (size_t i = 0; i < sample * batch; ++i) out[i] = in[i];
    return;
  }
  for (int n = 0; n < batch; ++n) {
    const float* in_n = in + n * sample;  // (C, H*W)
    float* out_n = out + n * sample;      // (H*W, C)
    for (int c = 0; c < channels; ++c)
      for (size_t p = 0; p < plane; ++p) out_n[p * channels + c] = in_n[c * plane + p];
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
  for (int n = 0; n < batch; ++n) {
    float* din_n = dinput + n * sample;       // (C, H*W)
    const float* dout_n = dout + n * sample;  // (H*W, C)
    for (int c = 0; c < channels; ++c)
      for (size_t p = 0; p < plane; ++p) din_n[c * plane + p] += dout_n[p * channels + c];
  }
}

}  // namespace edgetrain::ops
