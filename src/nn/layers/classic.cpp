#include "nn/layers/classic.h"

namespace edgetrain {

Chw classic_view(const Shape& s) {
  if (s.rank() == 1) return {1, s[0], 1, 1};
  Chw v;
  for (int axis = 0; axis + 3 < s.rank(); ++axis) v.outer *= s[axis];
  v.c = s[s.rank() - 3];
  v.h = s[s.rank() - 2];
  v.w = s[s.rank() - 1];
  return v;
}

Chw classic_view(const LayerContext& context, size_t input) {
  const Shape& s = context.inputs[input];
  if (s.rank() == 2) {
    context.fail(context.input_text(input) +
                 ", but this layer reads (C, H, W): it needs rank 1 [C] or rank 3 and up");
  }
  return classic_view(s);
}

Shape classic_shape(const Shape& like, int c, int h, int w) {
  if (like.rank() < 3) return Shape{c, h, w};
  Shape s = like;
  s[like.rank() - 3] = c;
  s[like.rank() - 2] = h;
  s[like.rank() - 1] = w;
  return s;
}

}  // namespace edgetrain
