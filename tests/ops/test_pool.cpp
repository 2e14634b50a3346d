// Pooling: finite-difference gradient checks of max and average pooling (with and without
// exclude_padding), the padding rules, and the accumulation rule.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
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

Pool2dShape make_pool(int in_size, int out_size, int kernel, int stride, int pad) {
  Pool2dShape s;
  s.batch = 2, s.channels = 3;
  s.in_height = s.in_width = in_size;
  s.out_height = s.out_width = out_size;
  s.kernel_height = s.kernel_width = kernel;
  s.stride_height = s.stride_width = stride;
  s.pad_top = s.pad_left = pad;
  return s;
}

// Shapes: LeNet's 2x2/2, overlapping 3x3/2 windows with padding on both sides, and an asymmetric
// window whose last row/column hangs past the image.
std::vector<Pool2dShape> pool_shapes() {
  Pool2dShape asymmetric = make_pool(5, 3, 2, 2, 1);
  asymmetric.in_width = 6, asymmetric.out_width = 4;
  asymmetric.kernel_width = 3, asymmetric.stride_width = 1, asymmetric.pad_left = 0;
  return {make_pool(6, 3, 2, 2, 0), make_pool(7, 4, 3, 2, 1), asymmetric, make_pool(19, 9, 2, 2, 0),
          make_pool(10, 6, 2, 2, 1)};
}

size_t in_size(const Pool2dShape& s) {
  return size_t(s.batch) * s.channels * s.in_height * s.in_width;
}
size_t out_size(const Pool2dShape& s) {
  return size_t(s.batch) * s.channels * s.out_height * s.out_width;
}

// Marks every input of a window whose two largest in-image values are closer than 2*step: there
// the max switches within the finite-difference step and the derivative is not defined.
std::vector<bool> max_pool_ties(const std::vector<float>& in, const Pool2dShape& s, double step) {
  std::vector<bool> tie(in.size(), false);
  for (int plane = 0; plane < s.batch * s.channels; ++plane) {
    const size_t base = size_t(plane) * s.in_height * s.in_width;
    for (int oh = 0; oh < s.out_height; ++oh) {
      for (int ow = 0; ow < s.out_width; ++ow) {
        std::vector<size_t> window;
        for (int kh = 0; kh < s.kernel_height; ++kh) {
          for (int kw = 0; kw < s.kernel_width; ++kw) {
            const int ih = oh * s.stride_height - s.pad_top + kh;
            const int iw = ow * s.stride_width - s.pad_left + kw;
            if (ih >= 0 && ih < s.in_height && iw >= 0 && iw < s.in_width)
              window.push_back(base + size_t(ih) * s.in_width + iw);
          }
        }
        float first = -INFINITY, second = -INFINITY;
        for (size_t at : window) {
          if (in[at] > first) {
            second = first, first = in[at];
          } else if (in[at] > second) {
            second = in[at];
          }
        }
        if (first - second < 2.0 * step)
          for (size_t at : window) tie[at] = true;
      }
    }
  }
  return tie;
}

TEST(MaxPoolGradient, MatchesFiniteDifferences) {
  uint64_t seed = 1;
  for (const Pool2dShape& s : pool_shapes()) {
    Rng rng(seed++);
    auto in = random_values(in_size(s), rng);
    const auto r = random_values(out_size(s), rng);
    std::vector<float> out(out_size(s));
    std::vector<int32_t> argmax(out_size(s));
    auto loss = [&] {
      maxpool2d_forward(out.data(), argmax.data(), in.data(), s);
      return weighted_sum(out, r);
    };
    loss();
    std::vector<float> dinput(in.size());
    maxpool2d_backward(dinput.data(), r.data(), argmax.data(), s);
    const GradientTolerance tolerance;
    const std::vector<bool> tie = max_pool_ties(in, s, tolerance.step);
    EXPECT_TRUE(check_gradient("dinput", in, dinput, loss, [&](size_t i) { return tie[i]; }));

    auto twice = dinput;
    maxpool2d_backward(twice.data(), r.data(), argmax.data(), s);
    EXPECT_TRUE(is_doubled("dinput", dinput, twice));
  }
}

TEST(AvgPoolGradient, MatchesFiniteDifferencesWithAndWithoutExcludePadding) {
  uint64_t seed = 10;
  for (bool exclude_padding : {false, true}) {
    for (const Pool2dShape& s : pool_shapes()) {
      SCOPED_TRACE(exclude_padding ? "exclude padding" : "include padding");
      Rng rng(seed++);
      auto in = random_values(in_size(s), rng);
      const auto r = random_values(out_size(s), rng);
      std::vector<float> out(out_size(s));
      auto loss = [&] {
        avgpool2d_forward(out.data(), in.data(), s, exclude_padding);
        return weighted_sum(out, r);
      };
      std::vector<float> dinput(in.size());
      avgpool2d_backward(dinput.data(), r.data(), s, exclude_padding);
      EXPECT_TRUE(check_gradient("dinput", in, dinput, loss));

      auto twice = dinput;
      avgpool2d_backward(twice.data(), r.data(), s, exclude_padding);
      EXPECT_TRUE(is_doubled("dinput", dinput, twice));
    }
  }
}

// Direct scan of every window in row-major order: the first strict maximum wins, -1 if none.
void max_pool_brute_force(std::vector<float>& out, std::vector<int32_t>& argmax,
                          const std::vector<float>& in, const Pool2dShape& s) {
  size_t o = 0;
  for (int plane = 0; plane < s.batch * s.channels; ++plane) {
    const float* image = in.data() + size_t(plane) * s.in_height * s.in_width;
    for (int oh = 0; oh < s.out_height; ++oh) {
      for (int ow = 0; ow < s.out_width; ++ow, ++o) {
        int32_t best_at = -1;
        for (int kh = 0; kh < s.kernel_height; ++kh) {
          for (int kw = 0; kw < s.kernel_width; ++kw) {
            const int ih = oh * s.stride_height - s.pad_top + kh;
            const int iw = ow * s.stride_width - s.pad_left + kw;
            if (ih < 0 || ih >= s.in_height || iw < 0 || iw >= s.in_width) continue;
            const int32_t at = ih * s.in_width + iw;
            if (best_at < 0 || image[at] > image[best_at]) best_at = at;
          }
        }
        argmax[o] = best_at;
        out[o] = best_at < 0 ? 0.0f : image[best_at];
      }
    }
  }
}

TEST(MaxPool, MatchesBruteForceIncludingTiesAndInfinities) {
  std::vector<Pool2dShape> shapes = pool_shapes();
  shapes.push_back(make_pool(26, 13, 2, 2, 0));  // LeNet
  shapes.push_back(make_pool(9, 4, 2, 2, 0));    // odd input, last row/column unused
  shapes.push_back(make_pool(11, 7, 2, 2, 1));   // padded both sides
  shapes.push_back(make_pool(12, 4, 3, 3, 0));
  Rng rng(99);
  for (const Pool2dShape& s : shapes) {
    // Few distinct values so that ties are common; some -inf, including whole windows.
    std::vector<float> in(in_size(s));
    for (float& x : in) x = float(int(rng.below(4))) - 1.0f;
    for (size_t i = 0; i < in.size(); i += 7) in[i] = -INFINITY;
    for (int i = 0; i < 4 && i < s.in_width; ++i) in[i] = -INFINITY;
    std::vector<float> out(out_size(s)), expected(out_size(s));
    std::vector<int32_t> argmax(out_size(s)), expected_argmax(out_size(s));
    maxpool2d_forward(out.data(), argmax.data(), in.data(), s);
    max_pool_brute_force(expected, expected_argmax, in, s);
    EXPECT_EQ(argmax, expected_argmax) << "in " << s.in_height << "x" << s.in_width;
    EXPECT_EQ(out, expected);
  }
}

TEST(MaxPool, PaddingNeverWinsAndAllPaddingWindowsAreSkipped) {
  // 2x2 image of negative values, 2x2 windows with stride 2 and padding 2: the first output
  // window lies entirely in the padding, the second row/column ones see the image.
  Pool2dShape s = make_pool(2, 2, 2, 2, 2);
  s.batch = 1, s.channels = 1;
  s.out_height = s.out_width = 2;
  const std::vector<float> in{-4.0f, -3.0f, -2.0f, -5.0f};
  std::vector<float> out(4, 99.0f);
  std::vector<int32_t> argmax(4, 99);
  maxpool2d_forward(out.data(), argmax.data(), in.data(), s);
  // Window (1,1) covers the whole image; the others are all padding.
  EXPECT_EQ(out, (std::vector<float>{0.0f, 0.0f, 0.0f, -2.0f}));
  EXPECT_EQ(argmax, (std::vector<int32_t>{-1, -1, -1, 2}));

  std::vector<float> dinput(4, 0.0f);
  const std::vector<float> dout{1.0f, 1.0f, 1.0f, 5.0f};
  maxpool2d_backward(dinput.data(), dout.data(), argmax.data(), s);
  EXPECT_EQ(dinput, (std::vector<float>{0.0f, 0.0f, 5.0f, 0.0f}));
}

TEST(MaxPool, TiesGoToTheFirstPosition) {
  Pool2dShape s = make_pool(2, 1, 2, 2, 0);
  s.batch = 1, s.channels = 1;
  const std::vector<float> in{1.0f, 3.0f, 3.0f, 2.0f};
  std::vector<float> out(1);
  std::vector<int32_t> argmax(1);
  maxpool2d_forward(out.data(), argmax.data(), in.data(), s);
  EXPECT_EQ(out[0], 3.0f);
  EXPECT_EQ(argmax[0], 1);
}

TEST(AvgPool, DivisorCountsOrExcludesPadding) {
  // 2x2 ones, 3x3 window, padding 1, stride 1 → a 2x2 output; each window sees 4 image values.
  Pool2dShape s = make_pool(2, 2, 3, 1, 1);
  s.batch = 1, s.channels = 1;
  const std::vector<float> in(4, 1.0f);
  std::vector<float> out(4);
  avgpool2d_forward(out.data(), in.data(), s, /*exclude_padding=*/false);
  for (float v : out) EXPECT_FLOAT_EQ(v, 4.0f / 9.0f);
  avgpool2d_forward(out.data(), in.data(), s, /*exclude_padding=*/true);
  for (float v : out) EXPECT_FLOAT_EQ(v, 1.0f);

  // A window entirely in the padding outputs 0 and receives nothing, in both modes.
  Pool2dShape far = make_pool(2, 2, 2, 2, 2);
  far.batch = 1, far.channels = 1;
  for (bool exclude_padding : {false, true}) {
    std::vector<float> out_far(4, 99.0f), dinput(4, 0.0f);
    avgpool2d_forward(out_far.data(), in.data(), far, exclude_padding);
    EXPECT_EQ(out_far[0], 0.0f);
    EXPECT_FLOAT_EQ(out_far[3], 1.0f);  // this window covers the whole image
    const std::vector<float> dout{1.0f, 1.0f, 1.0f, 0.0f};
    avgpool2d_backward(dinput.data(), dout.data(), far, exclude_padding);
    EXPECT_EQ(dinput, std::vector<float>(4, 0.0f));
  }
}

}  // namespace
}  // namespace edgetrain::ops
