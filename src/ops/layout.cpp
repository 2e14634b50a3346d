// Layout kernels (layout.h): separable gathers for transposes and pads, and Core ML's channel-last
// reshape on top of transpose_matrix (flatten.cpp). Keep nothing for backward.
#include "ops/layout.h"

#include <algorithm>
#include <cassert>
#include <cstddef>

#include "ops/ops.h"

namespace edgetrain::ops {
namespace {

constexpr int kSlots = 5;

// Row-major strides of `dims`.
std::vector<int64_t> strides_of(const std::vector<int>& dims) {
  std::vector<int64_t> strides(dims.size(), 1);
  for (size_t a = dims.size(); a-- > 1;) strides[a - 1] = strides[a] * dims[a];
  return strides;
}

int64_t product(const std::vector<int>& dims) {
  int64_t count = 1;
  for (int d : dims) count *= d;
  return count;
}

// Output axes of a rank-r gather fill the last r slots; the leading ones are single elements.
AxisGather with_leading_slots(std::vector<std::vector<int64_t>> axes, int64_t in_size,
                              int64_t out_size) {
  assert(axes.size() <= size_t(kSlots));
  AxisGather gather;
  const size_t first = size_t(kSlots) - axes.size();
  for (size_t slot = 0; slot < first; ++slot) gather.offsets[slot] = {0};
  for (size_t a = 0; a < axes.size(); ++a) gather.offsets[first + a] = std::move(axes[a]);
  gather.in_size = in_size;
  gather.out_size = out_size;
  return gather;
}

// Calls visit(output index, input offset or a negative number for the border) for one sample.
template <typename Visit>
void for_each_element(const AxisGather& g, Visit&& visit) {
  int64_t o = 0;
  for (int64_t a : g.offsets[0]) {
    for (int64_t b : g.offsets[1]) {
      for (int64_t c : g.offsets[2]) {
        for (int64_t d : g.offsets[3]) {
          const int64_t base = a + b + c + d;
          for (int64_t e : g.offsets[4]) visit(o++, base + e);
        }
      }
    }
  }
}

}  // namespace

AxisGather AxisGather::transpose(const std::vector<int>& dims, const std::vector<int>& perm) {
  assert(dims.size() == perm.size());
  const std::vector<int64_t> strides = strides_of(dims);
  std::vector<std::vector<int64_t>> axes(dims.size());
  for (size_t k = 0; k < perm.size(); ++k) {
    const size_t from = size_t(perm[k]);
    for (int i = 0; i < dims[from]; ++i) axes[k].push_back(i * strides[from]);
  }
  return with_leading_slots(std::move(axes), product(dims), product(dims));
}

AxisGather AxisGather::pad(const std::vector<int>& dims, const std::vector<int>& before,
                           const std::vector<int>& after, Fill fill) {
  const std::vector<int64_t> strides = strides_of(dims);
  std::vector<std::vector<int64_t>> axes(dims.size());
  int64_t out_size = 1;
  for (size_t a = 0; a < dims.size(); ++a) {
    const int size = dims[a];
    assert(fill != Fill::kReflect || (before[a] < size && after[a] < size));
    for (int o = 0; o < before[a] + size + after[a]; ++o) {
      int i = o - before[a];
      if (i < 0 || i >= size) {
        if (fill == Fill::kConstant) {
          axes[a].push_back(kBorder);
          continue;
        }
        i = fill == Fill::kReflect ? (i < 0 ? -i : 2 * (size - 1) - i) : std::clamp(i, 0, size - 1);
      }
      axes[a].push_back(i * strides[a]);
    }
    out_size *= int64_t(axes[a].size());
  }
  return with_leading_slots(std::move(axes), product(dims), out_size);
}

AxisGather AxisGather::slice(const std::vector<int>& dims, const std::vector<int>& start,
                             const std::vector<int>& step, const std::vector<int>& count) {
  const std::vector<int64_t> strides = strides_of(dims);
  std::vector<std::vector<int64_t>> axes(dims.size());
  int64_t out_size = 1;
  for (size_t a = 0; a < dims.size(); ++a) {
    for (int i = 0; i < count[a]; ++i) {
      const int64_t at = start[a] + int64_t(i) * step[a];
      assert(at >= 0 && at < dims[a]);
      axes[a].push_back(at * strides[a]);
    }
    out_size *= count[a];
  }
  return with_leading_slots(std::move(axes), product(dims), out_size);
}

void gather_forward(float* out, const float* in, int n, const AxisGather& gather, float value) {
  for (int s = 0; s < n; ++s) {
    const float* x = in + size_t(s) * size_t(gather.in_size);
    float* y = out + size_t(s) * size_t(gather.out_size);
    for_each_element(gather, [&](int64_t o, int64_t i) { y[o] = i < 0 ? value : x[i]; });
  }
}

void gather_backward(float* dinput, const float* dout, int n, const AxisGather& gather) {
  for (int s = 0; s < n; ++s) {
    float* dx = dinput + size_t(s) * size_t(gather.in_size);
    const float* dy = dout + size_t(s) * size_t(gather.out_size);
    for_each_element(gather, [&](int64_t o, int64_t i) {
      if (i >= 0) dx[i] += dy[o];
    });
  }
}

void reshape_channel_last_forward(float* out, const float* in, float* scratch, int n,
                                  Blocks in_blocks, Blocks out_blocks) {
  const int64_t in_block = in_blocks.count(), out_block = out_blocks.count();
  const size_t sample = size_t(in_blocks.seq * in_block);
  for (int s = 0; s < n; ++s) {
    const float* x = in + s * sample;
    float* y = out + s * sample;
    for (int64_t b = 0; b < in_blocks.seq; ++b) {  // (c, h·w) → (h·w, c): the values in flat order
      transpose_matrix(scratch + b * in_block, x + b * in_block, in_blocks.c,
                       in_blocks.h * in_blocks.w, false);
    }
    for (int64_t b = 0; b < out_blocks.seq; ++b) {  // (h'·w', c') → (c', h'·w')
      transpose_matrix(y + b * out_block, scratch + b * out_block, out_blocks.h * out_blocks.w,
                       out_blocks.c, false);
    }
  }
}

void reshape_channel_last_backward(float* dinput, const float* dout, float* scratch, int n,
                                   Blocks in_blocks, Blocks out_blocks) {
  const int64_t in_block = in_blocks.count(), out_block = out_blocks.count();
  const size_t sample = size_t(in_blocks.seq * in_block);
  for (int s = 0; s < n; ++s) {
    float* dx = dinput + s * sample;
    const float* dy = dout + s * sample;
    for (int64_t b = 0; b < out_blocks.seq; ++b) {  // (c', h'·w') → flat (h'·w', c')
      transpose_matrix(scratch + b * out_block, dy + b * out_block, out_blocks.c,
                       out_blocks.h * out_blocks.w, false);
    }
    for (int64_t b = 0; b < in_blocks.seq; ++b) {  // flat (h·w, c) → (c, h·w), added
      transpose_matrix(dx + b * in_block, scratch + b * in_block, in_blocks.h * in_blocks.w,
                       in_blocks.c, true);
    }
  }
}

}  // namespace edgetrain::ops
