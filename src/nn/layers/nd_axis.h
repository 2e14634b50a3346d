// How Core ML's ND layers (squeeze, expandDims, flattenTo2D, reshapeStatic, constantPad, concatND,
// ...) name axes, on edgetrain's per-sample shapes. Core ML counts axes on the whole tensor. Under
// the exact array mapping (Model::exact_array_mapping) the per-sample shape is that tensor; under
// the default rank-5 mapping a per-sample blob of rank r is Core ML's (Seq, Batch, ...) of rank
// r + 2, so a non-negative axis is 2 more than the per-sample one and must not name Seq or Batch.
// Negative axes count from the end under both.
#pragma once

#include <cstdint>
#include <string>

#include "nn/layer_kind.h"

namespace edgetrain {

// Core ML's axes before the per-sample ones: 0 under the exact mapping, 2 (Seq, Batch) otherwise.
inline int nd_leading_axes(const Model& model) {
  return model.exact_array_mapping ? 0 : 2;
}

// The per-sample axis, in [0, rank), that Core ML's `axis` names on a tensor whose per-sample rank
// is `rank`. Throws through the context when it is out of range or names Seq or Batch.
inline int nd_axis(const LayerContext& context, int64_t axis, int rank) {
  const int leading = nd_leading_axes(context.model);
  const int64_t full = rank + leading;
  const int64_t at = axis < 0 ? axis + full : axis;
  if (at < 0 || at >= full) {
    context.fail("axis " + std::to_string(axis) + " is out of range for a rank-" +
                 std::to_string(full) + " tensor (" + std::to_string(-full) + " to " +
                 std::to_string(full - 1) +
                 (leading ? "; Core ML's rank-5 mapping adds Seq and Batch before the " +
                                std::to_string(rank) + " per-sample axes)"
                          : ")"));
  }
  if (at < leading) {
    context.fail("axis " + std::to_string(axis) + " names Core ML's " +
                 (at == 0 ? "sequence" : "batch") +
                 " axis: under the rank-5 array mapping a per-sample blob of rank " +
                 std::to_string(rank) + " is [Seq, Batch, ...], so its own axes are 2 to " +
                 std::to_string(full - 1) + " (or -" + std::to_string(rank) + " to -1)");
  }
  return int(at - leading);
}

}  // namespace edgetrain
