// 2-D convolution, forward and backward, via im2col + GEMM, with direct-loop reference twins.
//
// Forward keeps nothing: backward takes the forward input and weight again and rebuilds the im2col
// matrix (cheaper than keeping it for every sample). Per sample and group g, with
//   Cg = IC/G input channels, OCg = OC/G output channels, Kg = Cg*KH*KW, P = OH*OW:
//   col      (Kg, P)   = im2col(in_g)      row (c*KH + kh)*KW + kw, column oh*OW + ow
//   out_g    (OCg, P)  = W_g (OCg, Kg) · col
//   dW_g    (OCg, Kg) += dout_g (OCg, P) · colᵀ
//   dcol     (Kg, P)   = W_gᵀ · dout_g,   then col2im adds dcol back into dinput.
// Input positions outside the image (padding) read as 0 and receive no gradient.
#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstring>

#include "ops/ops.h"

namespace edgetrain::ops {
namespace {

int group_depth(const Conv2dShape& s) {
  return s.in_channels / s.groups * s.kernel_height * s.kernel_width;
}

// A 1x1, stride-1, unpadded convolution's im2col matrix is the input itself: skip the copy.
bool im2col_is_identity(const Conv2dShape& s) {
  return s.kernel_height == 1 && s.kernel_width == 1 && s.stride_height == 1 &&
         s.stride_width == 1 && s.pad_top == 0 && s.pad_left == 0 && s.out_height == s.in_height &&
         s.out_width == s.in_width;
}

// The output columns [begin, end) whose input column ow*stride - pad + kw*dilation lies in the
// image.
void valid_output_range(int out_size, int in_size, int stride, int pad, int offset, int* begin,
                        int* end) {
  // First ow with ow*stride >= pad - offset, last with ow*stride < in_size + pad - offset.
  const int low = pad - offset;
  const int high = in_size + pad - offset;  // exclusive
  int first = low <= 0 ? 0 : (low + stride - 1) / stride;
  int last = high <= 0 ? 0 : (high + stride - 1) / stride;
  *begin = std::min(first, out_size);
  *end = std::max(*begin, std::min(last, out_size));
}

// col (Kg, P) from in_g (Cg, IH, IW).
void im2col(float* col, const float* in_g, const Conv2dShape& s) {
  const int channels = s.in_channels / s.groups;
  const int plane = s.in_height * s.in_width;
  const int columns = s.out_height * s.out_width;
  for (int c = 0; c < channels; ++c) {
    const float* image = in_g + size_t(c) * plane;
    for (int kh = 0; kh < s.kernel_height; ++kh) {
      for (int kw = 0; kw < s.kernel_width; ++kw) {
        float* row = col + size_t((c * s.kernel_height + kh) * s.kernel_width + kw) * columns;
        const int w_offset = kw * s.dilation_width;
        int ow_begin, ow_end;
        valid_output_range(s.out_width, s.in_width, s.stride_width, s.pad_left, w_offset, &ow_begin,
                           &ow_end);
        for (int oh = 0; oh < s.out_height; ++oh) {
          float* out = row + size_t(oh) * s.out_width;
          const int ih = oh * s.stride_height - s.pad_top + kh * s.dilation_height;
          if (ih < 0 || ih >= s.in_height) {
            std::fill(out, out + s.out_width, 0.0f);
            continue;
          }
          // Input column of output column ow is base + ow*stride (in the image for valid ow).
          const ptrdiff_t base = ptrdiff_t(ih) * s.in_width - s.pad_left + w_offset;
          // Rows are short (tens of floats): plain loops beat memcpy/memset calls here.
          for (int ow = 0; ow < ow_begin; ++ow) out[ow] = 0.0f;
          if (s.stride_width == 1) {
            const float* from = image + (base + ow_begin);
            for (int i = 0; i < ow_end - ow_begin; ++i) out[ow_begin + i] = from[i];
          } else {
            for (int ow = ow_begin; ow < ow_end; ++ow) out[ow] = image[base + ow * s.stride_width];
          }
          for (int ow = ow_end; ow < s.out_width; ++ow) out[ow] = 0.0f;
        }
      }
    }
  }
}

// din_g (Cg, IH, IW) += col2im(col (Kg, P)); the exact adjoint of im2col.
void col2im_add(float* din_g, const float* col, const Conv2dShape& s) {
  const int channels = s.in_channels / s.groups;
  const int plane = s.in_height * s.in_width;
  const int columns = s.out_height * s.out_width;
  for (int c = 0; c < channels; ++c) {
    float* image = din_g + size_t(c) * plane;
    for (int kh = 0; kh < s.kernel_height; ++kh) {
      for (int kw = 0; kw < s.kernel_width; ++kw) {
        const float* row = col + size_t((c * s.kernel_height + kh) * s.kernel_width + kw) * columns;
        const int w_offset = kw * s.dilation_width;
        int ow_begin, ow_end;
        valid_output_range(s.out_width, s.in_width, s.stride_width, s.pad_left, w_offset, &ow_begin,
                           &ow_end);
        for (int oh = 0; oh < s.out_height; ++oh) {
          const int ih = oh * s.stride_height - s.pad_top + kh * s.dilation_height;
          if (ih < 0 || ih >= s.in_height) continue;
          const float* src = row + size_t(oh) * s.out_width;
          const ptrdiff_t base = ptrdiff_t(ih) * s.in_width - s.pad_left + w_offset;
          if (s.stride_width == 1) {
            // Unit stride: a contiguous add the compiler vectorises.
            float* dst = image + (base + ow_begin);
            const float* from = src + ow_begin;
            for (int i = 0; i < ow_end - ow_begin; ++i) dst[i] += from[i];
          } else {
            for (int ow = ow_begin; ow < ow_end; ++ow) image[base + ow * s.stride_width] += src[ow];
          }
        }
      }
    }
  }
}

// Σ row[0..count). One running float sum is a serial chain of dependent adds (and the compiler may
// not reorder float adds); 16 independent lanes vectorise and also round better.
float sum_row(const float* row, int count) {
  float lanes[16] = {};
  int p = 0;
  for (; p + 16 <= count; p += 16)
    for (int j = 0; j < 16; ++j) lanes[j] += row[p + j];
  float sum = 0.0f;
  for (; p < count; ++p) sum += row[p];
  for (float lane : lanes) sum += lane;
  return sum;
}

void assert_valid(const Conv2dShape& s) {
  assert(s.batch >= 0 && s.groups >= 1);
  assert(s.in_channels % s.groups == 0 && s.out_channels % s.groups == 0);
  assert(s.kernel_height >= 1 && s.kernel_width >= 1);
  assert(s.stride_height >= 1 && s.stride_width >= 1);
  assert(s.dilation_height >= 1 && s.dilation_width >= 1);
  assert(s.pad_top >= 0 && s.pad_left >= 0);
  (void)s;
}

}  // namespace

size_t conv2d_workspace_floats(const Conv2dShape& shape) {
  return size_t(group_depth(shape)) * shape.out_height * shape.out_width;
}

void conv2d_forward(float* out, const float* in, const float* weight, const float* bias,
                    const Conv2dShape& s, float* workspace) {
  assert_valid(s);
  const int out_group = s.out_channels / s.groups;
  const int depth = group_depth(s);
  const int columns = s.out_height * s.out_width;
  const size_t in_sample = size_t(s.in_channels) * s.in_height * s.in_width;
  const size_t in_group = in_sample / s.groups;
  const size_t out_sample = size_t(s.out_channels) * columns;
  const bool identity = im2col_is_identity(s);
  assert(identity || workspace != nullptr);
  for (int n = 0; n < s.batch; ++n) {
    float* out_n = out + n * out_sample;  // (OC, P)
    // Start from the bias and let the GEMM accumulate onto it.
    if (bias != nullptr) {
      for (int oc = 0; oc < s.out_channels; ++oc)
        std::fill(out_n + size_t(oc) * columns, out_n + size_t(oc + 1) * columns, bias[oc]);
    }
    const float beta = bias != nullptr ? 1.0f : 0.0f;
    for (int g = 0; g < s.groups; ++g) {
      const float* in_g = in + n * in_sample + g * in_group;  // (Cg, IH, IW)
      const float* col = in_g;
      if (!identity) {
        im2col(workspace, in_g, s);
        col = workspace;
      }
      const float* weight_g = weight + size_t(g) * out_group * depth;  // (OCg, Kg)
      gemm(out_n + size_t(g) * out_group * columns, weight_g, col, out_group, columns, depth,
           Transpose::kNo, Transpose::kNo, beta, depth, columns, columns);
    }
  }
}

void conv2d_backward(float* dinput, float* dweight, float* dbias, const float* dout,
                     const float* in, const float* weight, const Conv2dShape& s, float* workspace) {
  assert_valid(s);
  const int out_group = s.out_channels / s.groups;
  const int depth = group_depth(s);
  const int columns = s.out_height * s.out_width;
  const size_t in_sample = size_t(s.in_channels) * s.in_height * s.in_width;
  const size_t in_group = in_sample / s.groups;
  const size_t out_sample = size_t(s.out_channels) * columns;
  const bool identity = im2col_is_identity(s);
  assert(identity || workspace != nullptr || (dinput == nullptr && dweight == nullptr));
  for (int n = 0; n < s.batch; ++n) {
    const float* dout_n = dout + n * out_sample;  // (OC, P)
    if (dbias != nullptr) {
      for (int oc = 0; oc < s.out_channels; ++oc) {
        dbias[oc] += sum_row(dout_n + size_t(oc) * columns, columns);
      }
    }
    for (int g = 0; g < s.groups; ++g) {
      const float* dout_g = dout_n + size_t(g) * out_group * columns;  // (OCg, P)
      const float* weight_g = weight + size_t(g) * out_group * depth;  // (OCg, Kg)
      if (dweight != nullptr) {
        const float* in_g = in + n * in_sample + g * in_group;
        const float* col = in_g;
        if (!identity) {
          im2col(workspace, in_g, s);
          col = workspace;
        }
        gemm(dweight + size_t(g) * out_group * depth, dout_g, col, out_group, depth, columns,
             Transpose::kNo, Transpose::kYes, 1.0f, columns, columns, depth);
      }
      if (dinput != nullptr) {
        float* din_g = dinput + n * in_sample + g * in_group;  // (Cg, IH, IW)
        if (identity) {
          gemm(din_g, weight_g, dout_g, depth, columns, out_group, Transpose::kYes, Transpose::kNo,
               1.0f, depth, columns, columns);
        } else {
          gemm(workspace, weight_g, dout_g, depth, columns, out_group, Transpose::kYes,
               Transpose::kNo, 0.0f, depth, columns, columns);
          col2im_add(din_g, workspace, s);
        }
      }
    }
  }
}

// ---- Reference: direct loops, one output (or one gradient contribution) at a time ---------------

void conv2d_forward_reference(float* out, const float* in, const float* weight, const float* bias,
                              const Conv2dShape& s) {
  assert_valid(s);
  const int in_group = s.in_channels / s.groups, out_group = s.out_channels / s.groups;
  for (int n = 0; n < s.batch; ++n) {
    for (int oc = 0; oc < s.out_channels; ++oc) {
      const int g = oc / out_group;
      for (int oh = 0; oh < s.out_height; ++oh) {
        for (int ow = 0; ow < s.out_width; ++ow) {
          float sum = bias != nullptr ? bias[oc] : 0.0f;
          for (int c = 0; c < in_group; ++c) {
            const int ic = g * in_group + c;
            for (int kh = 0; kh < s.kernel_height; ++kh) {
              const int ih = oh * s.stride_height - s.pad_top + kh * s.dilation_height;
              if (ih < 0 || ih >= s.in_height) continue;
              for (int kw = 0; kw < s.kernel_width; ++kw) {
                const int iw = ow * s.stride_width - s.pad_left + kw * s.dilation_width;
                if (iw < 0 || iw >= s.in_width) continue;
                const float x =
                    in[((size_t(n) * s.in_channels + ic) * s.in_height + ih) * s.in_width + iw];
                const float w =
                    weight[((size_t(oc) * in_group + c) * s.kernel_height + kh) * s.kernel_width +
                           kw];
                sum += x * w;
              }
            }
          }
          out[((size_t(n) * s.out_channels + oc) * s.out_height + oh) * s.out_width + ow] = sum;
        }
      }
    }
  }
}

void conv2d_backward_reference(float* dinput, float* dweight, float* dbias, const float* dout,
                               const float* in, const float* weight, const Conv2dShape& s) {
  assert_valid(s);
  const int in_group = s.in_channels / s.groups, out_group = s.out_channels / s.groups;
  for (int n = 0; n < s.batch; ++n) {
    for (int oc = 0; oc < s.out_channels; ++oc) {
      const int g = oc / out_group;
      for (int oh = 0; oh < s.out_height; ++oh) {
        for (int ow = 0; ow < s.out_width; ++ow) {
          const float grad =
              dout[((size_t(n) * s.out_channels + oc) * s.out_height + oh) * s.out_width + ow];
          if (dbias != nullptr) dbias[oc] += grad;
          for (int c = 0; c < in_group; ++c) {
            const int ic = g * in_group + c;
            for (int kh = 0; kh < s.kernel_height; ++kh) {
              const int ih = oh * s.stride_height - s.pad_top + kh * s.dilation_height;
              if (ih < 0 || ih >= s.in_height) continue;
              for (int kw = 0; kw < s.kernel_width; ++kw) {
                const int iw = ow * s.stride_width - s.pad_left + kw * s.dilation_width;
                if (iw < 0 || iw >= s.in_width) continue;
                const size_t in_at =
                    ((size_t(n) * s.in_channels + ic) * s.in_height + ih) * s.in_width + iw;
                const size_t w_at =
                    ((size_t(oc) * in_group + c) * s.kernel_height + kh) * s.kernel_width + kw;
                if (dweight != nullptr) dweight[w_at] += grad * in[in_at];
                if (dinput != nullptr) dinput[in_at] += grad * weight[w_at];
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace edgetrain::ops
