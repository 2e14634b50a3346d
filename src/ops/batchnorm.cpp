// Batch normalisation kernels (batchnorm.h): plain loops, channel-major so each channel's
// parameters stay in registers over its plane.
#include "ops/batchnorm.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>

namespace edgetrain::ops {

void batchnorm_sums(double* sums, const float* in, int64_t rows, int channels, int plane) {
  assert(rows >= 0 && channels > 0 && plane > 0);
  for (int c = 0; c < 2 * channels; ++c) sums[c] = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < channels; ++c) {
      const float* x = in + (size_t(r) * channels + c) * plane;
      double sum = 0.0, squares = 0.0;
      for (int p = 0; p < plane; ++p) {
        sum += x[p];
        squares += double(x[p]) * x[p];
      }
      sums[c] += sum;
      sums[channels + c] += squares;
    }
  }
}

void batchnorm_statistics(float* mean, float* inv_std, double* variance, const double* sums,
                          double count, int channels, float epsilon) {
  for (int c = 0; c < channels; ++c) {
    const double m = count > 0 ? sums[c] / count : 0.0;
    // E[x²] − E[x]² in double: float inputs leave ~29 bits of headroom, so this loses precision
    // only when |mean| exceeds the standard deviation ten-thousandfold.
    const double var = count > 0 ? std::max(sums[channels + c] / count - m * m, 0.0) : 0.0;
    mean[c] = float(m);
    inv_std[c] = float(1.0 / std::sqrt(var + double(epsilon)));
    if (variance) variance[c] = var;
  }
}

void batchnorm_forward(float* out, const float* in, const float* mean, const float* inv_std,
                       const float* gamma, const float* beta, int64_t rows, int channels,
                       int plane) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < channels; ++c) {
      const size_t at = (size_t(r) * channels + c) * plane;
      const float m = mean[c], scale = gamma[c] * inv_std[c], shift = beta[c];
      for (int p = 0; p < plane; ++p) out[at + p] = (in[at + p] - m) * scale + shift;
    }
  }
}

void batchnorm_backward_sums(double* sums, const float* dout, const float* in, const float* mean,
                             const float* inv_std, int64_t rows, int channels, int plane) {
  for (int c = 0; c < 2 * channels; ++c) sums[c] = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < channels; ++c) {
      const size_t at = (size_t(r) * channels + c) * plane;
      double sum = 0.0, weighted = 0.0;
      for (int p = 0; p < plane; ++p) {
        const double xhat = (double(in[at + p]) - mean[c]) * inv_std[c];
        sum += dout[at + p];
        weighted += dout[at + p] * xhat;
      }
      sums[c] += sum;
      sums[channels + c] += weighted;
    }
  }
}

void batchnorm_backward_fixed(float* dinput, const float* dout, const float* gamma,
                              const float* inv_std, int64_t rows, int channels, int plane) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < channels; ++c) {
      const size_t at = (size_t(r) * channels + c) * plane;
      const float scale = gamma[c] * inv_std[c];
      for (int p = 0; p < plane; ++p) dinput[at + p] += scale * dout[at + p];
    }
  }
}

void batchnorm_backward_statistics(float* dinput, const float* dout, const float* in,
                                   const float* mean, const float* inv_std, const float* gamma,
                                   const double* sums, double count, int64_t rows, int channels,
                                   int plane) {
  assert(count > 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < channels; ++c) {
      const size_t at = (size_t(r) * channels + c) * plane;
      const double scale = double(gamma[c]) * inv_std[c];
      const double mean_dout = sums[c] / count, mean_dout_xhat = sums[channels + c] / count;
      for (int p = 0; p < plane; ++p) {
        const double xhat = (double(in[at + p]) - mean[c]) * inv_std[c];
        dinput[at + p] += float(scale * (dout[at + p] - mean_dout - xhat * mean_dout_xhat));
      }
    }
  }
}

}  // namespace edgetrain::ops
