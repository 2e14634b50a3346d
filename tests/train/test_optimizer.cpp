// The optimizer steps: the gradient is the sum of the threads' parts in part order, every part is
// zeroed for the next batch, and the update is Adam's / SGD's formula (checked against a plain
// double-precision evaluation).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/rng.h"
#include "train/optimizer.h"

namespace edgetrain {
namespace {

std::vector<float> random_values(size_t n, Rng& rng) {
  std::vector<float> v(n);
  for (float& x : v) x = float(2.0 * rng.uniform() - 1.0);
  return v;
}

TEST(Optimizer, AdamSumsThePartsInOrderZeroesThemAndSteps) {
  constexpr size_t kCount = 37;  // not a multiple of any vector width
  for (int parts : {1, 2, 3, 5}) {
    Rng rng{uint64_t(parts)};
    std::vector<std::vector<float>> gradients;
    for (int t = 0; t < parts; ++t) gradients.push_back(random_values(kCount, rng));
    std::vector<float> parameters = random_values(kCount, rng), m = random_values(kCount, rng);
    std::vector<float> v = random_values(kCount, rng);
    for (float& x : v) x = std::fabs(x);
    const auto parameters0 = parameters, m0 = m, v0 = v;
    const auto gradients0 = gradients;
    std::vector<float*> pointers;
    for (auto& part : gradients) pointers.push_back(part.data());
    const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const int64_t step = 3;
    adam_step(parameters.data(), {pointers.data(), parts}, m.data(), v.data(), kCount, lr, b1, b2,
              eps, step);
    for (size_t i = 0; i < kCount; ++i) {
      float g = gradients0[0][i];
      for (int t = 1; t < parts; ++t) g += gradients0[size_t(t)][i];  // float, in part order
      const double m1 = b1 * m0[i] + (1 - b1) * g, v1 = b2 * v0[i] + (1 - b2) * double(g) * g;
      const double expected =
          parameters0[i] - lr / (1 - std::pow(b1, step)) * m1 /
                               (std::sqrt(v1) / std::sqrt(1 - std::pow(b2, step)) + eps);
      EXPECT_NEAR(m[i], m1, 1e-6) << parts << " parts, value " << i;
      EXPECT_NEAR(v[i], v1, 1e-6) << parts << " parts, value " << i;
      EXPECT_NEAR(parameters[i], expected, 1e-5) << parts << " parts, value " << i;
      for (int t = 0; t < parts; ++t) EXPECT_EQ(gradients[size_t(t)][i], 0.0f);
    }
  }
}

TEST(Optimizer, SgdWithAndWithoutMomentumSumsAndZeroesTheParts) {
  constexpr size_t kCount = 21;
  for (double momentum : {0.0, 0.9}) {
    for (bool first_step : {true, false}) {
      Rng rng(7);
      std::vector<float> a = random_values(kCount, rng), b = random_values(kCount, rng);
      std::vector<float> parameters = random_values(kCount, rng);
      std::vector<float> velocity = random_values(kCount, rng);
      const auto a0 = a, b0 = b, parameters0 = parameters, velocity0 = velocity;
      float* pointers[] = {a.data(), b.data()};
      sgd_step(parameters.data(), {pointers, 2}, velocity.data(), kCount, 0.1, momentum,
               first_step);
      for (size_t i = 0; i < kCount; ++i) {
        const float g = a0[i] + b0[i];
        const double step_direction =
            momentum == 0.0 ? g : (first_step ? g : momentum * velocity0[i] + g);
        EXPECT_NEAR(parameters[i], parameters0[i] - 0.1 * step_direction, 1e-6);
        EXPECT_EQ(a[i], 0.0f);
        EXPECT_EQ(b[i], 0.0f);
      }
    }
  }
}

}  // namespace
}  // namespace edgetrain
