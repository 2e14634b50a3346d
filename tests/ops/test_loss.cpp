// Losses: known values, finite-difference gradient checks of cross-entropy and MSE, the fused
// softmax + cross-entropy backward against softmax_backward ∘ cross_entropy_backward and against
// finite differences through the softmax, and the scale_count (sub-batch share) rule.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ops/gradient_check.h"
#include "ops/ops.h"
#include "base/rng.h"

namespace edgetrain::ops {
namespace {

using testing::all_near;
using testing::check_gradient;
using testing::GradientTolerance;
using testing::is_doubled;
using testing::random_values;

constexpr int kBatch = 4, kClasses = 6;
const std::vector<int32_t> kTargets{0, 5, 2, 2};

TEST(CrossEntropy, KnownValueAndClamp) {
  const std::vector<float> p{0.25f, 0.75f, 0.0f, 1.0f};  // (2, 2)
  const std::vector<int32_t> targets{0, 0};
  // -log(0.25) - log(1e-12), averaged over a mini-batch of 4.
  const double expected = (-std::log(0.25) - std::log(double(1e-12f))) / 4.0;
  EXPECT_NEAR(cross_entropy_forward(p.data(), targets.data(), 2, 2, 4), expected, 1e-9);
}

TEST(CrossEntropyGradient, MatchesFiniteDifferences) {
  Rng rng(1);
  // Probabilities kept away from 0 so ±step stays inside the log's smooth region.
  auto p = random_values(size_t(kBatch) * kClasses, rng, 0.2f, 1.0f);
  const int scale_count = 6;  // a sub-batch of 4 out of a mini-batch of 6
  auto loss = [&] {
    return cross_entropy_forward(p.data(), kTargets.data(), kBatch, kClasses, scale_count);
  };
  std::vector<float> dp(p.size());
  cross_entropy_backward(dp.data(), p.data(), kTargets.data(), kBatch, kClasses, scale_count);
  GradientTolerance tolerance;
  tolerance.step = 1e-3;  // -log p curves sharply; a smaller step keeps the O(h²) error small
  EXPECT_TRUE(check_gradient("dprobabilities", p, dp, loss, {}, tolerance));
  auto twice = dp;
  cross_entropy_backward(twice.data(), p.data(), kTargets.data(), kBatch, kClasses, scale_count);
  EXPECT_TRUE(is_doubled("dprobabilities", dp, twice));
}

TEST(SoftmaxCrossEntropy, FusedEqualsComposedBackward) {
  Rng rng(2);
  const auto logits = random_values(size_t(kBatch) * kClasses, rng, -3.0f, 3.0f);
  std::vector<float> p(logits.size());
  softmax_forward(p.data(), logits.data(), kBatch, kClasses, 1);
  std::vector<float> fused(p.size()), dp(p.size()), composed(p.size());
  softmax_cross_entropy_backward(fused.data(), p.data(), kTargets.data(), kBatch, kClasses, 8);
  cross_entropy_backward(dp.data(), p.data(), kTargets.data(), kBatch, kClasses, 8);
  softmax_backward(composed.data(), dp.data(), p.data(), kBatch, kClasses, 1);
  EXPECT_TRUE(all_near("dlogits", fused, composed, 1e-6, 1e-4));
}

TEST(SoftmaxCrossEntropyGradient, MatchesFiniteDifferencesThroughSoftmax) {
  Rng rng(3);
  auto logits = random_values(size_t(kBatch) * kClasses, rng, -3.0f, 3.0f);
  std::vector<float> p(logits.size());
  auto loss = [&] {
    softmax_forward(p.data(), logits.data(), kBatch, kClasses, 1);
    return cross_entropy_forward(p.data(), kTargets.data(), kBatch, kClasses, kBatch);
  };
  loss();
  std::vector<float> dlogits(logits.size());
  softmax_cross_entropy_backward(dlogits.data(), p.data(), kTargets.data(), kBatch, kClasses,
                                 kBatch);
  EXPECT_TRUE(check_gradient("dlogits", logits, dlogits, loss));
  auto twice = dlogits;
  softmax_cross_entropy_backward(twice.data(), p.data(), kTargets.data(), kBatch, kClasses, kBatch);
  EXPECT_TRUE(is_doubled("dlogits", dlogits, twice));
}

TEST(Mse, KnownValueAndSubBatchShare) {
  const std::vector<float> prediction{1.0f, 2.0f, 3.0f, 5.0f}, target{0.0f, 2.0f, 1.0f, 5.0f};
  // Two samples of size 2: squared errors 1 + 0 + 4 + 0 = 5, over 2 * 2 values.
  EXPECT_NEAR(mse_forward(prediction.data(), target.data(), 2, 2, 2), 5.0 / 4.0, 1e-12);
  // Each half as a sub-batch of the same mini-batch: the shares add up to the whole.
  const double first = mse_forward(prediction.data(), target.data(), 1, 2, 2);
  const double second = mse_forward(prediction.data() + 2, target.data() + 2, 1, 2, 2);
  EXPECT_NEAR(first + second, 5.0 / 4.0, 1e-12);
}

TEST(MseGradient, MatchesFiniteDifferences) {
  Rng rng(4);
  const int batch = 3, size = 7;
  auto prediction = random_values(size_t(batch) * size, rng);
  const auto target = random_values(prediction.size(), rng);
  auto loss = [&] { return mse_forward(prediction.data(), target.data(), batch, size, 5); };
  std::vector<float> dprediction(prediction.size());
  mse_backward(dprediction.data(), prediction.data(), target.data(), batch, size, 5);
  EXPECT_TRUE(check_gradient("dprediction", prediction, dprediction, loss));
  auto twice = dprediction;
  mse_backward(twice.data(), prediction.data(), target.data(), batch, size, 5);
  EXPECT_TRUE(is_doubled("dprediction", dprediction, twice));
}

}  // namespace
}  // namespace edgetrain::ops
