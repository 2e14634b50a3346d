// Inner product: forward against a direct dot-product loop, finite-difference gradient checks of
// input, weight and bias, and the accumulation / null-gradient rules.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace edgetrain::ops
