// Inner product: forward against a direct dot-product loop, finite-difference gradient checks of
// input, weight and bias, the accumulation / null-gradient rules, and bf16 products.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ops/gemm_bf16.h"
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

TEST(InnerProduct, ForwardMatchesDotProducts) {
  const int batch = 5, in_features = 37, out_features = 19;
  Rng rng(3);
  const auto in = random_values(size_t(batch) * in_features, rng);
  const auto weight = random_values(size_t(out_features) * in_features, rng);
  const auto bias = random_values(out_features, rng);
  for (const float* b : {bias.data(), static_cast<const float*>(nullptr)}) {
    std::vector<float> out(size_t(batch) * out_features, -1.0f), expected(out.size());
    inner_product_forward(out.data(), in.data(), weight.data(), b, batch, in_features,
                          out_features);
    for (int n = 0; n < batch; ++n) {
      for (int o = 0; o < out_features; ++o) {
        double sum = b ? b[o] : 0.0;
        for (int i = 0; i < in_features; ++i)
          sum += double(in[n * in_features + i]) * weight[o * in_features + i];
        expected[n * out_features + o] = float(sum);
      }
    }
    EXPECT_TRUE(all_near("out", out, expected, 1e-5));
  }
}

// The trainer's gradient buffers are zero when backward runs, so the weight gradient may be written
// instead of added (dweight_zero): it must then ignore what the buffer held (NaN here) and give the
// bits that adding into zeros gives, in float32 and bf16, at depths (batches) 3 and 64; the input
// and bias gradients still add.
TEST(InnerProduct, ZeroedWeightGradientIsOverwrittenWithTheSameBits) {
  const int in_features = 45, out_features = 21;
  Rng rng(9);
  for (int batch : {3, 64}) {
    for (Products products : {Products::kFloat32, Products::kBfloat16}) {
      if (products == Products::kBfloat16 && !bf16_supported()) continue;
      SCOPED_TRACE("batch " + std::to_string(batch) +
                   (products == Products::kBfloat16 ? ", bf16" : ", float32"));
      const auto in = random_values(size_t(batch) * in_features, rng);
      const auto dout = random_values(size_t(batch) * out_features, rng);
      const auto weight = random_values(size_t(out_features) * in_features, rng);
      const auto dinput_start = random_values(size_t(batch) * in_features, rng);
      const auto dbias_start = random_values(size_t(out_features), rng);
      std::vector<float> dweight_added(weight.size(), 0.0f);
      std::vector<float> dinput_added = dinput_start, dbias_added = dbias_start;
      inner_product_backward(dinput_added.data(), dweight_added.data(), dbias_added.data(),
                             dout.data(), in.data(), weight.data(), batch, in_features,
                             out_features, products, /*dweight_zero=*/false);
      std::vector<float> dweight_written(weight.size(), std::nanf(""));
      std::vector<float> dinput_written = dinput_start, dbias_written = dbias_start;
      inner_product_backward(dinput_written.data(), dweight_written.data(), dbias_written.data(),
                             dout.data(), in.data(), weight.data(), batch, in_features,
                             out_features, products, /*dweight_zero=*/true);
      EXPECT_EQ(0, std::memcmp(dweight_written.data(), dweight_added.data(),
                               dweight_added.size() * sizeof(float)));
      EXPECT_EQ(dinput_written, dinput_added);
      EXPECT_EQ(dbias_written, dbias_added);
      EXPECT_NE(dbias_written, dbias_start);  // the bias gradient was added, not skipped
    }
  }
}

// Threads that split a mini-batch sum a large layer's weight gradient together, each writing its
// rows over every thread's samples (inner_product_weight_gradient). Against the per-part gradients
// added in part order (what the optimizer did with one gradient block per thread) it must give the
// same bits, row shares together covering every row exactly once; here with an empty part, row
// counts that are not multiples of 8 or of the 128-row blocks, and adding to what dweight holds.
TEST(InnerProduct, WeightGradientSummedOverPartsByRowSharesHasThePerPartBits) {
  const int in_features = 45;
  Rng rng(21);
  for (int out_features : {21, 300}) {
    for (Products products : {Products::kFloat32, Products::kBfloat16}) {
      if (products == Products::kBfloat16 && !bf16_supported()) continue;
      for (int shares : {1, 2, 3}) {
        for (bool zero : {true, false}) {
          SCOPED_TRACE(std::to_string(out_features) + " outputs, " + std::to_string(shares) +
                       " row shares" + (zero ? ", written" : ", added") +
                       (products == Products::kBfloat16 ? ", bf16" : ", float32"));
          const std::vector<int> batches = {7, 0, 64, 3};
          std::vector<std::vector<float>> douts, ins;
          std::vector<DenseBatchPart> parts;
          for (int batch : batches) {
            douts.push_back(random_values(size_t(batch) * out_features, rng));
            ins.push_back(random_values(size_t(batch) * in_features, rng));
            parts.push_back({douts.back().data(), ins.back().data(), batch});
          }
          const auto start = random_values(size_t(out_features) * in_features, rng);
          // Expected: each part's product alone, added in part order onto the start (or zeros).
          std::vector<float> expected = zero ? std::vector<float>(start.size(), 0.0f) : start;
          for (const DenseBatchPart& part : parts) {
            std::vector<float> product(start.size(), 0.0f);
            inner_product_backward(nullptr, product.data(), nullptr, part.dout, part.in, nullptr,
                                   part.batch, in_features, out_features, products, true);
            for (size_t i = 0; i < expected.size(); ++i) expected[i] += product[i];
          }
          std::vector<float> dweight =
              zero ? std::vector<float>(start.size(), std::nanf("")) : start;
          std::vector<int> writes(size_t(out_features), 0);
          for (int share = 0; share < shares; ++share) {
            const std::vector<float> before = dweight;
            inner_product_weight_gradient(dweight.data(), parts.data(), int(parts.size()),
                                          in_features, out_features, products, zero,
                                          {share, shares});
            for (int o = 0; o < out_features; ++o) {
              writes[size_t(o)] +=
                  std::memcmp(&before[size_t(o) * in_features], &dweight[size_t(o) * in_features],
                              sizeof(float) * in_features) != 0;
            }
          }
          EXPECT_EQ(writes, std::vector<int>(size_t(out_features), 1));
          EXPECT_EQ(0, std::memcmp(dweight.data(), expected.data(), expected.size() * 4));
        }
      }
    }
  }
}

TEST(InnerProductGradient, MatchesFiniteDifferences) {
  const int batch = 4, in_features = 23, out_features = 11;
  Rng rng(5);
  auto in = random_values(size_t(batch) * in_features, rng);
  auto weight = random_values(size_t(out_features) * in_features, rng);
  auto bias = random_values(out_features, rng);
  const auto r = random_values(size_t(batch) * out_features, rng);
  std::vector<float> out(r.size());
  auto loss = [&] {
    inner_product_forward(out.data(), in.data(), weight.data(), bias.data(), batch, in_features,
                          out_features);
    return weighted_sum(out, r);
  };
  std::vector<float> dinput(in.size()), dweight(weight.size()), dbias(bias.size());
  inner_product_backward(dinput.data(), dweight.data(), dbias.data(), r.data(), in.data(),
                         weight.data(), batch, in_features, out_features);
  EXPECT_TRUE(check_gradient("dinput", in, dinput, loss));
  EXPECT_TRUE(check_gradient("dweight", weight, dweight, loss));
  EXPECT_TRUE(check_gradient("dbias", bias, dbias, loss));

  auto dinput2 = dinput, dweight2 = dweight, dbias2 = dbias;
  inner_product_backward(dinput2.data(), dweight2.data(), dbias2.data(), r.data(), in.data(),
                         weight.data(), batch, in_features, out_features);
  EXPECT_TRUE(is_doubled("dinput", dinput, dinput2));
  EXPECT_TRUE(is_doubled("dweight", dweight, dweight2));
  EXPECT_TRUE(is_doubled("dbias", dbias, dbias2));

  // Null gradients are skipped; the others still come out the same.
  std::vector<float> dweight_only(weight.size());
  inner_product_backward(nullptr, dweight_only.data(), nullptr, r.data(), in.data(), weight.data(),
                         batch, in_features, out_features);
  EXPECT_TRUE(all_near("dweight alone", dweight_only, dweight, 1e-6));
}

// Products::kBfloat16: each of the three products is gemm_bf16's of the same operands (checked
// against its plain reference, which rounds with round_to_bf16), the bias and dbias stay fp32, and
// the result differs from fp32's by no more than bf16's rounding allows.
TEST(InnerProductBf16, EachProductIsTheBf16ProductOfTheSameOperands) {
  if (!bf16_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  const int batch = 7, in_features = 45, out_features = 13;
  Rng rng(11);
  const auto in = random_values(size_t(batch) * in_features, rng);
  const auto weight = random_values(size_t(out_features) * in_features, rng);
  const auto bias = random_values(out_features, rng);
  const auto dout = random_values(size_t(batch) * out_features, rng);

  std::vector<float> out(size_t(batch) * out_features), out_fp32(out.size());
  inner_product_forward(out.data(), in.data(), weight.data(), bias.data(), batch, in_features,
                        out_features, Products::kBfloat16);
  inner_product_forward(out_fp32.data(), in.data(), weight.data(), bias.data(), batch,
                        in_features, out_features);
  std::vector<float> expected(out.size());
  for (int n = 0; n < batch; ++n)
    std::copy(bias.begin(), bias.end(), expected.begin() + n * out_features);
  gemm_bf16_reference(expected.data(), in.data(), weight.data(), batch, out_features, in_features,
                      Transpose::kNo, Transpose::kYes, 1.0f, in_features, in_features,
                      out_features);
  EXPECT_TRUE(all_near("out", out, expected, 1e-5));
  // |x - bf16(x)| <= 2^-9 |x| for each operand, so a product moves by at most ~2^-8 of itself.
  EXPECT_TRUE(all_near("out against fp32", out, out_fp32, 0.05));
  EXPECT_NE(out, out_fp32) << "the bf16 path must round its operands";

  // Backward adds into what is there: start from ones.
  std::vector<float> dinput(in.size(), 1.0f), dweight(weight.size(), 1.0f),
      dbias(bias.size(), 1.0f);
  inner_product_backward(dinput.data(), dweight.data(), dbias.data(), dout.data(), in.data(),
                         weight.data(), batch, in_features, out_features, Products::kBfloat16);
  std::vector<float> expected_dinput(in.size(), 1.0f), expected_dweight(weight.size(), 1.0f),
      fp32_dbias(bias.size(), 1.0f);
  gemm_bf16_reference(expected_dinput.data(), dout.data(), weight.data(), batch, in_features,
                      out_features, Transpose::kNo, Transpose::kNo, 1.0f, out_features,
                      in_features, in_features);
  gemm_bf16_reference(expected_dweight.data(), dout.data(), in.data(), out_features, in_features,
                      batch, Transpose::kYes, Transpose::kNo, 1.0f, out_features, in_features,
                      in_features);
  inner_product_backward(nullptr, nullptr, fp32_dbias.data(), dout.data(), in.data(),
                         weight.data(), batch, in_features, out_features);
  EXPECT_TRUE(all_near("dinput", dinput, expected_dinput, 1e-5));
  EXPECT_TRUE(all_near("dweight", dweight, expected_dweight, 1e-5));
  EXPECT_EQ(dbias, fp32_dbias) << "the bias gradient is a plain fp32 sum either way";
}

}  // namespace
}  // namespace edgetrain::ops
