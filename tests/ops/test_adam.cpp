// The Adam update kernel: the AVX-512 streaming-store version gives, value for value, the bits of
// the same arithmetic written out as scalar fused multiply-adds (the order the reference loop's
// vector body uses), over lengths and offsets that exercise its masked head and tail, with one
// gradient part and two; the plain reference agrees with both to rounding; every gradient value
// is zeroed; and the update is Adam's formula.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "base/rng.h"
#include "ops/adam.h"

namespace edgetrain::ops {
namespace {

// A large step against small parameters, so that rounding the product step·(m/d) on its own (not
// fused with the subtraction) changes the result often enough to be caught.
constexpr AdamConstants kConstants{0.3f, 0.0316f, 0.9f, 0.999f, 1e-8f, 0.1f, 0.001f};

struct AdamArrays {
  std::vector<float> parameters, first, second, m, v;
};

// Values at `offset` floats into each vector, so the kernel meets every alignment.
AdamArrays random_arrays(size_t n, size_t offset, Rng& rng) {
  auto values = [&](float low, float high) {
    std::vector<float> x(offset + n);
    for (float& value : x) value = low + (high - low) * rng.uniform();
    return x;
  };
  return {values(-0.01f, 0.01f), values(-1, 1), values(-1, 1), values(-0.1f, 0.1f),
          values(0, 0.01f)};
}

// The scalar model of one update, contracted as the kernels are (m·b1 + g·(1-b1) and
// v·b2 + g²·(1-b2) as fused multiply-adds; p - step·(m/d) as one fused negative multiply-add).
void model_update(float& p, float g, float& m, float& v, const AdamConstants& c) {
  m = std::fma(m, c.b1, g * c.one_minus_b1);
  v = std::fma(v, c.b2, (g * g) * c.one_minus_b2);
  const float denominator = std::sqrt(v) / c.correction2_sqrt + c.e;
  p = std::fma(-c.step_size, m / denominator, p);
}

bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

TEST(AdamKernel, StreamingGivesTheModelsBitsAndZeroesTheGradients) {
  float one = 0;
  if (!adam_update_streaming(&one, &one, nullptr, &one, &one, 0, kConstants)) {
    GTEST_SKIP() << "no streaming Adam kernel on this CPU or build";
  }
  Rng rng(7);
  for (size_t n : {size_t(0), size_t(1), size_t(15), size_t(16), size_t(17), size_t(33),
                   size_t(100), size_t(1000), size_t(4099)}) {
    for (size_t offset : {size_t(0), size_t(1), size_t(5), size_t(15)}) {
      for (bool two_parts : {false, true}) {
        SCOPED_TRACE("n " + std::to_string(n) + ", offset " + std::to_string(offset) +
                     (two_parts ? ", two parts" : ", one part"));
        AdamArrays in = random_arrays(n, offset, rng);
        AdamArrays out = in;
        float* second = two_parts ? out.second.data() + offset : nullptr;
        ASSERT_TRUE(adam_update_streaming(out.parameters.data() + offset, out.first.data() + offset,
                                          second, out.m.data() + offset, out.v.data() + offset, n,
                                          kConstants));
        for (size_t i = 0; i < offset + n; ++i) {
          float p = in.parameters[i], m = in.m[i], v = in.v[i];
          if (i >= offset) {
            model_update(p, two_parts ? in.first[i] + in.second[i] : in.first[i], m, v, kConstants);
          }
          ASSERT_TRUE(same_bits(out.parameters[i], p)) << "parameter " << i;
          ASSERT_TRUE(same_bits(out.m[i], m)) << "m " << i;
          ASSERT_TRUE(same_bits(out.v[i], v)) << "v " << i;
          // Gradients inside the range are zeroed, those before it untouched.
          ASSERT_EQ(out.first[i], i >= offset ? 0.0f : in.first[i]) << "first " << i;
          ASSERT_EQ(out.second[i], i >= offset && two_parts ? 0.0f : in.second[i]) << i;
        }
      }
    }
  }
}

TEST(AdamKernel, ReferenceAndDispatchAgreeWithTheModel) {
  Rng rng(11);
  for (size_t n : {size_t(1), size_t(31), size_t(1000)}) {
    for (bool two_parts : {false, true}) {
      AdamArrays in = random_arrays(n, 3, rng);
      AdamArrays reference = in, dispatched = in;
      auto run = [&](AdamArrays& a, auto update) {
        update(a.parameters.data() + 3, a.first.data() + 3,
               two_parts ? a.second.data() + 3 : nullptr, a.m.data() + 3, a.v.data() + 3, n,
               kConstants);
      };
      run(reference, adam_update_reference);
      run(dispatched, adam_update);
      for (size_t i = 3; i < n + 3; ++i) {
        float p = in.parameters[i], m = in.m[i], v = in.v[i];
        model_update(p, two_parts ? in.first[i] + in.second[i] : in.first[i], m, v, kConstants);
        // Builds without FMA contraction (the baseline clone, sanitizer builds) round in between.
        EXPECT_NEAR(reference.parameters[i], p, 1e-6f * (1 + std::fabs(p))) << i;
        EXPECT_NEAR(reference.m[i], m, 1e-6f) << i;
        EXPECT_NEAR(reference.v[i], v, 1e-7f) << i;
        EXPECT_NEAR(dispatched.parameters[i], p, 1e-6f * (1 + std::fabs(p))) << i;
        EXPECT_EQ(reference.first[i], 0.0f);
        EXPECT_EQ(dispatched.first[i], 0.0f);
        if (two_parts) {
          EXPECT_EQ(dispatched.second[i], 0.0f);
        }
        // Adam moved the parameter against the sign of m (the step is lr·m/(sqrt(v)+eps)).
        if (m != 0) {
          EXPECT_LT((dispatched.parameters[i] - in.parameters[i]) * m, 0.0f) << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace edgetrain::ops
