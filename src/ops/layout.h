// Layout kernels: ops that move values without computing on them (transposes, pads, channel-last
// reshapes), forward and backward side by side. Buffers hold `n` samples one after another; each
// kernel keeps nothing for backward, which ADDS into dinput (the ops' accumulation rule).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace edgetrain::ops {

// A separable gather over a per-sample tensor of rank ≤ 5: output element (i0, ..., i4) reads input
// offset offsets[0][i0] + ... + offsets[4][i4], or is the border value when any of them is
// kBorder. Transposes, pads of every kind and slices are such gathers.
struct AxisGather {
  static constexpr int64_t kBorder = INT64_MIN / 8;  // any sum holding it stays negative
  std::array<std::vector<int64_t>, 5> offsets;       // per output axis, per output index
  int64_t in_size = 0, out_size = 0;                 // values per sample

  // Output axis k is input axis perm[k] of `dims` (row-major).
  static AxisGather transpose(const std::vector<int>& dims, const std::vector<int>& perm);

  enum class Fill { kConstant, kReflect, kReplicate };
  // Each axis grows by before[a] values in front and after[a] behind: the constant, the values
  // mirrored about the edge (excluding it, as PyTorch's reflect), or the edge value repeated.
  // Reflection needs before and after below the axis's size.
  static AxisGather pad(const std::vector<int>& dims, const std::vector<int>& before,
                        const std::vector<int>& after, Fill fill);
  // Axis a keeps count[a] values, from start[a] in steps of step[a] (negative: backwards); every
  // value read must lie inside the axis.
  static AxisGather slice(const std::vector<int>& dims, const std::vector<int>& start,
                          const std::vector<int>& step, const std::vector<int>& count);
};

// out (n, out_size) gathered from in (n, in_size); border elements get `value`.
void gather_forward(float* out, const float* in, int n, const AxisGather& gather, float value);
// dinput (n, in_size) += the gradient of every output element that read it.
void gather_backward(float* dinput, const float* dout, int n, const AxisGather& gather);

// Core ML's channel-last reshape: each sample's blocks in (seq, c, h, w) are read in (h, w, c)
// order, the values taken as (seq', h', w', c') and each block written as (c', h', w'), so
// out[s'][c'][h'][w'] = flat[s'·c'h'w' + (h'·w' + w')·c' + c'] where flat lists the input that way.
// seq·c·h·w = seq'·c'·h'·w'; `scratch` holds one sample.
struct Blocks {
  int64_t seq = 1;
  int c = 1, h = 1, w = 1;
  int64_t count() const { return int64_t(c) * h * w; }  // per block
};
void reshape_channel_last_forward(float* out, const float* in, float* scratch, int n,
                                  Blocks in_blocks, Blocks out_blocks);
void reshape_channel_last_backward(float* dinput, const float* dout, float* scratch, int n,
                                   Blocks in_blocks, Blocks out_blocks);

}  // namespace edgetrain::ops
