// The fused convolution + ReLU + max-pool forward with bf16 products (ConvReluPoolShape::products),
// against the fp32 fused forward: on multiples of 1/8 (exact in bf16, and every sum exact in fp32)
// bit for bit, pooled values and argmax; on random data equal to the fp32 forward of the operands
// rounded to bf16, up to summation order. Shapes reach the deep bf16 kernel (IC even), the im2col
// path with gemm_bf16 (deep, IC odd) and the direct kernel, which stays fp32.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "base/rng.h"
#include "ops/conv_relu_pool_shape.h"
#include "ops/gemm_bf16.h"
#include "ops/gradient_check.h"
#include "ops/ops.h"

namespace edgetrain::ops {
namespace {

using testing::square_conv_relu_pool_shape;

struct Forward {
  std::vector<float> pooled;
  std::vector<uint8_t> argmax;
};

Forward forward(ConvReluPoolShape s, Products products, const std::vector<float>& in,
                const std::vector<float>& weight, const std::vector<float>& bias) {
  s.products = products;
  const size_t outputs = size_t(s.conv.batch) * s.conv.out_channels * s.out_height * s.out_width;
  Forward f{std::vector<float>(outputs), std::vector<uint8_t>(outputs)};
  std::vector<float> workspace(conv_relu_pool_workspace_floats(s));
  conv_relu_pool_forward(f.pooled.data(), f.argmax.data(), in.data(), weight.data(), bias.data(),
                         s, workspace.data());
  return f;
}

std::vector<float> multiples_of(int denominator, size_t size, Rng& rng) {
  std::vector<float> v(size);
  for (float& x : v) {
    x = float(int(rng.below(uint64_t(2 * denominator + 1))) - denominator) / float(denominator);
  }
  return v;
}

std::vector<float> rounded_to_bf16(std::vector<float> v) {
  for (float& x : v) x = bf16_to_float(round_to_bf16(x));
  return v;
}

struct Case {
  const char* name;
  ConvReluPoolShape shape;
  bool rounds;  // false: the direct kernel, which keeps fp32 products
};

std::vector<Case> cases() {
  return {
      {"lenet conv2 32->32 2x2: deep bf16 kernel", square_conv_relu_pool_shape(3, 32, 13, 32, 2),
       true},
      {"3->32 3x3 (IC odd): im2col + gemm_bf16", square_conv_relu_pool_shape(2, 3, 10, 32, 3),
       true},
      {"lenet conv1 1->32 3x3: direct, fp32", square_conv_relu_pool_shape(2, 1, 12, 32, 3), false}};
}

TEST(ConvReluPoolBf16, MultiplesOfAnEighthGiveTheFloat32BitsExactly) {
  if (!bf16_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  for (const Case& c : cases()) {
    const Conv2dShape& s = c.shape.conv;
    Rng rng(7);
    const auto in = multiples_of(8, size_t(s.batch) * s.in_channels * s.in_height * s.in_width, rng);
    const auto weight = multiples_of(
        8, size_t(s.out_channels) * s.in_channels * s.kernel_height * s.kernel_width, rng);
    const auto bias = multiples_of(64, size_t(s.out_channels), rng);
    const Forward fp32 = forward(c.shape, Products::kFloat32, in, weight, bias);
    const Forward bf16 = forward(c.shape, Products::kBfloat16, in, weight, bias);
    EXPECT_EQ(bf16.pooled, fp32.pooled) << c.name;
    EXPECT_EQ(bf16.argmax, fp32.argmax) << c.name;
  }
}

TEST(ConvReluPoolBf16, RandomDataIsTheFloat32ForwardOfRoundedOperands) {
  if (!bf16_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  for (const Case& c : cases()) {
    const Conv2dShape& s = c.shape.conv;
    Rng rng(9);
    const auto in =
        testing::random_values(size_t(s.batch) * s.in_channels * s.in_height * s.in_width, rng);
    const auto weight = testing::random_values(
        size_t(s.out_channels) * s.in_channels * s.kernel_height * s.kernel_width, rng);
    const auto bias = testing::random_values(size_t(s.out_channels), rng);
    const Forward bf16 = forward(c.shape, Products::kBfloat16, in, weight, bias);
    const Forward fp32 = forward(c.shape, Products::kFloat32, in, weight, bias);
    if (!c.rounds) {
      EXPECT_EQ(bf16.pooled, fp32.pooled) << c.name << ": the direct kernel keeps fp32";
      continue;
    }
    // The bias is not rounded: it is added in fp32 after the products.
    const Forward rounded =
        forward(c.shape, Products::kFloat32, rounded_to_bf16(in), rounded_to_bf16(weight), bias);
    EXPECT_TRUE(testing::all_near(c.name, bf16.pooled, rounded.pooled, 1e-5));
    EXPECT_NE(bf16.pooled, fp32.pooled) << c.name << ": the products must be rounded";
    size_t different = 0;
    for (size_t i = 0; i < bf16.argmax.size(); ++i) different += bf16.argmax[i] != rounded.argmax[i];
    // Only near-ties (two window values within summation error) may pick another position.
    EXPECT_LE(different, bf16.argmax.size() / 200) << c.name;
  }
}

}  // namespace
}  // namespace edgetrain::ops
