// GEMM for a few rows of C (m <= kSmallRows) with op(A) = A: no packing. Packing op(B) costs as
// much as the product itself when only one or two rows use it (single-image inference reads a
// (500, 1152) weight once), so each row of C is built straight from B:
//   B transposed (stored (N, K)): C[i][j] = dot(A row i, B row j)        — unit stride in k
//   B as is      (stored (K, N)): C row i = Σ_p A[i][p] · (B row p)      — unit stride in n
// The dot and AXPY come with the ISA's micro-kernel (vector versions in the architecture's file);
// where the ISA also has a four-row dot, A's row is read once for four rows of B (each result has
// the single dot's bits): reading B is what bounds this path.
#include <algorithm>

#include "ops/gemm_internal.h"

namespace edgetrain::ops::gemm_internal {

void gemm_small_rows(const MicroKernel& kernel, float* c, const float* a, const float* b, int m,
                     int n, int k, Transpose transpose_b, bool accumulate, int lda, int ldb,
                     int ldc) {
  for (int i = 0; i < m; ++i) {
    const float* a_row = a + size_t(i) * lda;  // (K)
    float* c_row = c + size_t(i) * ldc;        // (N)
    if (transpose_b == Transpose::kYes) {
      int j = 0;
      if (kernel.dot4) {
        for (; j + 4 <= n; j += 4) {
          float values[4];
          kernel.dot4(a_row, b + size_t(j) * ldb, size_t(ldb), k, values);
          for (int r = 0; r < 4; ++r)
            c_row[j + r] = accumulate ? c_row[j + r] + values[r] : values[r];
        }
      }
      for (; j < n; ++j) {
        const float value = kernel.dot(a_row, b + size_t(j) * ldb, k);
        c_row[j] = accumulate ? c_row[j] + value : value;
      }
    } else {
      if (!accumulate) std::fill(c_row, c_row + n, 0.0f);
      for (int p = 0; p < k; ++p) kernel.axpy(c_row, a_row[p], b + size_t(p) * ldb, n);
    }
  }
}

}  // namespace edgetrain::ops::gemm_internal
