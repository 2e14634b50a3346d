// Batch normalisation kernels over (rows, C, plane): rows are samples times any leading
// dimensions, plane = H·W. Statistics are taken per channel over the rows and the plane they are
// given (one row: instance normalisation), summed in double so partial sums of several threads can
// be added in a fixed order. Forward keeps, per channel, the mean and 1/sqrt(variance + ε) it used;
// backward reads them with the forward input. Backward adds (+=) into dinput, dgamma and dbeta.
#pragma once

#include <cstdint>

namespace edgetrain::ops {

// sums (2·C): [0, C) Σx and [C, 2C) Σx² per channel, over in (rows, C, plane).
void batchnorm_sums(double* sums, const float* in, int64_t rows, int channels, int plane);

// From Σx, Σx² over `count` values per channel: mean (C) and inv_std = 1 / sqrt(var + ε) (C) with
// the biased variance; `variance` (C, or null) gets the biased variance itself.
void batchnorm_statistics(float* mean, float* inv_std, double* variance, const double* sums,
                          double count, int channels, float epsilon);

// out = gamma[c] · (in − mean[c]) · inv_std[c] + beta[c]; in, out (rows, C, plane).
void batchnorm_forward(float* out, const float* in, const float* mean, const float* inv_std,
                       const float* gamma, const float* beta, int64_t rows, int channels,
                       int plane);

// sums (2·C): [0, C) Σdout and [C, 2C) Σdout·x̂ per channel, x̂ = (in − mean)·inv_std.
void batchnorm_backward_sums(double* sums, const float* dout, const float* in, const float* mean,
                             const float* inv_std, int64_t rows, int channels, int plane);

// Input gradient when mean and inv_std are constants (running statistics):
// dinput += gamma[c] · inv_std[c] · dout.
void batchnorm_backward_fixed(float* dinput, const float* dout, const float* gamma,
                              const float* inv_std, int64_t rows, int channels, int plane);

// Input gradient through statistics taken over `count` values per channel, given the sums of
// batchnorm_backward_sums over those same values:
// dinput += gamma·inv_std·(dout − Σdout / count − x̂·Σdout·x̂ / count).
void batchnorm_backward_statistics(float* dinput, const float* dout, const float* in,
                                   const float* mean, const float* inv_std, const float* gamma,
                                   const double* sums, double count, int64_t rows, int channels,
                                   int plane);

}  // namespace edgetrain::ops
