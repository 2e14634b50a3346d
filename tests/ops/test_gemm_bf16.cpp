// Mixed-precision GEMM (gemm_bf16.cpp): the rounding function against the definition of round to
// nearest even; the AVX512-BF16 packing against that function, bit for bit; the blocked kernel
// against the plain reference over edge-case and random shapes, all transposes, padded strides and
// betas; and the result against the fp32 GEMM within what bf16's 8-bit significand allows.
// The kernel's tests skip, saying why, where the CPU has no AVX512-BF16.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/rng.h"
#include "edgetrain/error.h"
#include "gemm_test_case.h"
#include "ops/gemm_bf16.h"
#include "ops/gemm_bf16_internal.h"
#include "ops/ops.h"

namespace edgetrain::ops {
namespace {

constexpr Transpose kNo = Transpose::kNo, kYes = Transpose::kYes;

float from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

uint32_t to_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// Bit patterns that cover every sign and exponent (zeros, denormals, normals, infinities, NaNs)
// with the dropped low halves where rounding decides: exact, just below, at and just above the
// tie, and the extremes.
std::vector<uint32_t> rounding_probe_bits() {
  const uint32_t low_halves[] = {0x0000, 0x0001, 0x3FFF, 0x7FFF, 0x8000, 0x8001, 0xC000, 0xFFFF};
  std::vector<uint32_t> bits;
  for (uint32_t high = 0; high <= 0xFFFF; ++high)
    for (uint32_t low : low_halves) bits.push_back(high << 16 | low);
  return bits;
}

// ---- round_to_bf16 ------------------------------------------------------------------------------

TEST(GemmBf16Rounding, KnownValues) {
  const struct {
    uint32_t input;
    uint16_t expected;
  } cases[] = {
      {0x3F800000, 0x3F80},  // 1 is exact
      {0x3F807FFF, 0x3F80},  // just below the tie: down
      {0x3F808000, 0x3F80},  // tie, kept half even: stays
      {0x3F818000, 0x3F82},  // tie, kept half odd: up to even
      {0x3F808001, 0x3F81},  // just above the tie: up
      {0xBF818000, 0xBF82},  // ties are symmetric in sign
      {0x3FFF8000, 0x4000},  // a carry into the exponent: 1.99.. -> 2
      {0x7F7F7FFF, 0x7F7F},  // bf16's largest finite
      {0x7F7F8000, 0x7F80},  // past it: infinity
      {0x7F7FFFFF, 0x7F80},  // fp32's largest finite: infinity
      {0xFF7FFFFF, 0xFF80},
      {0x7F800000, 0x7F80},  // infinities stay
      {0xFF800000, 0xFF80},
      {0x7FC00000, 0x7FC0},  // quiet NaN
      {0x7F800001, 0x7FC0},  // a payload only in the low half: still NaN, quieted
      {0xFFA00000, 0xFFE0},  // signalling NaN: sign and payload kept, quieted
      {0x00000000, 0x0000},  // zeros keep their sign
      {0x80000000, 0x8000},
      {0x00000001, 0x0000},  // denormals become zeros of their sign, as vcvtne2ps2bf16 does
      {0x007FFFFF, 0x0000},
      {0x807FFFFF, 0x8000},
      {0x00800000, 0x0080},  // the smallest normal is exact
      {0x0080FFFF, 0x0081},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(round_to_bf16(from_bits(c.input)), c.expected) << std::hex << "input 0x" << c.input;
  }
}

// For every finite normal probe: the result is one of the two bf16 values around the input, the
// nearer one, and the even one on a tie. The two candidates and distances come from doubles, not
// from the function's integer trick.
TEST(GemmBf16Rounding, NearestTiesToEvenOverEveryExponent) {
  int checked = 0;
  for (uint32_t bits : rounding_probe_bits()) {
    const uint32_t exponent = (bits >> 23) & 0xFF;
    const float input = from_bits(bits);
    const uint16_t result = round_to_bf16(input);
    if (exponent == 0xFF) {  // infinity or NaN: kept, NaN stays NaN with its sign
      EXPECT_EQ(std::isnan(input), std::isnan(bf16_to_float(result))) << std::hex << bits;
      EXPECT_EQ(std::signbit(input), std::signbit(bf16_to_float(result))) << std::hex << bits;
      if (std::isinf(input)) {
        EXPECT_EQ(result, bits >> 16);
      }
      continue;
    }
    if (exponent == 0) {  // zero or denormal
      EXPECT_EQ(result, (bits >> 16) & 0x8000) << std::hex << bits;
      continue;
    }
    const double magnitude = std::fabs(double(input));
    const uint32_t toward_zero = (bits >> 16) & 0x7FFF;  // bf16 magnitude bits
    const double lower = std::fabs(double(bf16_to_float(uint16_t(toward_zero))));
    const double ulp = std::ldexp(1.0, int(exponent) - 127 - 7);
    const double upper = lower + ulp;  // may be 2^128: rounding there means infinity
    uint32_t expected = toward_zero;
    if (magnitude - lower > upper - magnitude ||
        (magnitude - lower == upper - magnitude && (toward_zero & 1) != 0)) {
      expected = toward_zero + 1;  // the next magnitude up (0x7F80 is infinity)
    }
    expected |= (bits >> 16) & 0x8000;
    ASSERT_EQ(result, expected) << std::hex << "input 0x" << bits;
    ++checked;
  }
  EXPECT_GT(checked, 500000);
}

TEST(GemmBf16Rounding, EveryFiniteBf16RoundTrips) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const uint32_t exponent = (h >> 7) & 0xFF;
    if (exponent == 0 || exponent == 0xFF) continue;  // denormals flush; NaN payloads change
    ASSERT_EQ(round_to_bf16(bf16_to_float(uint16_t(h))), h) << std::hex << h;
  }
}

// ---- The kernel: detection and packing ----------------------------------------------------------

const gemm_internal::Bf16MicroKernel* kernel_or_null() {
  return gemm_internal::architecture_bf16_micro_kernel();
}

#define SKIP_WITHOUT_BF16()                                                                 \
  if (!bf16_supported())                                                                    \
  GTEST_SKIP() << "this CPU or build has no AVX512-BF16 (vdpbf16ps): the bf16 GEMM kernel " \
                  "cannot run here"

TEST(GemmBf16, SupportedWhereTheCpuHasAvx512Bf16) {
#if defined(__x86_64__)
  EXPECT_EQ(bf16_supported(), __builtin_cpu_supports("avx512bf16") &&
                                  __builtin_cpu_supports("avx512bw") &&
                                  __builtin_cpu_supports("avx512f"));
#else
  EXPECT_FALSE(bf16_supported());  // no bf16 kernel for other architectures yet
#endif
  EXPECT_EQ(bf16_supported(), kernel_or_null() != nullptr);
}

TEST(GemmBf16, ThrowsWhereUnsupported) {
  if (bf16_supported()) GTEST_SKIP() << "this CPU has AVX512-BF16: gemm_bf16 runs, nothing throws";
  float c = 0.0f, a = 1.0f, b = 1.0f;
  try {
    gemm_bf16(&c, &a, &b, 1, 1, 1, kNo, kNo, 0.0f, 1, 1, 1);
    FAIL() << "gemm_bf16 did not throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("AVX512-BF16"), std::string::npos) << error.what();
  }
}

// The pair that should sit at (x, q) of a packed panel, from round_to_bf16.
uint32_t expected_pair(const std::vector<float>& source, bool k_major, size_t ld, int x, int q,
                       int depth) {
  auto at = [&](int p) -> uint32_t {
    if (p >= depth) return 0;
    return round_to_bf16(k_major ? source[size_t(p) * ld + x] : source[size_t(x) * ld + p]);
  };
  return at(2 * q) | at(2 * q + 1) << 16;
}

// Both packers over panel widths 8 (A) and 32 (B), every count, odd and even depths, padded
// strides; the values are the rounding probes, so the hardware conversion is checked bit for bit
// against round_to_bf16 (NaN results only for being NaN of the same sign).
TEST(GemmBf16, PackingRoundsLikeRoundToBf16AndPadsWithZero) {
  SKIP_WITHOUT_BF16();
  const std::vector<uint32_t> probes = rounding_probe_bits();
  size_t next_probe = 0;
  int mismatches = 0;
  for (int width : {8, 32})
    for (int count = 1; count <= width; count += (width == 32 ? 3 : 1))
      for (int depth : {1, 2, 3, 16, 31, 32, 33, 65})
        for (bool k_major : {true, false}) {
          const size_t ld = size_t(k_major ? count : depth) + 3;
          const size_t rows = k_major ? depth : count;
          std::vector<float> source(rows * ld);
          for (float& value : source) value = from_bits(probes[next_probe++ % probes.size()]);
          const int pairs = (depth + 1) / 2;
          std::vector<uint32_t> packed(size_t(pairs) * width + 1, 0xDEADBEEF);
          const auto pack =
              k_major ? kernel_or_null()->pack_k_major : kernel_or_null()->pack_x_major;
          pack(packed.data(), width, source.data(), ld, count, depth);
          for (int q = 0; q < pairs; ++q)
            for (int x = 0; x < width; ++x) {
              const uint32_t got = packed[size_t(q) * width + x];
              const uint32_t want = x < count ? expected_pair(source, k_major, ld, x, q, depth) : 0;
              bool same = got == want;
              if (!same) {  // NaN: any quiet NaN of the same sign will do, half by half
                same = true;
                for (int half : {0, 16}) {
                  const float g = bf16_to_float(uint16_t(got >> half));
                  const float w = bf16_to_float(uint16_t(want >> half));
                  same &= to_bits(g) == to_bits(w) ||
                          (std::isnan(g) && std::isnan(w) && std::signbit(g) == std::signbit(w));
                }
              }
              if (!same && ++mismatches <= 5) {
                ADD_FAILURE() << (k_major ? "k-major" : "x-major") << " width " << width
                              << " count " << count << " depth " << depth << " at (" << x << ","
                              << q << "): 0x" << std::hex << got << " want 0x" << want;
              }
            }
          EXPECT_EQ(packed.back(), 0xDEADBEEF) << "wrote past the panel";
        }
}

// ---- The kernel against the reference -----------------------------------------------------------

// A case's operands (gemm_test_case.h), and A and B rounded to bf16, for bounds.
struct Bf16Operands : GemmOperands {
  std::vector<float> a_rounded, b_rounded;

  Bf16Operands(const GemmCase& g, uint64_t seed) : GemmOperands(g, seed) {
    auto rounded = [](std::vector<float> v) {
      for (float& x : v) x = bf16_to_float(round_to_bf16(x));
      return v;
    };
    a_rounded = rounded(a);
    b_rounded = rounded(b);
  }
  // Σ_p |a_ip · b_pj| (+ |beta · C_ij|), with the inputs rounded to bf16 or as given.
  double magnitude(const GemmCase& g, int i, int j, bool rounded) const {
    const std::vector<float>& a_values = rounded ? a_rounded : a;
    const std::vector<float>& b_values = rounded ? b_rounded : b;
    const bool ta = g.transpose_a == kYes, tb = g.transpose_b == kYes;
    double sum = g.beta == 0.0f ? 0.0 : std::fabs(g.beta * c_initial[size_t(i) * ldc + j]);
    for (int p = 0; p < g.k; ++p) {
      const float a_ip = ta ? a_values[size_t(p) * lda + i] : a_values[size_t(i) * lda + p];
      const float b_pj = tb ? b_values[size_t(j) * ldb + p] : b_values[size_t(p) * ldb + j];
      sum += std::fabs(double(a_ip) * b_pj);
    }
    return sum;
  }
};

// Checks every element of C against `expected` within tolerance(i, j), and C's padding.
template <class Tolerance>
void expect_close(const GemmCase& g, const Bf16Operands& operands, const std::vector<float>& got,
                  const std::vector<float>& expected, Tolerance tolerance) {
  int failures = 0;
  for (int i = 0; i < g.m && failures < 5; ++i)
    for (int j = 0; j < operands.ldc && failures < 5; ++j) {
      const size_t at = size_t(i) * operands.ldc + j;
      if (j >= g.n) {
        if (to_bits(got[at]) != to_bits(operands.c_initial[at])) {
          ADD_FAILURE() << "padding of C changed at (" << i << "," << j << ")";
          ++failures;
        }
        continue;
      }
      const double bound = tolerance(i, j);
      if (!(std::fabs(double(got[at]) - expected[at]) <= bound)) {
        ADD_FAILURE() << "C(" << i << "," << j << "): bf16 GEMM " << got[at] << " expected "
                      << expected[at] << " tolerance " << bound;
        ++failures;
      }
    }
}

// The kernel against gemm_bf16_reference: the same rounded inputs, so only the order and
// precision of the fp32 sums differ (the reference sums in double): ~2k fp32 roundings of
// Σ|a'·b'| bound it; products below FLT_MIN flush to zero in vdpbf16ps, hence the small
// absolute term.
void check_against_reference(const GemmCase& g, uint64_t seed) {
  SCOPED_TRACE(describe(g));
  const Bf16Operands operands(g, seed);
  std::vector<float> got = operands.c_initial, expected = operands.c_initial;
  gemm_bf16(got.data(), operands.a.data(), operands.b.data(), g.m, g.n, g.k, g.transpose_a,
            g.transpose_b, g.beta, operands.lda, operands.ldb, operands.ldc);
  gemm_bf16_reference(expected.data(), operands.a.data(), operands.b.data(), g.m, g.n, g.k,
                      g.transpose_a, g.transpose_b, g.beta, operands.lda, operands.ldb,
                      operands.ldc);
  expect_close(g, operands, got, expected, [&](int i, int j) {
    return (2.0 * g.k + 4.0) * FLT_EPSILON * operands.magnitude(g, i, j, true) + g.k * FLT_MIN;
  });
}

TEST(GemmBf16, EdgeShapesAllTransposesAndBetas) {
  SKIP_WITHOUT_BF16();
  // Odd k (the last pair half zero), k = 1, rows below, at and above the 8-row tile, columns
  // below 16 (narrow tiles), at 32 and past it, and one of each dimension alone.
  const int shapes[][3] = {{0, 5, 7},    {5, 0, 7},    {1, 1, 1},    {1, 13, 7},  {13, 1, 7},
                           {7, 7, 1},    {8, 32, 2},   {9, 33, 3},   {7, 13, 31}, {31, 67, 13},
                           {67, 31, 67}, {8, 32, 256}, {9, 33, 257}, {16, 64, 5}, {2, 500, 3},
                           {17, 15, 33}, {24, 48, 64}, {3, 16, 17}};
  uint64_t seed = 1;
  for (const auto& s : shapes)
    for (Transpose ta : {kNo, kYes})
      for (Transpose tb : {kNo, kYes})
        for (float beta : {0.0f, 1.0f})
          check_against_reference({s[0], s[1], s[2], ta, tb, beta}, seed++);
}

TEST(GemmBf16, StridedOperands) {
  SKIP_WITHOUT_BF16();
  uint64_t seed = 100;
  for (Transpose ta : {kNo, kYes})
    for (Transpose tb : {kNo, kYes})
      for (float beta : {0.0f, 1.0f}) {
        check_against_reference({13, 31, 7, ta, tb, beta, 3, 5, 2}, seed++);
        check_against_reference({67, 7, 45, ta, tb, beta, 1, 0, 9}, seed++);
      }
}

TEST(GemmBf16, LargeShapeCrossesEveryCacheBlock) {
  SKIP_WITHOUT_BF16();
  // k 1031 (odd) crosses the 512-deep blocks and ends on half a pair; m 137 crosses the 128-row
  // block; n 1057 crosses the 1024-column block; every edge is ragged.
  uint64_t seed = 200;
  for (Transpose ta : {kNo, kYes})
    for (Transpose tb : {kNo, kYes})
      for (float beta : {0.0f, 1.0f})
        check_against_reference({137, 70, 1031, ta, tb, beta, 1, 2, 3}, seed++);
  check_against_reference({20, 1057, 40, kNo, kNo, 0.0f}, seed++);
  check_against_reference({20, 1057, 40, kYes, kYes, 1.0f}, seed++);
}

TEST(GemmBf16, RandomShapes) {
  SKIP_WITHOUT_BF16();
  Rng rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const GemmCase g{
        int(rng.below(90)),        int(rng.below(90)),        int(rng.below(90)),
        rng.below(2) ? kYes : kNo, rng.below(2) ? kYes : kNo, rng.below(2) ? 1.0f : 0.0f,
        int(rng.below(4)),         int(rng.below(4)),         int(rng.below(4))};
    check_against_reference(g, 1000 + trial);
  }
}

TEST(GemmBf16, OtherBetasAndZeroDepthScaleC) {
  SKIP_WITHOUT_BF16();
  check_against_reference({19, 37, 21, kNo, kYes, 0.5f}, 300);
  check_against_reference({19, 37, 21, kYes, kNo, -2.0f}, 301);
  std::vector<float> c(6, std::numeric_limits<float>::quiet_NaN());
  gemm_bf16(c.data(), nullptr, nullptr, 2, 3, 0, kNo, kNo, 0.0f, 1, 3, 3);
  for (float x : c) EXPECT_EQ(x, 0.0f);
  std::vector<float> d{1, 2, 3, 4, 5, 6};
  gemm_bf16(d.data(), nullptr, nullptr, 2, 3, 0, kNo, kNo, 1.0f, 1, 3, 3);
  EXPECT_EQ(d, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

// Inputs between bf16 values: the result shows they were rounded to nearest even, not truncated
// or kept in fp32. bf16's spacing at 1 is 2^-7; all sums here are exact in fp32.
TEST(GemmBf16, RoundsInputsToNearestEven) {
  SKIP_WITHOUT_BF16();
  const float step = 1.0f / 128.0f;
  const struct {
    float a_value, rounded;
  } cases[] = {
      {1.0f + 0.75f * step, 1.0f + step},     // nearer the upper: up (truncation would give 1)
      {1.0f + 0.5f * step, 1.0f},             // tie, 1 is even: down
      {1.0f + 1.5f * step, 1.0f + 2 * step},  // tie, 1 + step is odd: up to even
      {-(1.0f + 0.25f * step), -1.0f},        // nearer the lower magnitude
  };
  const int m = 9, n = 33, k = 37;  // edge tiles and an odd depth
  for (const auto& c : cases) {
    const std::vector<float> a(size_t(m) * k, c.a_value), b(size_t(k) * n, 1.0f + 0.5f * step);
    std::vector<float> out(size_t(m) * n, std::numeric_limits<float>::quiet_NaN());
    gemm_bf16(out.data(), a.data(), b.data(), m, n, k, kNo, kNo, 0.0f, k, n, n);
    // b rounds to 1 (a tie to even), so every element is k times the rounded a.
    for (float x : out) ASSERT_EQ(x, float(k) * c.rounded) << "a = " << c.a_value;
  }
}

// Against the fp32 GEMM at the dense layer's shapes: each rounded input is within a relative 2^-9
// of the original, so each product within 2^-8 + 2^-18, and the sum within that times Σ|a·b|,
// plus both sides' fp32 summation error. And the two must differ somewhere (the kernel rounds).
TEST(GemmBf16, CloseToFp32GemmAtDenseLayerShapes) {
  SKIP_WITHOUT_BF16();
  const GemmCase cases[] = {{64, 500, 1152, kNo, kYes, 0.0f},    // forward, batch 64
                            {500, 1152, 64, kYes, kNo, 1.0f},    // dweight += doutᵀ · in
                            {64, 1152, 500, kNo, kNo, 1.0f},     // dinput += dout · weight
                            {128, 500, 1152, kNo, kYes, 1.0f}};  // forward, batch 128
  uint64_t seed = 400;
  for (const GemmCase& g : cases) {
    SCOPED_TRACE(describe(g));
    const Bf16Operands operands(g, seed++);
    std::vector<float> got = operands.c_initial, fp32 = operands.c_initial;
    gemm_bf16(got.data(), operands.a.data(), operands.b.data(), g.m, g.n, g.k, g.transpose_a,
              g.transpose_b, g.beta, operands.lda, operands.ldb, operands.ldc);
    gemm(fp32.data(), operands.a.data(), operands.b.data(), g.m, g.n, g.k, g.transpose_a,
         g.transpose_b, g.beta, operands.lda, operands.ldb, operands.ldc);
    const double relative =
        std::ldexp(1.0, -8) + std::ldexp(1.0, -18) + 2.0 * (2.0 * g.k + 4.0) * FLT_EPSILON * 1.01;
    expect_close(g, operands, got, fp32,
                 [&](int i, int j) { return relative * operands.magnitude(g, i, j, false); });
    EXPECT_NE(got, fp32) << "the bf16 GEMM gave the fp32 result exactly: no rounding happened";
  }
}

}  // namespace
}  // namespace edgetrain::ops
