// Reductions over some axes of a per-sample tensor of rank <= 5 (Core ML's classic `reduce` and the
// ND reduceSum, reduceMean, ...). Each output element reduces the input elements that share its
// indices on the kept axes; outputs are in row-major order of the kept axes, which is the output
// tensor's order whether or not the reduced axes stay as 1. Sums are taken in double.
//
// Forward keeps nothing. Backward reads the forward input and output and ADDS into dinput.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace edgetrain::ops {

enum class Reduction {
  kSum,
  kMean,
  kProduct,
  kSumLog,  // Σ ln(x + epsilon) (the classic LOGSUM)
  kLogSum,  // ln(Σ x) (the ND reduceLogSum)
  kSumSquare,
  kL1,
  kL2,
  kMax,     // the gradient goes to the first maximum
  kMin,     // the gradient goes to the first minimum
  kArgMax,  // the first maximum's position among the reduced elements, as a float; no gradient
  kLogSumExp,
};

// Where each output element's inputs are: the input offset of output (k0..k4) and reduced element
// (r0..r4) is kept[0][k0] + ... + kept[4][k4] + reduced[0][r0] + ... + reduced[4][r4]. Each
// input axis contributes its offsets to `kept` or to `reduced` (the other gets a single 0).
struct ReduceGeometry {
  std::array<std::vector<int64_t>, 5> kept, reduced;
  int64_t in_size = 0, out_size = 0, count = 0;  // values per sample; reduced per output

  // `dims` row-major (rank <= 5); reduce[a] says whether axis a is reduced.
  static ReduceGeometry over(const std::vector<int>& dims, const std::vector<bool>& reduce);
};

// out (n, out_size) from in (n, in_size).
void reduce_forward(float* out, const float* in, int n, const ReduceGeometry& geometry,
                    Reduction reduction, float epsilon);
void reduce_backward(float* dinput, const float* dout, const float* out, const float* in, int n,
                     const ReduceGeometry& geometry, Reduction reduction, float epsilon);

}  // namespace edgetrain::ops
