// Reductions (reduce.h): one output element at a time, its reduced inputs visited through the
// separable offsets of ReduceGeometry, accumulated in double.
#include "ops/reduce.h"

#include <cassert>
#include <cmath>
#include <cstddef>
#include <limits>

namespace edgetrain::ops {
namespace {

constexpr int kSlots = 5;

// Calls visit(offset) for every combination of one offset per slot, in row-major order.
template <typename Visit>
void for_each_offset(const std::array<std::vector<int64_t>, kSlots>& slots, Visit&& visit) {
  for (int64_t a : slots[0]) {
    for (int64_t b : slots[1]) {
      for (int64_t c : slots[2]) {
        for (int64_t d : slots[3]) {
          const int64_t base = a + b + c + d;
          for (int64_t e : slots[4]) visit(base + e);
        }
      }
    }
  }
}

// The reduction of the elements x[r] over the reduced offsets r.
float reduce_one(const float* x, const ReduceGeometry& g, Reduction reduction, float epsilon) {
  const auto& reduced = g.reduced;
  double total = 0.0;
  switch (reduction) {
    case Reduction::kSum:
    case Reduction::kMean:
    case Reduction::kLogSum:
      for_each_offset(reduced, [&](int64_t r) { total += x[r]; });
      if (reduction == Reduction::kMean) return float(total / double(g.count));
      return reduction == Reduction::kLogSum ? float(std::log(total)) : float(total);
    case Reduction::kProduct:
      total = 1.0;
      for_each_offset(reduced, [&](int64_t r) { total *= x[r]; });
      return float(total);
    case Reduction::kSumLog:
      for_each_offset(reduced, [&](int64_t r) { total += std::log(double(x[r]) + epsilon); });
      return float(total);
    case Reduction::kSumSquare:
    case Reduction::kL2:
      for_each_offset(reduced, [&](int64_t r) { total += double(x[r]) * x[r]; });
      return reduction == Reduction::kL2 ? float(std::sqrt(total)) : float(total);
    case Reduction::kL1:
      for_each_offset(reduced, [&](int64_t r) { total += std::fabs(double(x[r])); });
      return float(total);
    case Reduction::kMax:
    case Reduction::kMin:
    case Reduction::kArgMax: {
      const bool smallest = reduction == Reduction::kMin;
      float best = x[0];  // every slot's first offset is 0
      int64_t at = 0, index = 0;
      for_each_offset(reduced, [&](int64_t r) {
        if (smallest ? x[r] < best : x[r] > best) {
          best = x[r];
          at = index;
        }
        ++index;
      });
      return reduction == Reduction::kArgMax ? float(at) : best;
    }
    case Reduction::kLogSumExp: {
      float top = -std::numeric_limits<float>::infinity();
      for_each_offset(reduced, [&](int64_t r) { top = std::fmax(top, x[r]); });
      if (std::isinf(top)) return top;  // all -inf (or +inf present): the sum is that
      for_each_offset(reduced, [&](int64_t r) { total += std::exp(double(x[r]) - top); });
      return float(double(top) + std::log(total));
    }
  }
  return 0.0f;
}

// dx[r] += d reduction / d x[r] · dy for the elements of one output y.
void reduce_one_backward(float* dx, const float* x, float dy, float y, const ReduceGeometry& g,
                         Reduction reduction, float epsilon) {
  const auto& reduced = g.reduced;
  switch (reduction) {
    case Reduction::kSum:
      for_each_offset(reduced, [&](int64_t r) { dx[r] += dy; });
      return;
    case Reduction::kMean: {
      const float share = float(double(dy) / double(g.count));
      for_each_offset(reduced, [&](int64_t r) { dx[r] += share; });
      return;
    }
    case Reduction::kProduct: {
      // The product of the others, without dividing by zero: of the non-zero elements, taken
      // once; then each element's is that over itself, or for the one zero that product.
      double nonzero = 1.0;
      int zeros = 0;
      for_each_offset(reduced, [&](int64_t r) {
        if (x[r] == 0.0f) {
          ++zeros;
        } else {
          nonzero *= x[r];
        }
      });
      if (zeros > 1) return;
      for_each_offset(reduced, [&](int64_t r) {
        if (zeros == 0) {
          dx[r] += float(double(dy) * nonzero / x[r]);
        } else if (x[r] == 0.0f) {
          dx[r] += float(double(dy) * nonzero);
        }
      });
      return;
    }
    case Reduction::kSumLog:
      for_each_offset(reduced, [&](int64_t r) { dx[r] += dy / (x[r] + epsilon); });
      return;
    case Reduction::kLogSum: {
      double sum = 0.0;
      for_each_offset(reduced, [&](int64_t r) { sum += x[r]; });
      const float share = float(double(dy) / sum);
      for_each_offset(reduced, [&](int64_t r) { dx[r] += share; });
      return;
    }
    case Reduction::kSumSquare:
      for_each_offset(reduced, [&](int64_t r) { dx[r] += 2.0f * x[r] * dy; });
      return;
    case Reduction::kL1:
      for_each_offset(reduced, [&](int64_t r) {
        dx[r] += x[r] > 0.0f ? dy : x[r] < 0.0f ? -dy : 0.0f;
      });
      return;
    case Reduction::kL2:
      if (y == 0.0f) return;  // every element 0: no direction is steeper than another
      for_each_offset(reduced, [&](int64_t r) { dx[r] += dy * x[r] / y; });
      return;
    case Reduction::kMax:
    case Reduction::kMin: {
      bool found = false;
      for_each_offset(reduced, [&](int64_t r) {
        if (!found && x[r] == y) {
          dx[r] += dy;
          found = true;
        }
      });
      return;
    }
    case Reduction::kArgMax:
      return;
    case Reduction::kLogSumExp:
      for_each_offset(reduced,
                      [&](int64_t r) { dx[r] += float(double(dy) * std::exp(double(x[r]) - y)); });
      return;
  }
}

}  // namespace

ReduceGeometry ReduceGeometry::over(const std::vector<int>& dims, const std::vector<bool>& reduce) {
  assert(dims.size() == reduce.size() && dims.size() <= size_t(kSlots));
  ReduceGeometry g;
  int64_t stride = 1;
  g.in_size = g.out_size = g.count = 1;
  const size_t first = size_t(kSlots) - dims.size();  // leading slots are single zeros
  for (size_t slot = 0; slot < size_t(kSlots); ++slot) {
    g.kept[slot] = {0};
    g.reduced[slot] = {0};
  }
  for (size_t a = dims.size(); a-- > 0;) {
    std::vector<int64_t> offsets;
    for (int i = 0; i < dims[a]; ++i) offsets.push_back(i * stride);
    (reduce[a] ? g.reduced : g.kept)[first + a] = std::move(offsets);
    (reduce[a] ? g.count : g.out_size) *= dims[a];
    g.in_size *= dims[a];
    stride *= dims[a];
  }
  return g;
}

void reduce_forward(float* out, const float* in, int n, const ReduceGeometry& geometry,
                    Reduction reduction, float epsilon) {
  for (int s = 0; s < n; ++s) {
    const float* x = in + size_t(s) * size_t(geometry.in_size);
    float* y = out + size_t(s) * size_t(geometry.out_size);
    int64_t o = 0;
    for_each_offset(geometry.kept, [&](int64_t base) {
      y[o++] = reduce_one(x + base, geometry, reduction, epsilon);
    });
  }
}

void reduce_backward(float* dinput, const float* dout, const float* out, const float* in, int n,
                     const ReduceGeometry& geometry, Reduction reduction, float epsilon) {
  if (!dinput) return;
  for (int s = 0; s < n; ++s) {
    const size_t in_at = size_t(s) * size_t(geometry.in_size);
    const size_t out_at = size_t(s) * size_t(geometry.out_size);
    int64_t o = 0;
    for_each_offset(geometry.kept, [&](int64_t base) {
      reduce_one_backward(dinput + in_at + base, in + in_at + base, dout[out_at + o],
                          out[out_at + o], geometry, reduction, epsilon);
      ++o;
    });
  }
}

}  // namespace edgetrain::ops
