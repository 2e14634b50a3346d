// Softmax over the channel axis of (N, C, inner), inner = H*W; forward and backward.
//
// Forward subtracts each column's maximum before exponentiating, so no exp overflows and the
// largest term is exactly 1. Forward keeps its output: backward is
//   dinput[c] += out[c] * (dout[c] - Σ_c' dout[c'] * out[c']).
#include <cassert>
#include <cmath>
#include <cstddef>

#include "ops/ops.h"

namespace edgetrain::ops {

void softmax_forward(float* out, const float* in, int batch, int channels, int inner) {
  assert(batch >= 0 && channels >= 1 && inner >= 0);
  const size_t sample = size_t(channels) * inner;
  for (int n = 0; n < batch; ++n) {
    for (int s = 0; s < inner; ++s) {
      // One softmax over channels: elements n*sample + c*inner + s for c in [0, C).
      const float* x = in + n * sample + s;
      float* y = out + n * sample + s;
      float max_value = x[0];
      for (int c = 1; c < channels; ++c) max_value = std::fmax(max_value, x[size_t(c) * inner]);
      float sum = 0.0f;
      for (int c = 0; c < channels; ++c) {
        const float e = std::exp(x[size_t(c) * inner] - max_value);
        y[size_t(c) * inner] = e;
        sum += e;
      }
      const float scale = 1.0f / sum;  // sum >= 1: the maximum contributes exp(0)
      for (int c = 0; c < channels; ++c) y[size_t(c) * inner] *= scale;
    }
  }
}

void softmax_backward(float* dinput, const float* dout, const float* out, int batch, int channels,
                      int inner) {
  assert(batch >= 0 && channels >= 1 && inner >= 0);
  if (dinput == nullptr) return;
  const size_t sample = size_t(channels) * inner;
  for (int n = 0; n < batch; ++n) {
    for (int s = 0; s < inner; ++s) {
      const size_t base = n * sample + s;
      float dot = 0.0f;
      for (int c = 0; c < channels; ++c) {
        const size_t at = base + size_t(c) * inner;
        dot += dout[at] * out[at];
      }
      for (int c = 0; c < channels; ++c) {
        const size_t at = base + size_t(c) * inner;
        dinput[at] += out[at] * (dout[at] - dot);
      }
    }
  }
}

}  // namespace edgetrain::ops
