// Batch normalisation kernels (batchnorm.h): plain loops, channel-major so each channel's
// parameters stay in registers over its plane, compiled per instruction set (simd.h).
#include "ops/batchnorm.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>

#include "ops/simd.h"

namespace edgetrain::ops {
namespace {

// The sums over a plane run in kLanes independent partial sums, added in lane order at the end: a
// single running double sum is one long chain of dependent additions (4 cycles each, measured by
// bench/roofline --networks: small_resnet's batch norm at a quarter of the L2 bandwidth), while
// the lanes vectorise. The order is fixed, so the result still depends on the values alone.
constexpr int kLanes = 8;

// (Σ a(p), Σ b(p)) over p in [0, plane).
template <typename A, typename B>
EDGETRAIN_INLINE void two_sums(int plane, A a, B b, double& sum_a, double& sum_b) {
  double lanes_a[kLanes] = {}, lanes_b[kLanes] = {};
  int p = 0;
  for (; p + kLanes <= plane; p += kLanes) {
    for (int k = 0; k < kLanes; ++k) {
      lanes_a[k] += a(p + k);
      lanes_b[k] += b(p + k);
    }
  }
  for (int k = 0; p < plane; ++p, ++k) {
    lanes_a[k] += a(p);
    lanes_b[k] += b(p);
  }
  sum_a = 0.0, sum_b = 0.0;
  for (int k = 0; k < kLanes; ++k) sum_a += lanes_a[k], sum_b += lanes_b[k];
}

}  // namespace

EDGETRAIN_VECTORIZE
void batchnorm_sums(double* sums, const float* in, int64_t rows, int channels, int plane) {
  assert(rows >= 0 && channels > 0 && plane > 0);
  for (int c = 0; c < 2 * channels; ++c) sums[c] = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < channels; ++c) {
      const float* x = in + (size_t(r) * channels + c) * plane;
      double sum, squares;
      two_sums(
          plane, [x](int p) EDGETRAIN_INLINE_LAMBDA { return double(x[p]); },
          [x](int p) EDGETRAIN_INLINE_LAMBDA { return double(x[p]) * x[p]; }, sum, squares);
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

EDGETRAIN_VECTORIZE
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

EDGETRAIN_VECTORIZE
void batchnorm_backward_sums(double* sums, const float* dout, const float* in, const float* mean,
                             const float* inv_std, int64_t rows, int channels, int plane) {
  for (int c = 0; c < 2 * channels; ++c) sums[c] = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < channels; ++c) {
      const float* x = in + (size_t(r) * channels + c) * plane;
      const float* dy = dout + (size_t(r) * channels + c) * plane;
      const double m = mean[c], s = inv_std[c];
      double sum, weighted;
      two_sums(
          plane, [dy](int p) EDGETRAIN_INLINE_LAMBDA { return double(dy[p]); },
          [=](int p) EDGETRAIN_INLINE_LAMBDA { return dy[p] * ((double(x[p]) - m) * s); }, sum,
          weighted);
      sums[c] += sum;
      sums[channels + c] += weighted;
    }
  }
}

EDGETRAIN_VECTORIZE
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

EDGETRAIN_VECTORIZE
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
