// Fused convolution + ReLU + max-pool against the plain composition conv2d_forward_reference →
// relu_forward → maxpool2d_forward (forward, argmax and all three gradients, both layouts of the
// input and the output, every kernel: chosen by shape and forced), finite-difference gradient
// checks, the accumulation / null-gradient rules, and which shapes the op accepts.
//
// Two kinds of data. "float": uniform in [-1, 1]; the fused GEMM sums in another order than the
// reference, so a window whose two largest values (or whose max and 0) are within rounding may go
// either way: such windows are reported as ambiguous and get no gradient in the backward
// comparison. "exact": inputs and weights are multiples of 1/8 and biases of 1/64, so every
// convolution value is exact in float whatever the summation order; ties (and zeros) are then
// common and must be resolved exactly as the reference resolves them (first maximum in row-major
// window order wins).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "base/rng.h"
#include "ops/conv_relu_pool_shape.h"
#include "ops/gradient_check.h"
#include "ops/ops.h"

namespace edgetrain::ops {
namespace {

using testing::all_near;
using testing::check_gradient;
using testing::conv_relu_pool_shape;
using testing::is_doubled;
using testing::random_values;
using testing::weighted_sum;

struct FusedCase {
  const char* name;
  ConvReluPoolShape shape;  // channel-first, kernel chosen by shape; the tests set both
};

// K = KH·KW·IC is the patch depth, KW·IC the length of a patch row in a channel-last input. The
// shapes reach every kernel when the op picks by shape: shallow (direct) and deep in-register
// forwards, im2col + GEMM; sparse and dense backward, and the direct weight gradient.
std::vector<FusedCase> comparison_cases() {
  return {
      {"lenet conv1: 1->32, 3x3 (K 9)", conv_relu_pool_shape(3, 1, 28, 28, 32, 3, 3, 2, 2)},
      {"lenet conv2: 32->32, 2x2 (K 128)", conv_relu_pool_shape(2, 32, 13, 13, 32, 2, 2, 2, 2)},
      // conv 8x5, pooled 2x2: the floor drops two conv rows and one column.
      {"3->5, 9x7 input, 2x3 kernel, 3x2 pool (K 18)",
       conv_relu_pool_shape(2, 3, 9, 7, 5, 2, 3, 3, 2)},
      // K at kSparseBackwardMinDepth, rows of 16; conv 6x7, pooled 3x3 drops a column.
      {"8->6, 2x2 (K 32)", conv_relu_pool_shape(2, 8, 7, 8, 6, 2, 2, 2, 2)},
      {"3->4, 3x3 (K 27)", conv_relu_pool_shape(2, 3, 8, 8, 4, 3, 3, 2, 2)},
      // Deep but rows of 12 floats; conv 6x7, pooled 3x2 drops a column.
      {"4->3, 3x3, 2x3 pool (K 36)", conv_relu_pool_shape(1, 4, 8, 9, 3, 3, 3, 2, 3)},
      // One output channel: both output layouts are the same buffer.
      {"2->1, 3x3 (K 18)", conv_relu_pool_shape(2, 2, 6, 6, 1, 3, 3, 2, 2)},
      // LeNet's first kernel under another pool; conv 10x9, pooled 3x4 drops a row and a column.
      {"1->16, 3x3, 3x2 pool (K 9)", conv_relu_pool_shape(2, 1, 12, 11, 16, 3, 3, 3, 2)},
      // Shallow with several input channels; conv 8x7, pooled 2x3 drops two rows and a column.
      {"4->16, 2x2, 3x2 pool (K 16)", conv_relu_pool_shape(2, 4, 9, 8, 16, 2, 2, 3, 2)},
      // Deep, 32 channels, odd pool; conv 8x7, pooled 2x3.
      {"3->32, 3x3, 3x2 pool (K 27)", conv_relu_pool_shape(1, 3, 10, 9, 32, 3, 3, 3, 2)},
      // Rows of 32 floats, non-square pool; conv 6x8, pooled 3x2 drops two columns.
      {"16->5, 2x2, 2x3 pool (K 64)", conv_relu_pool_shape(1, 16, 7, 9, 5, 2, 2, 2, 3)},
      // Nine window positions (an odd count), rows of 16; conv 9x10, pooled 3x3 drops a column.
      {"8->32, 2x2, 3x3 pool (K 32)", conv_relu_pool_shape(1, 8, 10, 11, 32, 2, 2, 3, 3)},
      // A 1x1 pool: convolution + ReLU only, every argmax 0 or kNoGradient.
      {"4->32, 3x3, 1x1 pool (K 36)", conv_relu_pool_shape(1, 4, 6, 6, 32, 3, 3, 1, 1)},
      // Two blocks of 32 output channels.
      {"16->64, 2x2 (K 64)", conv_relu_pool_shape(2, 16, 6, 7, 64, 2, 2, 2, 2)},
      // Patch rows of 64 floats, as LeNet's conv2, but three of them: the sparse backward sums
      // rows 0 and 1 as a pair, row 2 alone; conv 5x5, pooled 2x2 drops a row and a column.
      {"32->8, 3x2 (K 192)", conv_relu_pool_shape(1, 32, 7, 6, 8, 3, 2, 2, 2)},
      // Rows of 128 floats: two blocks of 64 per row pair.
      {"64->4, 2x2 (K 256)", conv_relu_pool_shape(1, 64, 5, 5, 4, 2, 2, 2, 2)},
      // 324 windows (conv 36x36, pooled 18x18), rows of 16: the sparse weight gradient lists
      // each channel's live windows in two chunks (256 + 68).
      {"8->4, 2x2, 37x37 input (K 32)", conv_relu_pool_shape(1, 8, 37, 37, 4, 2, 2, 2, 2)},
      // The sparse input gradient groups a window's channels eight at a time, then one by one:
      // 13 channels take both ways; 1024 (the most a pool takes) fill its list to the end.
      {"8->13, 2x2 (K 32)", conv_relu_pool_shape(2, 8, 7, 7, 13, 2, 2, 2, 2)},
      {"8->1024, 2x2, 3x3 input (K 32)", conv_relu_pool_shape(1, 8, 3, 3, 1024, 2, 2, 2, 2)},
  };
}

// Small shapes for the finite-difference check.
std::vector<FusedCase> gradient_cases() {
  return {
      {"2->3, 2x2 (K 8)", conv_relu_pool_shape(2, 2, 6, 7, 3, 2, 2, 2, 2)},
      {"8->3, 2x2 (K 32)", conv_relu_pool_shape(2, 8, 5, 5, 3, 2, 2, 2, 2)},
      {"3->2, 2x3, 3x2 pool (K 18)", conv_relu_pool_shape(1, 3, 7, 6, 2, 2, 3, 3, 2)},
      {"1->2, 3x3 (K 9)", conv_relu_pool_shape(2, 1, 7, 7, 2, 3, 3, 2, 2)},
      {"2->16, 2x2 (K 8)", conv_relu_pool_shape(1, 2, 6, 6, 16, 2, 2, 2, 2)},
      {"16->32, 2x2 (K 64)", conv_relu_pool_shape(1, 16, 5, 5, 32, 2, 2, 2, 2)},
  };
}

size_t input_size(const ConvReluPoolShape& s) {
  const Conv2dShape& c = s.conv;
  return size_t(c.batch) * c.in_channels * c.in_height * c.in_width;
}
size_t conv_size(const ConvReluPoolShape& s) {
  const Conv2dShape& c = s.conv;
  return size_t(c.batch) * c.out_channels * c.out_height * c.out_width;
}
size_t output_size(const ConvReluPoolShape& s) {
  return size_t(s.conv.batch) * s.conv.out_channels * s.out_height * s.out_width;
}
size_t weight_size(const ConvReluPoolShape& s) {
  const Conv2dShape& c = s.conv;
  return size_t(c.out_channels) * c.in_channels * c.kernel_height * c.kernel_width;
}
int patch_depth(const ConvReluPoolShape& s) {
  return s.conv.kernel_height * s.conv.kernel_width * s.conv.in_channels;
}

Pool2dShape pool_shape(const ConvReluPoolShape& s) {
  Pool2dShape p;
  p.batch = s.conv.batch, p.channels = s.conv.out_channels;
  p.in_height = s.conv.out_height, p.in_width = s.conv.out_width;
  p.out_height = s.out_height, p.out_width = s.out_width;
  p.kernel_height = p.stride_height = s.pool_height;
  p.kernel_width = p.stride_width = s.pool_width;
  return p;
}

// (N, C, HW) → (N, HW, C) per sample, and back.
std::vector<float> to_channel_last(const std::vector<float>& v, int batch, int channels) {
  const size_t plane = v.size() / size_t(batch) / size_t(channels);
  std::vector<float> t(v.size());
  for (size_t n = 0; n < size_t(batch); ++n)
    for (size_t c = 0; c < size_t(channels); ++c)
      for (size_t p = 0; p < plane; ++p)
        t[(n * plane + p) * channels + c] = v[(n * channels + c) * plane + p];
  return t;
}
std::vector<float> from_channel_last(const std::vector<float>& t, int batch, int channels) {
  const size_t plane = t.size() / size_t(batch) / size_t(channels);
  std::vector<float> v(t.size());
  for (size_t n = 0; n < size_t(batch); ++n)
    for (size_t c = 0; c < size_t(channels); ++c)
      for (size_t p = 0; p < plane; ++p)
        v[(n * channels + c) * plane + p] = t[(n * plane + p) * channels + c];
  return v;
}

// Multiples of 1/denominator in [-1, 1]: sums of their products stay exact in float.
std::vector<float> exact_values(size_t size, Rng& rng, int denominator) {
  std::vector<float> v(size);
  for (float& x : v)
    x = float(int(rng.below(uint64_t(2 * denominator + 1))) - denominator) / float(denominator);
  return v;
}

// Everything a test case draws, channel-first.
struct Data {
  std::vector<float> in, weight, bias;           // (N, IC, IH, IW), (OC, IC, KH, KW), (OC)
  std::vector<float> dout;                       // (N, OC, PH, PW)
  std::vector<float> dinput0, dweight0, dbias0;  // gradients' starting values: backward adds
};

Data make_data(const ConvReluPoolShape& s, bool exact, uint64_t seed) {
  Rng rng(seed);
  auto draw = [&](size_t size, int denominator) {
    return exact ? exact_values(size, rng, denominator) : random_values(size, rng);
  };
  Data d;
  d.in = draw(input_size(s), 8);
  d.weight = draw(weight_size(s), 8);
  d.bias = draw(size_t(s.conv.out_channels), 64);
  d.dout = draw(output_size(s), 8);
  d.dinput0 = draw(input_size(s), 8);
  d.dweight0 = draw(weight_size(s), 8);
  d.dbias0 = draw(size_t(s.conv.out_channels), 8);
  return d;
}

// The plain composition, channel-first.
struct Reference {
  std::vector<float> conv;      // (N, OC, OH, OW): convolution + bias, before ReLU
  std::vector<float> pooled;    // (N, OC, PH, PW)
  std::vector<int32_t> argmax;  // (N, OC, PH, PW): index into the (OH, OW) plane
};

Reference reference_forward(const ConvReluPoolShape& s, const std::vector<float>& in,
                            const std::vector<float>& weight, const float* bias) {
  Reference r;
  r.conv.resize(conv_size(s));
  conv2d_forward_reference(r.conv.data(), in.data(), weight.data(), bias, s.conv);
  std::vector<float> relu(r.conv.size());
  relu_forward(relu.data(), r.conv.data(), relu.size());
  r.pooled.resize(output_size(s));
  r.argmax.resize(output_size(s));
  maxpool2d_forward(r.pooled.data(), r.argmax.data(), relu.data(), pool_shape(s));
  return r;
}

// The fused op, called with buffers in the layouts its flags select. The workspace starts as NaN
// (the op must not read scratch it has not written) and is followed by a guard that must survive.
constexpr size_t kGuard = 64;
constexpr float kGuardValue = 12345.0f;

std::vector<float> poisoned_workspace(const ConvReluPoolShape& s) {
  std::vector<float> workspace(conv_relu_pool_workspace_floats(s) + kGuard,
                               std::numeric_limits<float>::quiet_NaN());
  std::fill(workspace.end() - kGuard, workspace.end(), kGuardValue);
  return workspace;
}

::testing::AssertionResult guard_intact(const std::vector<float>& workspace) {
  for (size_t i = workspace.size() - kGuard; i < workspace.size(); ++i) {
    if (workspace[i] != kGuardValue) {
      return ::testing::AssertionFailure()
             << "workspace overrun: float " << i - (workspace.size() - kGuard)
             << " past conv_relu_pool_workspace_floats was written";
    }
  }
  return ::testing::AssertionSuccess();
}

struct Fused {
  std::vector<float> out;       // (N, OC, PH, PW), moved back to channel-first if need be
  std::vector<uint8_t> argmax;  // (N, PH·PW, OC) as the op keeps it
};

Fused fused_forward(const ConvReluPoolShape& s, const Data& d, const float* bias) {
  const int batch = s.conv.batch;
  const auto in = s.input_channel_last ? to_channel_last(d.in, batch, s.conv.in_channels) : d.in;
  Fused f;
  std::vector<float> out(output_size(s), -7.0f);
  f.argmax.assign(output_size(s) + kGuard, 77);
  auto workspace = poisoned_workspace(s);
  conv_relu_pool_forward(out.data(), f.argmax.data(), in.data(), d.weight.data(), bias, s,
                         workspace.data());
  EXPECT_TRUE(guard_intact(workspace));
  for (size_t i = output_size(s); i < f.argmax.size(); ++i) {
    EXPECT_EQ(f.argmax[i], 77) << "argmax written past its end";
  }
  f.argmax.resize(output_size(s));
  f.out = s.output_channel_last ? from_channel_last(out, batch, s.conv.out_channels) : out;
  return f;
}

// Checks the fused argmax: kNoGradient exactly where the fused output is 0, otherwise a window
// position; and the reference's choice: kNoGradient where the reference pooled 0, else the position
// (row-major in the window) of the reference's max. A disagreement is accepted only when the
// reference's values are within `tolerance` (two competing maxima, or the max and 0); those
// pooled elements come back marked (index (N, OC, PH, PW)). tolerance 0: no disagreement at all.
std::vector<bool> check_argmax(const ConvReluPoolShape& s, const Fused& f, const Reference& r,
                               double tolerance) {
  const int oc = s.conv.out_channels, ph = s.out_height, pw = s.out_width, ow = s.conv.out_width;
  const int windows = ph * pw, window_size = s.pool_height * s.pool_width;
  std::vector<bool> ambiguous(output_size(s), false);
  size_t failures = 0, accepted = 0;
  for (int n = 0; n < s.conv.batch; ++n) {
    const float* conv_plane_base = r.conv.data() + size_t(n) * oc * s.conv.out_height * ow;
    for (int o = 0; o < oc; ++o) {
      const float* conv = conv_plane_base + size_t(o) * s.conv.out_height * ow;
      for (int py = 0; py < ph; ++py) {
        for (int px = 0; px < pw; ++px) {
          const size_t i = ((size_t(n) * oc + o) * ph + py) * pw + px;
          const uint8_t at = f.argmax[(size_t(n) * windows + py * pw + px) * oc + o];
          const std::string where = "n " + std::to_string(n) + ", channel " + std::to_string(o) +
                                    ", window (" + std::to_string(py) + ", " + std::to_string(px) +
                                    ")";
          // The op's own invariant, exact in any data.
          if ((at == kNoGradient) != (f.out[i] == 0.0f) ||
              (at != kNoGradient && at >= window_size)) {
            if (++failures <= 5) {
              ADD_FAILURE() << where << ": argmax " << int(at) << " with pooled value " << f.out[i];
            }
            continue;
          }
          const int32_t ref_at = r.argmax[i];
          const int ref_y = ref_at / ow - py * s.pool_height,
                    ref_x = ref_at % ow - px * s.pool_width;
          float ref_max = -INFINITY;  // the window's max of conv + bias, before the ReLU
          for (int dy = 0; dy < s.pool_height; ++dy)
            for (int dx = 0; dx < s.pool_width; ++dx)
              ref_max = std::max(
                  ref_max, conv[size_t(py * s.pool_height + dy) * ow + px * s.pool_width + dx]);
          const uint8_t expected =
              r.pooled[i] > 0.0f ? uint8_t(ref_y * s.pool_width + ref_x) : kNoGradient;
          if (at == expected) continue;
          bool near = std::fabs(ref_max) <= tolerance;  // the ReLU may cut it or not
          if (at != kNoGradient && expected != kNoGradient) {
            const int y = py * s.pool_height + at / s.pool_width,
                      x = px * s.pool_width + at % s.pool_width;
            near = near || std::fabs(conv[size_t(y) * ow + x] - ref_max) <= tolerance;
          }
          if (near && tolerance > 0) {
            ambiguous[i] = true;
            ++accepted;
          } else if (++failures <= 5) {
            ADD_FAILURE() << where << ": argmax " << int(at) << ", reference " << int(expected)
                          << " (reference max " << ref_max << ", fused output " << f.out[i]
                          << ", reference output " << r.pooled[i] << ")";
          }
        }
      }
    }
  }
  EXPECT_EQ(failures, 0u) << "argmax mismatches";
  // Near-ties are rare in float data; many would mean the op breaks ties its own way.
  EXPECT_LE(accepted, output_size(s) / 100 + 2) << "windows whose argmax differed at a near-tie";
  return ambiguous;
}

using Kernel = ConvReluPoolShape::Kernel;
constexpr Kernel kKernels[] = {Kernel::kAuto, Kernel::kDirect, Kernel::kSparse, Kernel::kDense};
const char* kernel_name(Kernel kernel) {
  switch (kernel) {
    case Kernel::kAuto:
      return "auto";
    case Kernel::kDirect:
      return "direct";
    case Kernel::kSparse:
      return "sparse";
    case Kernel::kDense:
      return "dense";
  }
  return "?";
}

// The in-register kernel sets to run: every one this CPU runs (ConvReluPoolShape::kernel_set).
std::vector<int> kernel_sets() {
  std::vector<int> sets;
  for (int set = 0; set < conv_relu_pool_kernel_set_count(); ++set) sets.push_back(set);
  return sets;
}

// One run of a comparison case: the blobs' layouts, the kernel (a forced one the shape cannot run
// falls back), the kind of data, whether there is a bias, and the kernel set.
struct Config {
  bool input_channel_last, output_channel_last;
  Kernel kernel;
  bool exact, with_bias;
  int kernel_set;
};

std::vector<Config> configs() {
  std::vector<Config> all;
  for (bool input_channel_last : {false, true})
    for (bool output_channel_last : {false, true})
      for (Kernel kernel : kKernels)
        for (bool exact : {false, true})
          for (bool with_bias : {true, false})
            for (int kernel_set : kernel_sets())
              all.push_back(
                  {input_channel_last, output_channel_last, kernel, exact, with_bias, kernel_set});
  return all;
}

ConvReluPoolShape configured(const FusedCase& c, const Config& config) {
  ConvReluPoolShape s = c.shape;
  s.input_channel_last = config.input_channel_last;
  s.output_channel_last = config.output_channel_last;
  s.kernel = config.kernel;
  s.kernel_set = config.kernel_set;
  return s;
}

std::string describe(const FusedCase& c, const Config& config) {
  return std::string(c.name) + (config.input_channel_last ? ", input NHWC" : ", input NCHW") +
         (config.output_channel_last ? ", output NHWC" : ", output NCHW") + ", kernel " +
         kernel_name(config.kernel) + (config.exact ? ", exact data" : ", float data") +
         (config.with_bias ? ", bias" : ", no bias") + ", kernels " +
         conv_relu_pool_kernel_set_name(config.kernel_set);
}

// Tolerance for a sum of `terms` products of values in [-1, 1], both sides in float (as in
// test_conv.cpp).
double sum_tolerance(size_t terms) {
  return 2e-6 * double(terms) + 1e-5;
}

TEST(ConvReluPoolForward, MatchesReferenceComposition) {
  uint64_t seed = 1;
  for (const FusedCase& c : comparison_cases()) {
    for (const Config& config : configs()) {
      SCOPED_TRACE(describe(c, config));
      const ConvReluPoolShape s = configured(c, config);
      ASSERT_TRUE(conv_relu_pool_supported(s));
      const Data d = make_data(s, config.exact, seed++);
      const float* bias = config.with_bias ? d.bias.data() : nullptr;
      const Reference r = reference_forward(s, d.in, d.weight, bias);
      const Fused f = fused_forward(s, d, bias);
      const double tolerance = config.exact ? 0.0 : sum_tolerance(size_t(patch_depth(s)));
      EXPECT_TRUE(all_near("out", f.out, r.pooled, tolerance, config.exact ? 0.0 : 1e-5));
      check_argmax(s, f, r, tolerance);
    }
  }
}

// The reference backward: dout masked by ReLU (pooled ≤ 0 gets nothing), routed by the reference
// argmax into dconv, then conv2d_backward_reference. Adds into the given gradients.
void reference_backward(std::vector<float>& dinput, std::vector<float>& dweight,
                        std::vector<float>& dbias, const std::vector<float>& dout,
                        const Reference& r, const ConvReluPoolShape& s, const Data& d) {
  std::vector<float> masked(dout.size());
  for (size_t i = 0; i < dout.size(); ++i) masked[i] = r.pooled[i] > 0.0f ? dout[i] : 0.0f;
  std::vector<float> dconv(conv_size(s), 0.0f);
  maxpool2d_backward(dconv.data(), masked.data(), r.argmax.data(), pool_shape(s));
  conv2d_backward_reference(dinput.data(), dweight.data(), dbias.data(), dconv.data(), d.in.data(),
                            d.weight.data(), s.conv);
}

struct Gradients {
  std::vector<float> dinput, dweight, dbias;  // dinput channel-first
};

// The fused backward from the given starting gradients (channel-first; moved to the op's layout and
// back). Buffers left empty are passed as null.
Gradients fused_backward(const ConvReluPoolShape& s, const Data& d, const Fused& f,
                         const std::vector<float>& dout, Gradients g) {
  const int batch = s.conv.batch;
  const bool in_last = s.input_channel_last, out_last = s.output_channel_last;
  const auto in = in_last ? to_channel_last(d.in, batch, s.conv.in_channels) : d.in;
  const auto dout_op = out_last ? to_channel_last(dout, batch, s.conv.out_channels) : dout;
  if (in_last && !g.dinput.empty()) g.dinput = to_channel_last(g.dinput, batch, s.conv.in_channels);
  auto workspace = poisoned_workspace(s);
  auto data_or_null = [](std::vector<float>& v) { return v.empty() ? nullptr : v.data(); };
  conv_relu_pool_backward(data_or_null(g.dinput), data_or_null(g.dweight), data_or_null(g.dbias),
                          dout_op.data(), f.argmax.data(), in.data(), d.weight.data(), s,
                          workspace.data());
  EXPECT_TRUE(guard_intact(workspace));
  if (in_last && !g.dinput.empty())
    g.dinput = from_channel_last(g.dinput, batch, s.conv.in_channels);
  return g;
}

// The accumulation rule, checked on a second call into the same buffers. With exact data every
// value doubles exactly (is_doubled); with float data to rounding only: the op adds partial sums
// (per sample, per block of channels) straight into the caller's buffers, so the second call
// rounds differently.
::testing::AssertionResult adds_again(const char* name, const std::vector<float>& once,
                                      const std::vector<float>& twice, bool exact) {
  if (exact) return is_doubled(name, once, twice);
  std::vector<float> doubled(once.size());
  for (size_t i = 0; i < once.size(); ++i) doubled[i] = 2.0f * once[i];
  return all_near(name, twice, doubled, 1e-4, 1e-5);
}

TEST(ConvReluPoolBackward, MatchesReferenceComposition) {
  uint64_t seed = 1000;
  for (const FusedCase& c : comparison_cases()) {
    for (const Config& config : configs()) {
      SCOPED_TRACE(describe(c, config));
      const ConvReluPoolShape s = configured(c, config);
      const bool exact = config.exact;
      Data d = make_data(s, exact, seed++);
      const float* bias = config.with_bias ? d.bias.data() : nullptr;
      const Reference r = reference_forward(s, d.in, d.weight, bias);
      const Fused f = fused_forward(s, d, bias);
      const double tolerance = exact ? 0.0 : sum_tolerance(size_t(patch_depth(s)));
      // Windows the two sides may decide differently carry no gradient on either side.
      const std::vector<bool> ambiguous = check_argmax(s, f, r, tolerance);
      for (size_t i = 0; i < d.dout.size(); ++i) {
        if (ambiguous[i]) d.dout[i] = 0.0f;
      }

      // From non-zero starting values (backward must add, not overwrite), every subset of
      // the three gradients, the others null. Subsets may run different kernels (a first
      // layer's weight gradient alone has its own), so each is compared with the reference.
      Gradients expected{d.dinput0, d.dweight0, d.dbias0};
      reference_backward(expected.dinput, expected.dweight, expected.dbias, d.dout, r, s, d);
      const double gradient_tolerance = exact ? 0.0 : 1e-4;
      for (int mask = 7; mask >= 1; --mask) {
        SCOPED_TRACE(std::string("gradients:") + (mask & 1 ? " dinput" : "") +
                     (mask & 2 ? " dweight" : "") + (mask & 4 ? " dbias" : ""));
        Gradients start;
        if (mask & 1) start.dinput = d.dinput0;
        if (mask & 2) start.dweight = d.dweight0;
        if (mask & 4) start.dbias = d.dbias0;
        const Gradients g = fused_backward(s, d, f, d.dout, start);
        if (mask & 1) {
          EXPECT_TRUE(all_near("dinput", g.dinput, expected.dinput, gradient_tolerance,
                               gradient_tolerance));
        }
        if (mask & 2) {
          EXPECT_TRUE(all_near("dweight", g.dweight, expected.dweight, gradient_tolerance,
                               gradient_tolerance));
        }
        if (mask & 4) {
          EXPECT_TRUE(
              all_near("dbias", g.dbias, expected.dbias, gradient_tolerance, gradient_tolerance));
        }
      }
      // None at all: nothing to do, nothing touched (the workspace may even be null).
      conv_relu_pool_backward(nullptr, nullptr, nullptr, d.dout.data(), f.argmax.data(),
                              d.in.data(), d.weight.data(), s, nullptr);

      // The accumulation rule: a second call into the same buffers doubles them.
      const Gradients zero{std::vector<float>(d.in.size(), 0.0f),
                           std::vector<float>(d.weight.size(), 0.0f),
                           std::vector<float>(d.bias.size(), 0.0f)};
      const Gradients once = fused_backward(s, d, f, d.dout, zero);
      const Gradients twice = fused_backward(s, d, f, d.dout, once);
      EXPECT_TRUE(adds_again("dinput", once.dinput, twice.dinput, exact));
      EXPECT_TRUE(adds_again("dweight", once.dweight, twice.dweight, exact));
      EXPECT_TRUE(adds_again("dbias", once.dbias, twice.dbias, exact));
    }
  }
}

TEST(ConvReluPoolKernels, CasesReachEveryKernel) {
  size_t sparse = 0, direct = 0, deep = 0;
  const size_t cases = comparison_cases().size();
  for (const FusedCase& c : comparison_cases()) {
    SCOPED_TRACE(c.name);
    const bool is_sparse = conv_relu_pool_backward_is_sparse(c.shape);
    const bool is_direct = conv_relu_pool_is_direct(c.shape);
    const bool is_deep = conv_relu_pool_forward_is_deep(c.shape);
    EXPECT_FALSE(is_direct && is_deep);
    // The layout flags do not change the choice.
    ConvReluPoolShape last = c.shape;
    last.input_channel_last = last.output_channel_last = true;
    EXPECT_EQ(conv_relu_pool_backward_is_sparse(last), is_sparse);
    EXPECT_EQ(conv_relu_pool_is_direct(last), is_direct);
    EXPECT_EQ(conv_relu_pool_forward_is_deep(last), is_deep);
    sparse += is_sparse, direct += is_direct, deep += is_deep;
  }
  // Each choice is made both ways by the cases, so the comparisons run every path by shape (and
  // again forced).
  EXPECT_GE(sparse, 2u);
  EXPECT_LE(sparse, cases - 2);
  EXPECT_GE(direct, 2u);
  EXPECT_GE(deep, 2u);
  EXPECT_LE(direct + deep, cases - 2);  // the rest run forward through im2col + GEMM
  // LeNet's two layers, as ops.h measures them: dense backward for K = 9, sparse for K = 128.
  EXPECT_FALSE(
      conv_relu_pool_backward_is_sparse(conv_relu_pool_shape(1, 1, 28, 28, 32, 3, 3, 2, 2)));
  EXPECT_TRUE(
      conv_relu_pool_backward_is_sparse(conv_relu_pool_shape(1, 32, 13, 13, 32, 2, 2, 2, 2)));
}

// The reference's decisions for every pooled element: the argmax where the ReLU lets the max
// through, -1 where it cuts it. L = Σ out·R is linear in any one parameter over an interval where
// this pattern holds at both ends (each window's max is convex, the ReLU test linear, in it).
std::vector<int32_t> kink_pattern(const ConvReluPoolShape& s, const std::vector<float>& in,
                                  const std::vector<float>& weight,
                                  const std::vector<float>& bias) {
  const Reference r = reference_forward(s, in, weight, bias.data());
  std::vector<int32_t> pattern(r.argmax.size());
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = r.pooled[i] > 0.0f ? r.argmax[i] : -1;
  return pattern;
}

// Per element of x: whether moving it by ±step changes the reference's pattern (a max-pool tie or
// the ReLU's 0 lies within the step).
std::vector<bool> kinks_within(std::vector<float>& x, double step, const ConvReluPoolShape& s,
                               std::vector<float>& in, std::vector<float>& weight,
                               std::vector<float>& bias) {
  const std::vector<int32_t> pattern = kink_pattern(s, in, weight, bias);
  std::vector<bool> kink(x.size(), false);
  for (size_t i = 0; i < x.size(); ++i) {
    const float saved = x[i];
    for (double sign : {-1.0, 1.0}) {
      x[i] = float(saved + sign * step);
      kink[i] = kink[i] || kink_pattern(s, in, weight, bias) != pattern;
    }
    x[i] = saved;
  }
  return kink;
}

// Every forced kernel with every kernel set.
std::vector<std::pair<Kernel, int>> kernel_choices() {
  std::vector<std::pair<Kernel, int>> all;
  for (Kernel kernel : kKernels)
    for (int kernel_set : kernel_sets()) all.emplace_back(kernel, kernel_set);
  return all;
}

// L = Σ conv_relu_pool(in, weight, bias) · R, differentiated w.r.t. in, weight and bias by the
// fused backward (every kernel) and by central differences, skipping elements at a kink. The
// weight and bias gradients are checked twice: with the input gradient, and without it as a first
// layer asks (which may run another kernel).
void check_fused_gradients(const FusedCase& c, uint64_t seed) {
  Rng rng(seed);
  ConvReluPoolShape s = c.shape;
  auto in = random_values(input_size(s), rng), weight = random_values(weight_size(s), rng);
  auto bias = random_values(size_t(s.conv.out_channels), rng);
  const auto r = random_values(output_size(s), rng);
  const testing::GradientTolerance tolerance;
  const std::vector<bool> in_kinks = kinks_within(in, tolerance.step, s, in, weight, bias);
  const std::vector<bool> weight_kinks = kinks_within(weight, tolerance.step, s, in, weight, bias);
  const std::vector<bool> bias_kinks = kinks_within(bias, tolerance.step, s, in, weight, bias);
  const size_t skipped = size_t(std::count(in_kinks.begin(), in_kinks.end(), true) +
                                std::count(weight_kinks.begin(), weight_kinks.end(), true) +
                                std::count(bias_kinks.begin(), bias_kinks.end(), true));
  // The check means something only if most elements are checked.
  EXPECT_LT(skipped, (in.size() + weight.size() + bias.size()) / 4)
      << c.name << ": elements skipped at kinks";
  auto skip = [](const std::vector<bool>& kinks) {
    return [&kinks](size_t i) { return bool(kinks[i]); };
  };

  for (const auto& [kernel, kernel_set] : kernel_choices()) {
    SCOPED_TRACE(std::string(c.name) + ", kernel " + kernel_name(kernel) + ", kernels " +
                 conv_relu_pool_kernel_set_name(kernel_set));
    s.kernel = kernel;
    s.kernel_set = kernel_set;
    std::vector<float> out(output_size(s));
    std::vector<uint8_t> argmax(output_size(s));
    std::vector<float> workspace(conv_relu_pool_workspace_floats(s));
    auto loss = [&] {
      conv_relu_pool_forward(out.data(), argmax.data(), in.data(), weight.data(), bias.data(), s,
                             workspace.data());
      return weighted_sum(out, r);
    };
    loss();  // argmax for the backward
    std::vector<float> dinput(in.size()), dweight(weight.size()), dbias(bias.size());
    conv_relu_pool_backward(dinput.data(), dweight.data(), dbias.data(), r.data(), argmax.data(),
                            in.data(), weight.data(), s, workspace.data());
    std::vector<float> dweight_alone(weight.size()), dbias_alone(bias.size());
    conv_relu_pool_backward(nullptr, dweight_alone.data(), dbias_alone.data(), r.data(),
                            argmax.data(), in.data(), weight.data(), s, workspace.data());
    EXPECT_TRUE(check_gradient("dinput", in, dinput, loss, skip(in_kinks), tolerance));
    EXPECT_TRUE(check_gradient("dweight", weight, dweight, loss, skip(weight_kinks), tolerance));
    EXPECT_TRUE(check_gradient("dbias", bias, dbias, loss, skip(bias_kinks), tolerance));
    EXPECT_TRUE(check_gradient("dweight (no dinput)", weight, dweight_alone, loss,
                               skip(weight_kinks), tolerance));
    EXPECT_TRUE(
        check_gradient("dbias (no dinput)", bias, dbias_alone, loss, skip(bias_kinks), tolerance));
  }
}

TEST(ConvReluPoolGradient, MatchesFiniteDifferences) {
  uint64_t seed = 500;
  for (const FusedCase& c : gradient_cases()) check_fused_gradients(c, seed++);
}

TEST(ConvReluPoolForward, TiesGoToTheFirstPositionAndZeroCarriesNoGradient) {
  // 1x1 kernel of weight 1 on a 2x4 image, 2x2 pools: the first window holds 3 twice (the first,
  // position 1, wins), the second window's max is 0 (no gradient); one channel, bias 0.
  ConvReluPoolShape s = conv_relu_pool_shape(1, 1, 2, 4, 1, 1, 1, 2, 2);
  const std::vector<float> in{1.0f, 3.0f, -1.0f, 0.0f,  //
                              3.0f, 2.0f, -2.0f, -5.0f};
  const std::vector<float> weight{1.0f}, bias{0.0f};
  std::vector<float> out(2, -7.0f), workspace(conv_relu_pool_workspace_floats(s));
  std::vector<uint8_t> argmax(2, 77);
  conv_relu_pool_forward(out.data(), argmax.data(), in.data(), weight.data(), bias.data(), s,
                         workspace.data());
  EXPECT_EQ(out, (std::vector<float>{3.0f, 0.0f}));
  EXPECT_EQ(argmax, (std::vector<uint8_t>{1, kNoGradient}));

  std::vector<float> dinput(8, 0.0f), dweight(1, 0.0f), dbias(1, 0.0f);
  const std::vector<float> dout{2.0f, 5.0f};
  conv_relu_pool_backward(dinput.data(), dweight.data(), dbias.data(), dout.data(), argmax.data(),
                          in.data(), weight.data(), s, workspace.data());
  EXPECT_EQ(dinput, (std::vector<float>{0.0f, 2.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}));
  EXPECT_EQ(dweight, (std::vector<float>{6.0f}));  // dout 2 · input 3
  EXPECT_EQ(dbias, (std::vector<float>{2.0f}));
}

// The sets a build carries, best first: aarch64's NEON set; on x86-64 the generic kernels compiled
// for AVX-512 and for AVX2 + FMA, each where the CPU has it; the portable set last, always.
TEST(ConvReluPoolKernels, KernelSetsAreThoseTheCpuRuns) {
  std::vector<std::string> expected;
#if defined(__aarch64__)
  expected.push_back("neon");
#elif defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) expected.push_back("avx512");
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) expected.push_back("avx2");
#endif
  expected.push_back("generic vectors");
  std::vector<std::string> names;
  for (int set = 0; set < conv_relu_pool_kernel_set_count(); ++set)
    names.push_back(conv_relu_pool_kernel_set_name(set));
  EXPECT_EQ(names, expected);
}

// The architecture's sets that compute the same arithmetic at different vector widths (x86-64's
// AVX-512 at 16 floats, AVX2 at 8) give the same bits: each lane sums in the same order with the
// same fused multiply-adds. So a model trains to the same bits on either kind of CPU.
TEST(ConvReluPoolKernels, ArchitectureSetsGiveTheSameBits) {
  const int architecture_sets = conv_relu_pool_kernel_set_count() - 1;
  if (architecture_sets < 2) GTEST_SKIP() << "fewer than two architecture kernel sets on this CPU";
  uint64_t seed = 100;
  for (const FusedCase& c : comparison_cases()) {
    for (Kernel kernel : kKernels) {
      ConvReluPoolShape s = c.shape;
      s.input_channel_last = true;
      s.kernel = kernel;
      const Data d = make_data(s, false, seed++);
      Rng rng(seed++);
      const std::vector<float> dout = random_values(output_size(s), rng);
      std::vector<float> first_out, first_grads;
      std::vector<uint8_t> first_argmax;
      for (int set = 0; set < architecture_sets; ++set) {
        SCOPED_TRACE(std::string(c.name) + ", kernel " + kernel_name(kernel) + ", kernels " +
                     conv_relu_pool_kernel_set_name(set));
        s.kernel_set = set;
        const Fused f = fused_forward(s, d, d.bias.data());
        Gradients g{std::vector<float>(input_size(s), 0.0f),
                    std::vector<float>(weight_size(s), 0.0f),
                    std::vector<float>(size_t(s.conv.out_channels), 0.0f)};
        g = fused_backward(s, d, f, dout, g);
        std::vector<float> grads = g.dinput;
        grads.insert(grads.end(), g.dweight.begin(), g.dweight.end());
        grads.insert(grads.end(), g.dbias.begin(), g.dbias.end());
        if (set == 0) {
          first_out = f.out, first_argmax = f.argmax, first_grads = grads;
          continue;
        }
        EXPECT_EQ(0, std::memcmp(f.out.data(), first_out.data(), first_out.size() * sizeof(float)));
        EXPECT_EQ(f.argmax, first_argmax);
        EXPECT_EQ(0, std::memcmp(grads.data(), first_grads.data(), grads.size() * sizeof(float)));
      }
    }
  }
}

TEST(ConvReluPoolSupport, AcceptsOnlyWhatItComputes) {
  const ConvReluPoolShape lenet = conv_relu_pool_shape(1, 1, 28, 28, 32, 3, 3, 2, 2);
  EXPECT_TRUE(conv_relu_pool_supported(lenet));
  for (const FusedCase& c : comparison_cases())
    EXPECT_TRUE(conv_relu_pool_supported(c.shape)) << c.name;
  EXPECT_GT(conv_relu_pool_workspace_floats(lenet), 0u);

  auto rejected = [&](const char* what, auto change) {
    ConvReluPoolShape s = lenet;
    change(s);
    EXPECT_FALSE(conv_relu_pool_supported(s)) << what;
  };
  rejected("stride 2", [](ConvReluPoolShape& s) {
    s.conv.stride_height = s.conv.stride_width = 2, s.conv.out_height = s.conv.out_width = 13;
    s.out_height = s.out_width = 6;
  });
  rejected("padding", [](ConvReluPoolShape& s) {
    s.conv.pad_top = s.conv.pad_left = 1, s.conv.out_height = s.conv.out_width = 28;
    s.out_height = s.out_width = 14;
  });
  rejected("dilation 2", [](ConvReluPoolShape& s) {
    s.conv.dilation_height = s.conv.dilation_width = 2, s.conv.out_height = s.conv.out_width = 24;
    s.out_height = s.out_width = 12;
  });
  rejected("groups 2", [](ConvReluPoolShape& s) { s.conv.in_channels = 2, s.conv.groups = 2; });
  rejected("pooled rows past the convolution", [](ConvReluPoolShape& s) { s.out_height = 14; });
  rejected("pooled columns past the convolution", [](ConvReluPoolShape& s) { s.out_width = 14; });
  rejected("window positions beyond a byte", [](ConvReluPoolShape& s) {
    s.pool_height = s.pool_width = 16, s.out_height = s.out_width = 1;
  });
  rejected("more channels than the pool buffers hold",
           [](ConvReluPoolShape& s) { s.conv.out_channels = kMaxPooledChannels + 1; });
  rejected("output size not the valid convolution's",
           [](ConvReluPoolShape& s) { s.conv.out_height = 25, s.out_height = 12; });
}

}  // namespace
}  // namespace edgetrain::ops
