// Internals of the fused convolution + ReLU + max-pool op, shared by conv_relu_pool.cpp (layouts,
// the im2col + GEMM path, the public entry points) and conv_relu_pool_kernels.cpp (the in-register
// kernels). See conv_relu_pool.cpp for the per-sample buffers and their shapes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ops/ops.h"
#include "ops/simd.h"

namespace edgetrain::ops::conv_relu_pool_internal {

// The op's sizes, K = KH·KW·IC (patch depth), P = OH·OW (convolution outputs), windows = PH·PW.
struct Sizes {
  int ic, ih, iw, oc, kh, kw, k, oh, ow, p, ph, pw, windows;
  bool in_hwc, out_hwc;  // the op's input / output blob is stored channel-last
};

inline Sizes sizes_of(const ConvReluPoolShape& s) {
  const Conv2dShape& c = s.conv;
  Sizes z{};
  z.ic = c.in_channels, z.ih = c.in_height, z.iw = c.in_width, z.oc = c.out_channels;
  z.kh = c.kernel_height, z.kw = c.kernel_width, z.k = z.kh * z.kw * z.ic;
  z.oh = c.out_height, z.ow = c.out_width, z.p = z.oh * z.ow;
  z.ph = s.out_height, z.pw = s.out_width, z.windows = z.ph * z.pw;
  z.in_hwc = s.input_channel_last || z.ic == 1;  // one channel: both layouts are the same
  z.out_hwc = s.output_channel_last || z.oc == 1;
  return z;
}

// Every kernel works on one sample, channel-last: in_hwc (IH·IW, IC); pooled_hwc, dout_hwc and
// argmax_n (PH·PW, OC); w_kc (K, OC); w_hwc, dw_hwc (OC, K). The sparse backward's dout_hwc is
// already 0 wherever the argmax is kNoGradient; the direct backward masks it itself.
// origins[window·positions + at] is the input element where patch row 0 under window position `at`
// starts. Backward kernels add into their outputs.

// LeNet's first layer, which the direct kernels unroll with these sizes fixed at compile time: a
// 3x3 patch of one channel (KH 3, KW·IC 3) under a 2x2 pool.
EDGETRAIN_INLINE bool direct_sizes_are_3x3x1_pool_2x2(const Sizes& z, int pool_h, int pool_w) {
  return z.kh == 3 && z.kw * z.ic == 3 && pool_h == 2 && pool_w == 2;
}

// Shallow patches (conv_relu_pool_is_direct): the window's outputs in registers.
void direct_forward_sample(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc,
                           const float* w_kc, const float* bias, const Sizes& z, int pool_h,
                           int pool_w);
// dw_kc (K, OC) += the sample's weight gradient (the input gradient is not computed); dbias (OC),
// if not null, += the bias gradient, summed in window order. dout_hwc is read as it is: it is
// taken only at each lane's argmax, so it need not be 0 where no gradient flows.
void direct_backward_sample(float* dw_kc, float* dbias, const float* dout_hwc,
                            const uint8_t* argmax_n, const float* in_hwc, const Sizes& z,
                            int pool_h, int pool_w);
// Deep patches with OC % 32 == 0 (conv_relu_pool_forward_is_deep).
void deep_forward_sample(float* pooled_hwc, uint8_t* argmax_n, const float* in_hwc,
                         const float* w_kc, const float* bias, const int32_t* origins,
                         const Sizes& z, int positions);
// Patch runs KW·IC in multiples of 16: only positions with a gradient cost work. Either output
// may be null.
void sparse_backward_sample(float* dw_hwc, float* din_hwc, const float* dout_hwc,
                            const uint8_t* argmax_n, const float* in_hwc, const float* w_hwc,
                            const int32_t* origins, const Sizes& z, int positions);

// One instruction set's in-register kernels, with the signatures above.
struct InRegisterKernels {
  const char* name;
  decltype(&direct_forward_sample) direct_forward;
  decltype(&direct_backward_sample) direct_backward;
  decltype(&deep_forward_sample) deep_forward;
  decltype(&sparse_backward_sample) sparse_backward;
};
// The functions above: simd.h's 16-float vectors (conv_relu_pool_kernels.cpp), compiled for the
// build's target: the portable set.
const InRegisterKernels& generic_vector_kernels();
// The architecture's own sets this CPU runs, best first; none on other architectures. aarch64:
// NEON (conv_relu_pool_kernels_neon.cpp); x86-64: the generic kernels compiled for AVX-512 at 16
// floats a vector and for AVX2 + FMA at 8 (conv_relu_pool_kernels.cpp), by CPU features.
struct ArchitectureKernels {
  const InRegisterKernels* set[2] = {};
  int count = 0;
};
ArchitectureKernels architecture_kernels();

// bf16 products (ConvReluPoolShape::products) for deep patches with an even IC: round_values
// turns n floats into bf16 (round to nearest even, as round_to_bf16); deep_forward is
// deep_forward_sample on the sample rounded so, in_bf16 (IH·IW, IC), with the weights as
// w_pairs (K/2, OC): word (q, c) holds w_kc (2q, c) in its low half and (2q + 1, c) in its high.
struct DeepBf16Kernels {
  void (*round_values)(uint16_t* to, const float* from, size_t n);
  void (*deep_forward)(float* pooled_hwc, uint8_t* argmax_n, const uint16_t* in_bf16,
                       const uint32_t* w_pairs, const float* bias, const int32_t* origins,
                       const Sizes& z, int positions);
};
// x86-64 with AVX512-BF16 (conv_relu_pool_bf16_x86.cpp, checked at run time); null elsewhere.
const DeepBf16Kernels* deep_bf16_kernels();

}  // namespace edgetrain::ops::conv_relu_pool_internal
