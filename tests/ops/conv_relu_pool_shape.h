// The fused convolution's shape for tests: a valid (unpadded, stride-1) convolution followed by a
// pool_height x pool_width max-pool of the same stride, whose output is floor(conv_out / pool).
#pragma once

#include "ops/ops.h"

namespace edgetrain::ops::testing {

inline ConvReluPoolShape conv_relu_pool_shape(int batch, int in_channels, int in_height,
                                              int in_width, int out_channels, int kernel_height,
                                              int kernel_width, int pool_height = 2,
                                              int pool_width = 2) {
  ConvReluPoolShape s;
  Conv2dShape& c = s.conv;
  c.batch = batch;
  c.in_channels = in_channels, c.in_height = in_height, c.in_width = in_width;
  c.out_channels = out_channels;
  c.kernel_height = kernel_height, c.kernel_width = kernel_width;
  c.out_height = in_height - kernel_height + 1, c.out_width = in_width - kernel_width + 1;
  s.pool_height = pool_height, s.pool_width = pool_width;
  s.out_height = c.out_height / pool_height, s.out_width = c.out_width / pool_width;
  return s;
}

// Square input and kernel, 2x2 pool.
inline ConvReluPoolShape square_conv_relu_pool_shape(int batch, int in_channels, int size,
                                                     int out_channels, int kernel) {
  return conv_relu_pool_shape(batch, in_channels, size, size, out_channels, kernel, kernel);
}

}  // namespace edgetrain::ops::testing
