#include "train/augment.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "base/rng.h"

namespace edgetrain {
namespace {

// A generator of its own per (seed, epoch, sample): each key goes through a splitmix64 round, so
// neighbouring samples and epochs get unrelated draws.
Rng sample_rng(uint64_t seed, int64_t epoch, size_t sample) {
  uint64_t key = Rng(seed ^ 0x5A17A5A17A5A17A5ull).next();
  key = Rng(key ^ uint64_t(epoch)).next();
  key = Rng(key ^ uint64_t(sample)).next();
  return Rng(key);
}

}  // namespace

AugmentDraw draw_augmentation(const Augmentation& augment, uint64_t seed, int64_t epoch,
                              size_t sample) {
  Rng rng = sample_rng(seed, epoch, sample);
  // Always the same four draws in the same order, so turning one change on or off leaves the
  // others' values as they were.
  const uint64_t span = uint64_t(2 * augment.shift + 1);
  AugmentDraw draw;
  draw.shift_x = int(rng.below(span)) - augment.shift;
  draw.shift_y = int(rng.below(span)) - augment.shift;
  draw.degrees = (2.0 * double(rng.uniform()) - 1.0) * augment.rotate_degrees;
  const bool heads = (rng.next() >> 63) != 0;
  draw.flip = augment.flip && heads;
  return draw;
}

void augment_image(float* dst, const float* src, ImageGeometry geometry, const AugmentDraw& draw) {
  const int h = geometry.height, w = geometry.width;
  const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  const double radians = draw.degrees * std::numbers::pi / 180.0;
  const double cosine = std::cos(radians), sine = std::sin(radians);
  for (int c = 0; c < geometry.channels; ++c) {
    const float* plane = src + size_t(c) * size_t(h) * size_t(w);
    float* out = dst + size_t(c) * size_t(h) * size_t(w);
    auto at = [&](int y, int x) -> double {
      return (x < 0 || x >= w || y < 0 || y >= h) ? 0.0 : double(plane[size_t(y) * w + size_t(x)]);
    };
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        // Undo the shift, the turn (rotate by -degrees about the centre), then the flip.
        const double u = x - draw.shift_x - cx, v = y - draw.shift_y - cy;
        double sx = u * cosine - v * sine + cx;
        const double sy = u * sine + v * cosine + cy;
        if (draw.flip) sx = (w - 1) - sx;
        const double fx0 = std::floor(sx), fy0 = std::floor(sy);
        const double fx = sx - fx0, fy = sy - fy0;
        const int x0 = int(fx0), y0 = int(fy0);
        double value = (1 - fy) * ((1 - fx) * at(y0, x0) + (fx > 0 ? fx * at(y0, x0 + 1) : 0.0));
        if (fy > 0)
          value += fy * ((1 - fx) * at(y0 + 1, x0) + (fx > 0 ? fx * at(y0 + 1, x0 + 1) : 0.0));
        out[size_t(y) * w + size_t(x)] = float(value);
      }
    }
  }
}

void AugmentedData::copy_features(size_t index, float* dst) const {
  thread_local std::vector<float> source;
  source.resize(data_.feature_size());
  data_.copy_features(index, source.data());
  augment_image(dst, source.data(), geometry_, draw_augmentation(augment_, seed_, epoch_, index));
}

}  // namespace edgetrain
