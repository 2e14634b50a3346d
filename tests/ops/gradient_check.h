// Shared helpers for the op tests: random data, the scalar test loss L = Σ out·R, and a
// finite-difference gradient check.
//
// The check perturbs each element x[i] by ±step, reruns the float forward kernels, sums L in double
// and compares (L(x+h) - L(x-h)) / 2h with the analytic gradient from the backward kernel (called
// with dout = R, which is dL/dout). Elements at a kink (ReLU at 0, max-pool near-ties) are skipped
// by the caller's predicate.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <vector>

#include "base/rng.h"

namespace edgetrain::ops::testing {

inline std::vector<float> random_values(size_t size, Rng& rng, float low = -1.0f,
                                        float high = 1.0f) {
  std::vector<float> v(size);
  for (float& x : v) x = low + (high - low) * rng.uniform();
  return v;
}

// L = Σ out[i] * weights[i], in double so the finite differences are not lost to rounding.
inline double weighted_sum(const std::vector<float>& out, const std::vector<float>& weights) {
  EXPECT_EQ(out.size(), weights.size());
  double sum = 0.0;
  for (size_t i = 0; i < out.size(); ++i) sum += double(out[i]) * weights[i];
  return sum;
}

struct GradientTolerance {
  double step = 1e-2;
  double absolute = 2e-3;
  double relative = 1e-2;
};

// Compares `analytic` (dL/dx from backward) with central differences of `loss` over every element
// of `x`. `x` is restored, and `loss` rerun once at the end so buffers it fills match `x` again.
inline ::testing::AssertionResult check_gradient(const char* name, std::vector<float>& x,
                                                 const std::vector<float>& analytic,
                                                 const std::function<double()>& loss,
                                                 const std::function<bool(size_t)>& skip = {},
                                                 GradientTolerance tolerance = {}) {
  if (analytic.size() != x.size()) {
    return ::testing::AssertionFailure() << name << ": analytic gradient has " << analytic.size()
                                         << " values for " << x.size() << " inputs";
  }
  std::ostringstream failures;
  size_t failed = 0, checked = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (skip && skip(i)) continue;
    const float saved = x[i];
    x[i] = float(saved + tolerance.step);
    const double loss_plus = loss();
    x[i] = float(saved - tolerance.step);
    const double loss_minus = loss();
    // Divide by the step actually taken: saved ± step is rounded to float.
    const double taken = double(float(saved + tolerance.step)) - float(saved - tolerance.step);
    x[i] = saved;
    const double numeric = (loss_plus - loss_minus) / taken;
    const double bound =
        tolerance.absolute +
        tolerance.relative * std::max(std::fabs(numeric), std::fabs(double(analytic[i])));
    ++checked;
    if (!(std::fabs(numeric - analytic[i]) <= bound)) {
      if (++failed <= 10) {
        failures << "\n  " << name << "[" << i << "]: analytic " << analytic[i] << ", numeric "
                 << numeric << " (bound " << bound << ")";
      }
    }
  }
  loss();
  if (failed > 0) {
    return ::testing::AssertionFailure()
           << name << ": " << failed << " of " << checked << " elements differ" << failures.str();
  }
  if (checked == 0 && !x.empty()) {
    return ::testing::AssertionFailure() << name << ": every element was skipped";
  }
  return ::testing::AssertionSuccess();
}

// The accumulation rule: a second backward call into the same buffer adds the gradient again.
inline ::testing::AssertionResult is_doubled(const char* name, const std::vector<float>& once,
                                             const std::vector<float>& twice) {
  for (size_t i = 0; i < once.size(); ++i) {
    const float expected = 2.0f * once[i];
    if (!(std::fabs(twice[i] - expected) <= 1e-6f * (1.0f + std::fabs(expected)))) {
      return ::testing::AssertionFailure()
             << name << "[" << i << "]: once " << once[i] << ", twice " << twice[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// Element-wise comparison of an optimised result with its reference within
// absolute + relative * |reference|; prints the first mismatches.
inline ::testing::AssertionResult all_near(const char* name, const std::vector<float>& actual,
                                           const std::vector<float>& expected, double absolute,
                                           double relative = 1e-4) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure()
           << name << ": sizes " << actual.size() << " vs " << expected.size();
  }
  std::ostringstream failures;
  size_t failed = 0;
  double max_difference = 0.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double difference = std::fabs(double(actual[i]) - expected[i]);
    max_difference = std::max(max_difference, difference);
    if (!(difference <= absolute + relative * std::fabs(expected[i])) && ++failed <= 5) {
      failures << "\n  " << name << "[" << i << "]: " << actual[i] << " vs reference "
               << expected[i];
    }
  }
  if (failed > 0) {
    return ::testing::AssertionFailure()
           << name << ": " << failed << " of " << actual.size() << " differ, max difference "
           << max_difference << failures.str();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace edgetrain::ops::testing
