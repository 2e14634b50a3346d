// Convolution: im2col + GEMM against the direct-loop reference (forward and all three gradients),
// finite-difference gradient checks of both, and the accumulation / null-gradient rules.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ops/gradient_check.h"
#include "ops/ops.h"
#include "base/rng.h"

namespace edgetrain::ops {
namespace {

using testing::all_near;
using testing::check_gradient;
using testing::is_doubled;
using testing::random_values;
using testing::weighted_sum;

struct ConvCase {
  const char* name;
  Conv2dShape shape;
};

Conv2dShape make_shape(int batch, int in_channels, int in_size, int out_channels, int out_size,
                       int kernel, int stride = 1, int dilation = 1, int pad = 0, int groups = 1) {
  Conv2dShape s;
  s.batch = batch;
  s.in_channels = in_channels, s.in_height = s.in_width = in_size;
  s.out_channels = out_channels, s.out_height = s.out_width = out_size;
  s.kernel_height = s.kernel_width = kernel;
  s.stride_height = s.stride_width = stride;
  s.dilation_height = s.dilation_width = dilation;
  s.pad_top = s.pad_left = pad;
  s.groups = groups;
  return s;
}

Conv2dShape asymmetric_shape() {
  // Non-square everything: 3x2 kernel, (2,1) stride, pads top 2 / left 1, extra bottom/right pad.
  Conv2dShape s = make_shape(2, 2, 5, 3, 1, 1);
  s.in_height = 5, s.in_width = 6;
  s.kernel_height = 3, s.kernel_width = 2;
  s.stride_height = 2, s.stride_width = 1;
  s.dilation_height = 1, s.dilation_width = 2;
  s.pad_top = 2, s.pad_left = 1;
  s.out_height = 4, s.out_width = 7;  // reaches past the image on the bottom and right
  return s;
}

// Small shapes: every case runs through the finite-difference check too.
std::vector<ConvCase> small_cases() {
  return {
      {"basic 3x3", make_shape(2, 2, 6, 3, 4, 3)},
      {"stride 2, pad 1", make_shape(2, 2, 7, 3, 4, 3, 2, 1, 1)},
      {"dilation 2", make_shape(2, 2, 8, 2, 4, 3, 1, 2)},
      {"dilation 2, stride 2, pad 2", make_shape(1, 2, 9, 3, 5, 3, 2, 2, 2)},
      {"groups 2", make_shape(2, 4, 5, 6, 3, 3, 1, 1, 0, 2)},
      {"depthwise", make_shape(2, 3, 5, 3, 5, 3, 1, 1, 1, 3)},
      {"depthwise x2", make_shape(1, 3, 5, 6, 3, 3, 1, 1, 0, 3)},
      {"asymmetric padding", asymmetric_shape()},
      {"1x1 (no im2col)", make_shape(2, 3, 4, 5, 4, 1)},
      {"1x1 stride 2", make_shape(2, 3, 5, 4, 3, 1, 2)},
      {"window past image", make_shape(1, 1, 3, 2, 4, 2, 2, 1, 2)},
  };
}

// The two LeNet conv layers: 1 → 32 3x3 on 28x28, and 32 → 32 2x2 "same" on 13x13.
std::vector<ConvCase> lenet_cases() {
  return {{"lenet conv1", make_shape(3, 1, 28, 32, 26, 3)},
          {"lenet conv2", make_shape(3, 32, 13, 32, 13, 2)}};
}

size_t input_size(const Conv2dShape& s) {
  return size_t(s.batch) * s.in_channels * s.in_height * s.in_width;
}
size_t output_size(const Conv2dShape& s) {
  return size_t(s.batch) * s.out_channels * s.out_height * s.out_width;
}
size_t weight_size(const Conv2dShape& s) {
  return size_t(s.out_channels) * (s.in_channels / s.groups) * s.kernel_height * s.kernel_width;
}

// Tolerance for a sum of `terms` products of values in [-1, 1], both sides in float.
double sum_tolerance(size_t terms) {
  return 2e-6 * double(terms) + 1e-5;
}

void compare_with_reference(const ConvCase& c, uint64_t seed) {
  SCOPED_TRACE(c.name);
  const Conv2dShape& s = c.shape;
  Rng rng(seed);
  const auto in = random_values(input_size(s), rng), weight = random_values(weight_size(s), rng);
  const auto bias = random_values(s.out_channels, rng), dout = random_values(output_size(s), rng);
  std::vector<float> workspace(conv2d_workspace_floats(s));
  const size_t window = size_t(s.in_channels / s.groups) * s.kernel_height * s.kernel_width;

  for (const float* b : {bias.data(), static_cast<const float*>(nullptr)}) {
    std::vector<float> out(output_size(s), -7.0f), out_ref(output_size(s), 3.0f);
    conv2d_forward(out.data(), in.data(), weight.data(), b, s, workspace.data());
    conv2d_forward_reference(out_ref.data(), in.data(), weight.data(), b, s);
    EXPECT_TRUE(all_near(b ? "out" : "out (no bias)", out, out_ref, sum_tolerance(window)));
  }

  // Gradients start from non-zero values: backward must add, not overwrite.
  const auto dinput0 = random_values(input_size(s), rng);
  const auto dweight0 = random_values(weight_size(s), rng);
  const auto dbias0 = random_values(s.out_channels, rng);
  auto dinput = dinput0, dweight = dweight0, dbias = dbias0;
  auto dinput_ref = dinput0, dweight_ref = dweight0, dbias_ref = dbias0;
  conv2d_backward(dinput.data(), dweight.data(), dbias.data(), dout.data(), in.data(),
                  weight.data(), s, workspace.data());
  conv2d_backward_reference(dinput_ref.data(), dweight_ref.data(), dbias_ref.data(), dout.data(),
                            in.data(), weight.data(), s);
  const size_t per_weight = size_t(s.batch) * s.out_height * s.out_width;
  EXPECT_TRUE(all_near("dinput", dinput, dinput_ref, sum_tolerance(window * s.out_channels)));
  EXPECT_TRUE(all_near("dweight", dweight, dweight_ref, sum_tolerance(per_weight)));
  EXPECT_TRUE(all_near("dbias", dbias, dbias_ref, sum_tolerance(per_weight)));

  // Each gradient alone (the others null) gives the same values.
  auto dinput_only = dinput0, dweight_only = dweight0, dbias_only = dbias0;
  conv2d_backward(dinput_only.data(), nullptr, nullptr, dout.data(), in.data(), weight.data(), s,
                  workspace.data());
  conv2d_backward(nullptr, dweight_only.data(), nullptr, dout.data(), in.data(), weight.data(), s,
                  workspace.data());
  conv2d_backward(nullptr, nullptr, dbias_only.data(), dout.data(), in.data(), weight.data(), s,
                  nullptr);
  EXPECT_TRUE(all_near("dinput alone", dinput_only, dinput, 1e-6, 1e-6));
  EXPECT_TRUE(all_near("dweight alone", dweight_only, dweight, 1e-6, 1e-6));
  EXPECT_TRUE(all_near("dbias alone", dbias_only, dbias, 1e-6, 1e-6));
}

TEST(ConvForwardBackward, MatchesReferenceOnSmallShapes) {
  uint64_t seed = 1;
  for (const ConvCase& c : small_cases()) compare_with_reference(c, seed++);
}

TEST(ConvForwardBackward, MatchesReferenceOnLeNetShapes) {
  uint64_t seed = 100;
  for (const ConvCase& c : lenet_cases()) compare_with_reference(c, seed++);
}

// L = Σ conv(in, weight, bias) · R, differentiated w.r.t. in, weight and bias.
void check_conv_gradients(const ConvCase& c, bool reference, uint64_t seed) {
  SCOPED_TRACE(std::string(c.name) + (reference ? " (reference)" : " (im2col)"));
  const Conv2dShape& s = c.shape;
  Rng rng(seed);
  auto in = random_values(input_size(s), rng), weight = random_values(weight_size(s), rng);
  auto bias = random_values(s.out_channels, rng);
  const auto r = random_values(output_size(s), rng);
  std::vector<float> out(output_size(s)), workspace(conv2d_workspace_floats(s));
  auto loss = [&] {
    if (reference) {
      conv2d_forward_reference(out.data(), in.data(), weight.data(), bias.data(), s);
    } else {
      conv2d_forward(out.data(), in.data(), weight.data(), bias.data(), s, workspace.data());
    }
    return weighted_sum(out, r);
  };
  auto backward = [&](std::vector<float>& dinput, std::vector<float>& dweight,
                      std::vector<float>& dbias) {
    if (reference) {
      conv2d_backward_reference(dinput.data(), dweight.data(), dbias.data(), r.data(), in.data(),
                                weight.data(), s);
    } else {
      conv2d_backward(dinput.data(), dweight.data(), dbias.data(), r.data(), in.data(),
                      weight.data(), s, workspace.data());
    }
  };
  std::vector<float> dinput(in.size()), dweight(weight.size()), dbias(bias.size());
  backward(dinput, dweight, dbias);
  EXPECT_TRUE(check_gradient("dinput", in, dinput, loss));
  EXPECT_TRUE(check_gradient("dweight", weight, dweight, loss));
  EXPECT_TRUE(check_gradient("dbias", bias, dbias, loss));

  auto dinput2 = dinput, dweight2 = dweight, dbias2 = dbias;
  backward(dinput2, dweight2, dbias2);
  EXPECT_TRUE(is_doubled("dinput", dinput, dinput2));
  EXPECT_TRUE(is_doubled("dweight", dweight, dweight2));
  EXPECT_TRUE(is_doubled("dbias", dbias, dbias2));
}

TEST(ConvGradient, MatchesFiniteDifferences) {
  uint64_t seed = 200;
  for (const ConvCase& c : small_cases()) check_conv_gradients(c, false, seed++);
}

TEST(ConvGradient, ReferenceMatchesFiniteDifferences) {
  uint64_t seed = 300;
  for (const ConvCase& c : small_cases()) check_conv_gradients(c, true, seed++);
}

TEST(ConvForward, PaddingReadsAsZero) {
  // A 3x3 all-ones kernel over a 2x2 image of ones, padded by 1: each output counts the in-image
  // taps of its window (4 everywhere for a 2x2 output).
  Conv2dShape s = make_shape(1, 1, 2, 1, 2, 3, 1, 1, 1);
  const std::vector<float> in(4, 1.0f), weight(9, 1.0f);
  std::vector<float> out(4), workspace(conv2d_workspace_floats(s));
  conv2d_forward(out.data(), in.data(), weight.data(), nullptr, s, workspace.data());
  EXPECT_EQ(out, std::vector<float>(4, 4.0f));
}

}  // namespace
}  // namespace edgetrain::ops
