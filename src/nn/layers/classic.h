// How Core ML's classic layers see a blob: the last three dimensions are (C, H, W) and any leading
// ones are more batch; a rank-1 blob [C] is (C, 1, 1). Rank 2 has no such reading.
#pragma once

#include <cstdint>

#include "edgetrain/model.h"
#include "nn/layer_kind.h"

namespace edgetrain {

struct Chw {
  int64_t outer = 1;  // leading dimensions, folded into the batch
  int c = 1, h = 1, w = 1;
  int64_t plane() const { return int64_t(h) * w; }
  int64_t count() const { return int64_t(c) * h * w; }  // per leading index
};

// Throws through the context for a rank-2 input.
Chw classic_view(const LayerContext& context, size_t input = 0);
// For shapes already checked (compile time).
Chw classic_view(const Shape& shape);
// `like`'s leading dimensions with (c, h, w) after them; a rank-1 `like` gives rank 3.
Shape classic_shape(const Shape& like, int c, int h, int w);

}  // namespace edgetrain
