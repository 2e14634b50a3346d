// Activations, flatten and softmax: forward values on known inputs, finite-difference gradient
// checks, and the accumulation / null-gradient rules.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "ops/gradient_check.h"
#include "ops/ops.h"
#include "base/rng.h"

namespace edgetrain::ops {
namespace {

using testing::check_gradient;
using testing::GradientTolerance;
using testing::is_doubled;
using testing::random_values;
using testing::weighted_sum;

// An activation's forward(out, in, n) and backward(dinput, dout, out, n).
using Forward = std::function<void(float*, const float*, size_t)>;
using Backward = std::function<void(float*, const float*, const float*, size_t)>;

void check_activation(const char* name, const Forward& forward, const Backward& backward, float low,
                      float high, const std::function<bool(float)>& kink = {}) {
  SCOPED_TRACE(name);
  Rng rng(42);
  const size_t n = 257;
  auto in = random_values(n, rng, low, high);
  const auto r = random_values(n, rng);
  std::vector<float> out(n);
  auto loss = [&] {
    forward(out.data(), in.data(), n);
    return weighted_sum(out, r);
  };
  loss();
  std::vector<float> dinput(n);
  backward(dinput.data(), r.data(), out.data(), n);
  auto skip = [&](size_t i) { return kink && kink(in[i]); };
  EXPECT_TRUE(check_gradient("dinput", in, dinput, loss, skip));

  auto twice = dinput;
  backward(twice.data(), r.data(), out.data(), n);
  EXPECT_TRUE(is_doubled("dinput", dinput, twice));
  backward(nullptr, r.data(), out.data(), n);  // null dinput: nothing to do, must not crash
}

TEST(ActivationGradient, Relu) {
  const double step = GradientTolerance{}.step;
  check_activation("relu", relu_forward, relu_backward, -1.0f, 1.0f,
                   [step](float x) { return std::fabs(x) <= 2.0 * step; });
}

TEST(ActivationGradient, Sigmoid) {
  check_activation("sigmoid", sigmoid_forward, sigmoid_backward, -4.0f, 4.0f);
}

TEST(ActivationGradient, Tanh) {
  check_activation("tanh", tanh_forward, tanh_backward, -3.0f, 3.0f);
}

TEST(ActivationGradient, Linear) {
  const float alpha = -1.5f, beta = 0.25f;
  check_activation(
      "linear",
      [=](float* out, const float* in, size_t n) { linear_forward(out, in, n, alpha, beta); },
      [=](float* din, const float* dout, const float*, size_t n) {
        linear_backward(din, dout, n, alpha);
      },
      -2.0f, 2.0f);
}

TEST(Activation, ForwardValues) {
  const std::vector<float> in{-1000.0f, -2.0f, 0.0f, 0.5f, 1000.0f};
  std::vector<float> out(in.size());
  relu_forward(out.data(), in.data(), in.size());
  EXPECT_EQ(out, (std::vector<float>{0.0f, 0.0f, 0.0f, 0.5f, 1000.0f}));
  sigmoid_forward(out.data(), in.data(), in.size());
  EXPECT_EQ(out[0], 0.0f);  // no overflow, no NaN at the extremes
  EXPECT_FLOAT_EQ(out[1], 1.0f / (1.0f + std::exp(2.0f)));
  EXPECT_FLOAT_EQ(out[2], 0.5f);
  EXPECT_EQ(out[4], 1.0f);
  tanh_forward(out.data(), in.data(), in.size());
  EXPECT_EQ(out[0], -1.0f);
  EXPECT_FLOAT_EQ(out[3], std::tanh(0.5f));
  linear_forward(out.data(), in.data(), in.size(), 2.0f, 1.0f);
  EXPECT_EQ(out[1], -3.0f);
}

TEST(Activation, InPlaceReluBackwardEqualsReluBackwardIntoZeros) {
  Rng rng(11);
  std::vector<float> out = random_values(1031, rng), grad = random_values(1031, rng);
  for (size_t i = 0; i < out.size(); i += 7) out[i] = 0.0f;  // exactly 0 passes no gradient
  out[3] = std::nanf("");                                    // nor does NaN
  relu_forward(out.data(), out.data(), out.size());
  std::vector<float> expected(out.size(), 0.0f);
  relu_backward(expected.data(), grad.data(), out.data(), out.size());
  relu_backward_in_place(grad.data(), out.data(), out.size());
  EXPECT_EQ(grad, expected);
}

TEST(Flatten, ChannelLastOrder) {
  // One sample (C=2, H=1, W=3): channel-last interleaves the channels.
  const std::vector<float> in{0, 1, 2, 10, 11, 12};
  std::vector<float> out(6);
  flatten_forward(out.data(), in.data(), 1, 2, 1, 3, /*channel_last=*/true);
  EXPECT_EQ(out, (std::vector<float>{0, 10, 1, 11, 2, 12}));
  flatten_forward(out.data(), in.data(), 1, 2, 1, 3, /*channel_last=*/false);
  EXPECT_EQ(out, in);
}

TEST(FlattenGradient, BothOrders) {
  const int batch = 2, channels = 3, height = 2, width = 4;
  const size_t n = size_t(batch) * channels * height * width;
  for (bool channel_last : {false, true}) {
    SCOPED_TRACE(channel_last ? "channel last" : "channel first");
    Rng rng(7);
    auto in = random_values(n, rng);
    const auto r = random_values(n, rng);
    std::vector<float> out(n);
    auto loss = [&] {
      flatten_forward(out.data(), in.data(), batch, channels, height, width, channel_last);
      return weighted_sum(out, r);
    };
    std::vector<float> dinput(n);
    flatten_backward(dinput.data(), r.data(), batch, channels, height, width, channel_last);
    EXPECT_TRUE(check_gradient("dinput", in, dinput, loss));
    auto twice = dinput;
    flatten_backward(twice.data(), r.data(), batch, channels, height, width, channel_last);
    EXPECT_TRUE(is_doubled("dinput", dinput, twice));
  }
}

TEST(Softmax, StableForLargeLogitsAndSumsToOne) {
  // Two columns (inner = 2) of three channels, with logits that would overflow a naive exp.
  const std::vector<float> in{1000.0f, -5.0f, 1001.0f, 0.0f, 999.0f, 5.0f};
  std::vector<float> out(6);
  softmax_forward(out.data(), in.data(), 1, 3, 2);
  for (int s = 0; s < 2; ++s) {
    float sum = 0.0f;
    for (int c = 0; c < 3; ++c) {
      EXPECT_TRUE(std::isfinite(out[c * 2 + s]));
      sum += out[c * 2 + s];
    }
    EXPECT_NEAR(sum, 1.0f, 1e-6f);
  }
  const double z = 1.0 + std::exp(1.0) + std::exp(-1.0);
  EXPECT_NEAR(out[2], std::exp(1.0) / z, 1e-6);  // channel 1 of column 0
}

TEST(SoftmaxGradient, MatchesFiniteDifferences) {
  const int batch = 3, channels = 5;
  for (int inner : {1, 4}) {
    SCOPED_TRACE(inner);
    const size_t n = size_t(batch) * channels * inner;
    Rng rng(11 + inner);
    auto in = random_values(n, rng, -3.0f, 3.0f);
    const auto r = random_values(n, rng);
    std::vector<float> out(n);
    auto loss = [&] {
      softmax_forward(out.data(), in.data(), batch, channels, inner);
      return weighted_sum(out, r);
    };
    loss();
    std::vector<float> dinput(n);
    softmax_backward(dinput.data(), r.data(), out.data(), batch, channels, inner);
    EXPECT_TRUE(check_gradient("dinput", in, dinput, loss));
    auto twice = dinput;
    softmax_backward(twice.data(), r.data(), out.data(), batch, channels, inner);
    EXPECT_TRUE(is_doubled("dinput", dinput, twice));
  }
}

}  // namespace
}  // namespace edgetrain::ops
