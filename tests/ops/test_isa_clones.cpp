// GCC compiles each EDGETRAIN_VECTORIZE function once per ISA (src/ops/simd.h). A helper or lambda
// it leaves out of line is compiled once, for baseline x86-64, and every clone calls that copy: the
// AVX2 clone of a kernel then runs its inner loop as SSE2 or scalar code behind a call, correct
// but several times slower, and no other test can tell. This one reads the library's disassembly
// (objdump, from binutils, which GCC needs anyway) and lists every call from an AVX-512 or AVX2
// clone to one of the library's own functions that is not itself compiled for that ISA.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "ops/simd.h"

namespace edgetrain::ops {
namespace {

// One of the fused convolution's x86 kernel-set functions (conv_relu_pool_kernels.cpp: the same
// templates instantiated in functions compiled for AVX-512 or AVX2).
bool is_kernel_set_function(const std::string& name) {
  return name.rfind("edgetrain::ops::conv_relu_pool_internal::", 0) == 0 &&
         (name.find("_avx512(") != std::string::npos || name.find("_avx2(") != std::string::npos);
}

// A clone, or a kernel-set function.
bool is_clone(const std::string& name) {
  return is_kernel_set_function(name) || name.find("[clone .avx512f]") != std::string::npos ||
         name.find("[clone .arch_x86_64_v3]") != std::string::npos;
}

// "  1620:\tcall   50 <name+0x1c>" -> "name"; "" if the line is not a direct call.
std::string call_target(const std::string& line) {
  const size_t call = line.find("\tcall ");
  if (call == std::string::npos) return "";
  const size_t open = line.find('<', call), close = line.rfind('>');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  std::string target = line.substr(open + 1, close - open - 1);
  const size_t offset = target.rfind("+0x");
  if (offset != std::string::npos) target.resize(offset);
  return target;
}

#if EDGETRAIN_HAS_ISA_CLONES
// a·b + c with the AVX2 clone and the baseline only, as on a CPU without AVX-512. The AVX2 clone
// contracts it into one fused multiply-add (one rounding), the baseline rounds the product first.
__attribute__((target_clones(EDGETRAIN_AVX2_CLONE, "default"))) float multiply_add(float a, float b,
                                                                                   float c) {
  return a * b + c;
}
#endif

// The loader must pick the AVX2 clone on every CPU with the features it was compiled for, whatever
// the model (GCC's "arch=haswell" clone is picked on Intel Haswell only: this failed on AMD Zen 4).
TEST(IsaClones, TheAvx2CloneRunsOnEveryCpuWithItsFeatures) {
#if !EDGETRAIN_HAS_ISA_CLONES
  GTEST_SKIP() << "this build has no ISA clones (not GCC on x86-64 Linux, or ThreadSanitizer)";
#else
  if (!__builtin_cpu_supports("x86-64-v3"))
    GTEST_SKIP() << "this CPU has no AVX2 + FMA (x86-64-v3)";
#if defined(__SANITIZE_ADDRESS__)
  // scripts/sanitize.sh builds at -O1, where GCC does not contract a·b + c into an FMA at all.
  GTEST_SKIP() << "the probe needs -O2's multiply-add contraction; AddressSanitizer builds at -O1";
#endif
  // a = 1 + 2^-12: a·a = 1 + 2^-11 + 2^-24 exactly, which rounds to 1 + 2^-11 in a float.
  volatile float a = 1.0f + std::ldexp(1.0f, -12), c = -(1.0f + std::ldexp(1.0f, -11));
  EXPECT_EQ(std::fma(a, a, c), std::ldexp(1.0f, -24));
  EXPECT_EQ(multiply_add(a, a, c), std::ldexp(1.0f, -24)) << "the baseline clone ran";
#endif
}

// A function of the library: its qualified name starts with edgetrain:: after, for a template,
// its return type ("void edgetrain::ops::...").
bool is_ours(const std::string& name) {
  const size_t at = name.find("edgetrain::");
  return at != std::string::npos && name.find_first_of("<(:") >= at;
}

TEST(IsaClones, CallNoHelperCompiledForTheBaselineOnly) {
  if (!EDGETRAIN_HAS_ISA_CLONES) {
    GTEST_SKIP() << "this build has no ISA clones (not GCC on x86-64 Linux, or ThreadSanitizer)";
  }
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the check is about the optimised code users run; AddressSanitizer's build "
                  "instruments and inlines its own way";
#endif
  const std::string command =
      std::string("objdump -d --no-show-raw-insn -C '") + EDGETRAIN_LIBRARY_PATH + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << command;
  std::string function, line;
  bool in_clone = false;
  int clones = 0, kernel_set_functions = 0;
  std::vector<std::string> baseline_calls;
  char buffer[8192];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) {
    line = buffer;
    if (!line.empty() && line.back() == '\n') line.pop_back();
    // A function starts with "0000000000000910 <name>:".
    if (line.size() > 2 && line.back() == ':' && line[line.size() - 2] == '>' &&
        line.find(" <") != std::string::npos && line[0] != ' ') {
      function = line.substr(line.find(" <") + 2);
      function.resize(function.size() - 2);
      in_clone = is_clone(function);
      clones += in_clone;
      kernel_set_functions += is_kernel_set_function(function);
      continue;
    }
    if (!in_clone) continue;
    const std::string target = call_target(line);
    if (is_ours(target) && !is_clone(target)) {
      baseline_calls.push_back(function + "\n    calls " + target);
    }
  }
  ASSERT_EQ(pclose(pipe), 0) << command << " failed (is binutils installed?)";
  // Two clones for each of the library's EDGETRAIN_VECTORIZE functions (about 20 of them) and
  // the 8 kernel-set functions: fewer means the disassembly was not read, and the check below
  // would pass on nothing.
  EXPECT_GE(clones, 40);
  // Four kernels in each of the two x86 sets: a rename there would otherwise drop them from the
  // check without failing it.
  EXPECT_EQ(kernel_set_functions, 8);
  std::string list;
  for (const std::string& call : baseline_calls) list += "  " + call + "\n";
  EXPECT_TRUE(baseline_calls.empty())
      << baseline_calls.size() << " calls from ISA clones to baseline code (mark the helper "
      << "EDGETRAIN_INLINE, the lambda EDGETRAIN_INLINE_LAMBDA):\n"
      << list;
}

}  // namespace
}  // namespace edgetrain::ops
