// Ops that split one sample between threads (ops::Part): every part run into the same output
// buffers, each with its own workspace, must write exactly the bits one whole call writes and
// nothing else (the outputs start as NaN, so a value no part wrote shows). Parts run one after
// another here; tests/infer/test_predictor_threads.cpp runs them at once.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/rng.h"
#include "ops/conv_relu_pool_shape.h"
#include "ops/gemm_bf16.h"
#include "ops/gradient_check.h"
#include "ops/ops.h"

namespace edgetrain::ops {
namespace {

using testing::random_values;
using testing::square_conv_relu_pool_shape;

constexpr float kUnwritten = std::numeric_limits<float>::quiet_NaN();
constexpr uint8_t kUnwrittenArgmax = 77;

::testing::AssertionResult same_bits(const std::vector<float>& parts,
                                     const std::vector<float>& whole) {
  for (size_t i = 0; i < whole.size(); ++i) {
    if (std::memcmp(&parts[i], &whole[i], sizeof(float)) != 0) {
      return ::testing::AssertionFailure()
             << "value " << i << ": parts wrote " << parts[i] << ", the whole call " << whole[i];
    }
  }
  return ::testing::AssertionSuccess();
}

struct ConvResult {
  std::vector<float> out;
  std::vector<uint8_t> argmax;
};

ConvResult conv_in_parts(const ConvReluPoolShape& s, const std::vector<float>& in,
                         const std::vector<float>& weight, const std::vector<float>& bias,
                         int parts) {
  const size_t outputs = size_t(s.conv.batch) * s.conv.out_channels * s.out_height * s.out_width;
  ConvResult r{std::vector<float>(outputs, kUnwritten),
               std::vector<uint8_t>(outputs, kUnwrittenArgmax)};
  for (int part = 0; part < parts; ++part) {
    std::vector<float> workspace(conv_relu_pool_workspace_floats(s), kUnwritten);
    conv_relu_pool_forward(r.out.data(), r.argmax.data(), in.data(), weight.data(), bias.data(), s,
                           workspace.data(), {part, parts});
  }
  return r;
}

void expect_conv_parts_match(ConvReluPoolShape s, uint64_t seed) {
  ASSERT_TRUE(conv_relu_pool_forward_splits(s));
  Rng rng(seed);
  const auto in = random_values(
      size_t(s.conv.batch) * s.conv.in_channels * s.conv.in_height * s.conv.in_width, rng);
  const auto weight = random_values(
      size_t(s.conv.out_channels) * s.conv.in_channels * s.conv.kernel_height * s.conv.kernel_width,
      rng);
  const auto bias = random_values(size_t(s.conv.out_channels), rng, -0.2f, 0.2f);
  for (bool input_channel_last : {false, true}) {
    for (bool output_channel_last : {false, true}) {
      s.input_channel_last = input_channel_last, s.output_channel_last = output_channel_last;
      SCOPED_TRACE(std::string("input ") + (input_channel_last ? "NHWC" : "NCHW") + ", output " +
                   (output_channel_last ? "NHWC" : "NCHW"));
      const ConvResult whole = conv_in_parts(s, in, weight, bias, 1);
      for (int parts : {2, 3, 7}) {
        SCOPED_TRACE(std::to_string(parts) + " parts");
        const ConvResult split = conv_in_parts(s, in, weight, bias, parts);
        EXPECT_TRUE(same_bits(split.out, whole.out));
        EXPECT_EQ(split.argmax, whole.argmax);
      }
    }
  }
}

// LeNet's conv1 (direct kernel, split by pooled rows: 13 rows into 2, 3 or 7 parts) and conv2
// (deep kernel, split by windows), two samples each.
TEST(OpParts, DirectConvolutionInPartsWritesTheWholeCallsBits) {
  expect_conv_parts_match(square_conv_relu_pool_shape(2, 1, 28, 32, 3), 11);
}
TEST(OpParts, DeepConvolutionInPartsWritesTheWholeCallsBits) {
  expect_conv_parts_match(square_conv_relu_pool_shape(2, 32, 13, 32, 3), 12);
}
TEST(OpParts, Bf16DeepConvolutionInPartsWritesTheWholeCallsBits) {
  if (!bf16_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  ConvReluPoolShape s = square_conv_relu_pool_shape(2, 32, 13, 32, 3);
  s.products = Products::kBfloat16;
  expect_conv_parts_match(s, 13);
}
// More parts than pooled rows: the parts past the last row write nothing.
TEST(OpParts, PartsBeyondTheRowsWriteNothing) {
  expect_conv_parts_match(square_conv_relu_pool_shape(1, 1, 6, 16, 3),
                          14);  // 2 pooled rows, 3 and 7 parts
}

// The im2col path (forced here) cannot split, and says so; the in-register paths can.
TEST(OpParts, OnlyTheInRegisterPathsSplit) {
  ConvReluPoolShape s = square_conv_relu_pool_shape(1, 32, 13, 32, 3);
  EXPECT_TRUE(conv_relu_pool_forward_splits(s));
  s.kernel = ConvReluPoolShape::Kernel::kDense;
  EXPECT_FALSE(conv_relu_pool_forward_splits(s));
  EXPECT_FALSE(conv_relu_pool_forward_splits(
      square_conv_relu_pool_shape(1, 3, 8, 5, 3)));  // K 27, 5 channels
}

std::vector<float> dense_in_parts(const std::vector<float>& in, const std::vector<float>& weight,
                                  const std::vector<float>* bias, int batch, int in_features,
                                  int out_features, int parts) {
  std::vector<float> out(size_t(batch) * out_features, kUnwritten);
  for (int part = 0; part < parts; ++part) {
    inner_product_forward(out.data(), in.data(), weight.data(), bias ? bias->data() : nullptr,
                          batch, in_features, out_features, Products::kFloat32, {part, parts});
  }
  return out;
}

// LeNet's hidden1 on one image (the single-row dot path), and a batch through the blocked GEMM,
// with and without a bias; 500 outputs split in multiples of 4.
TEST(OpParts, InnerProductInPartsWritesTheWholeCallsBits) {
  struct Case {
    int batch, in_features, out_features;
  };
  Rng rng(21);
  for (const Case& c : {Case{1, 1152, 500}, Case{3, 100, 37}, Case{40, 64, 70}}) {
    const auto in = random_values(size_t(c.batch) * c.in_features, rng);
    const auto weight = random_values(size_t(c.out_features) * c.in_features, rng);
    const auto bias = random_values(size_t(c.out_features), rng);
    for (const std::vector<float>* b : {&bias, static_cast<const std::vector<float>*>(nullptr)}) {
      const auto whole = dense_in_parts(in, weight, b, c.batch, c.in_features, c.out_features, 1);
      for (int parts : {2, 3, 5}) {
        SCOPED_TRACE("batch " + std::to_string(c.batch) + ", " + std::to_string(c.in_features) +
                     " -> " + std::to_string(c.out_features) + (b ? ", bias, " : ", no bias, ") +
                     std::to_string(parts) + " parts");
        EXPECT_TRUE(same_bits(
            dense_in_parts(in, weight, b, c.batch, c.in_features, c.out_features, parts), whole));
      }
    }
  }
}

TEST(OpParts, PartRangesCoverTheItemsInOrderInGranules) {
  for (int count : {0, 1, 13, 16, 500}) {
    for (int parts : {1, 2, 3, 7}) {
      for (int granule : {1, 16}) {
        int next = 0;
        for (int p = 0; p < parts; ++p) {
          const Range r = part_range(count, {p, parts}, granule);
          EXPECT_EQ(r.begin, next) << count << " items, part " << p << " of " << parts;
          EXPECT_LE(r.begin, r.end);
          if (r.end < count) EXPECT_EQ(r.end % granule, 0);
          next = r.end;
        }
        EXPECT_EQ(next, count) << count << " items in " << parts << " parts";
      }
    }
  }
  // As even as the granules allow: 13 rows in 2 parts are 6 and 7, not 13 and 0.
  EXPECT_EQ(part_range(13, {0, 2}).end, 6);
  EXPECT_EQ(part_range(500, {0, 2}, 16).end, 256);
}

}  // namespace
}  // namespace edgetrain::ops
