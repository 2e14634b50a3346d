// Image augmentation (edgetrain/train.h, Augmentation): a per-sample random flip, turn and shift of
// an image (C, H, W), drawn from (seed, epoch, sample index) so that it does not depend on the
// thread count or the order of the batch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "edgetrain/data.h"
#include "edgetrain/train.h"

namespace edgetrain {

struct ImageGeometry {
  int channels = 1, height = 1, width = 1;
  size_t size() const { return size_t(channels) * size_t(height) * size_t(width); }
};

// One sample's change. Forward: flip left-right (x → W-1-x), turn by `degrees` about the centre
// ((W-1)/2, (H-1)/2), counter-clockwise as displayed (rows top to bottom), then move by (shift_x,
// shift_y) pixels (right, down).
struct AugmentDraw {
  int shift_x = 0, shift_y = 0;
  double degrees = 0;
  bool flip = false;
};
AugmentDraw draw_augmentation(const Augmentation& augment, uint64_t seed, int64_t epoch,
                              size_t sample);

// dst (C, H, W) = src (C, H, W) under the change: each output pixel samples the source at the
// inverse-mapped point bilinearly, zero outside the image. Whole-pixel shifts and flips (no turn)
// copy values exactly.
void augment_image(float* dst, const float* src, ImageGeometry geometry, const AugmentDraw& draw);

// The training data as the trainer sees it in one epoch: each sample's features augmented. Safe to
// read from several threads at once (the source copy goes through a per-thread buffer).
class AugmentedData : public BatchProvider {
 public:
  AugmentedData(const BatchProvider& data, ImageGeometry geometry, const Augmentation& augment,
                uint64_t seed)
      : data_(data), geometry_(geometry), augment_(augment), seed_(seed) {}
  void set_epoch(int64_t epoch) { epoch_ = epoch; }  // between epochs only

  size_t count() const override { return data_.count(); }
  size_t feature_size() const override { return data_.feature_size(); }
  void copy_features(size_t index, float* dst) const override;
  int32_t label(size_t index) const override { return data_.label(index); }
  void copy_target(size_t index, float* dst, size_t size) const override {
    data_.copy_target(index, dst, size);
  }

 private:
  const BatchProvider& data_;
  ImageGeometry geometry_;
  Augmentation augment_;
  uint64_t seed_;
  int64_t epoch_ = 0;
};

}  // namespace edgetrain
