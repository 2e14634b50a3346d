// Core ML's ND layers (concatND, squeeze, expandDims, reshape, ...) name axes of the whole tensor;
// edgetrain's shapes are per sample. Under the exact array mapping the per-sample shape IS the
// tensor. Under the default rank-5 mapping a per-sample shape of rank r is Core ML's rank r + 2
// tensor (Seq, Batch, ...), e.g. (C, H, W) → (Seq, Batch, C, H, W): a non-negative axis is 2 more
// than edgetrain's, and axes 0 and 1 (Seq, Batch) name no per-sample axis.
#pragma once

#include <cstdint>

#include "nn/layer_kind.h"

namespace edgetrain {

// The per-sample axis in [0, rank) that Core ML's `axis` (negative counts from the end) names for a
// per-sample shape of `rank`; throws through the context when it names none (out of range, or
// Seq/Batch under the rank-5 mapping).
int nd_axis(const LayerContext& context, int64_t axis, int rank);

}  // namespace edgetrain
