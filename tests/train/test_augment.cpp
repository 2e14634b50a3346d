// Image augmentation: known images under known changes, and draws that depend on (seed, epoch,
// sample) alone.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <thread>
#include <vector>

#include "train/augment.h"

namespace edgetrain {
namespace {

// A 1 x 3 x 4 image whose value says where it is: 10 · row + column + 1 (no zeros inside).
std::vector<float> ramp(int height = 3, int width = 4, int channels = 1) {
  std::vector<float> image;
  for (int c = 0; c < channels; ++c) {
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) image.push_back(float(100 * c + 10 * y + x + 1));
    }
  }
  return image;
}

std::vector<float> changed(const std::vector<float>& image, ImageGeometry geometry,
                           AugmentDraw draw) {
  std::vector<float> out(image.size(), -1.0f);
  augment_image(out.data(), image.data(), geometry, draw);
  return out;
}

TEST(Augment, WholePixelShiftsMoveTheImageAndFillWithZero) {
  const ImageGeometry geometry{1, 3, 4};
  // One right, one up: column x of the output is column x - 1 of the input, row y is row y + 1.
  EXPECT_EQ(changed(ramp(), geometry, {.shift_x = 1, .shift_y = -1}),
            std::vector<float>({0, 11, 12, 13,  //
                                0, 21, 22, 23,  //
                                0, 0, 0, 0}));
  EXPECT_EQ(changed(ramp(), geometry, {}), ramp());  // no change: an exact copy
}

TEST(Augment, FlipsMirrorEachRowAndEachChannel) {
  const ImageGeometry geometry{2, 3, 4};
  EXPECT_EQ(changed(ramp(3, 4, 2), geometry, {.flip = true}),
            std::vector<float>({4,   3,   2,   1,   14,  13,  12,  11,  24,  23,  22,  21,  //
                                104, 103, 102, 101, 114, 113, 112, 111, 124, 123, 122, 121}));
  // Flipped, then shifted one to the right.
  EXPECT_EQ(changed(ramp(), {1, 3, 4}, {.shift_x = 1, .flip = true}),
            std::vector<float>({0, 4, 3, 2, 0, 14, 13, 12, 0, 24, 23, 22}));
}

TEST(Augment, RotationsTurnAboutTheCentreCounterClockwise) {
  // A quarter turn of a 3 x 3 image: the top-right corner goes to the top-left.
  const std::vector<float> image = {1, 2, 3,  //
                                    4, 5, 6,  //
                                    7, 8, 9};
  const std::vector<float> turned = changed(image, {1, 3, 3}, {.degrees = 90});
  const std::vector<float> expected = {3, 6, 9,  //
                                       2, 5, 8,  //
                                       1, 4, 7};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(turned[i], expected[i], 1e-5) << i;
  const std::vector<float> back = changed(image, {1, 3, 3}, {.degrees = -90});
  EXPECT_NEAR(back[0], 7, 1e-5);  // clockwise: the bottom-left corner goes to the top-left
  EXPECT_NEAR(back[2], 1, 1e-5);

  // A small turn samples bilinearly: a single bright pixel right of the centre of a 5 x 5 image,
  // turned by 30°, lands between pixels; its four neighbours of the turned point share it.
  std::vector<float> dot(25, 0.0f);
  dot[2 * 5 + 4] = 1.0f;  // (x 4, y 2): 2 right of the centre (2, 2)
  const std::vector<float> small = changed(dot, {1, 5, 5}, {.degrees = 30});
  double total = 0;
  for (float v : small) total += v;
  EXPECT_GT(total, 0.5);
  // The turned point is (2 + 2 cos 30°, 2 - 2 sin 30°) = (3.73, 1): the pixels near it hold the
  // value.
  EXPECT_GT(small[1 * 5 + 4] + small[1 * 5 + 3], 0.5f);
  EXPECT_EQ(small[3 * 5 + 0], 0.0f);
}

TEST(Augment, DrawsDependOnSeedEpochAndSampleOnly) {
  const Augmentation augment{.shift = 2, .rotate_degrees = 10, .flip = true};
  std::set<int> shifts;
  int flips = 0;
  for (size_t sample = 0; sample < 400; ++sample) {
    const AugmentDraw a = draw_augmentation(augment, 7, 3, sample);
    const AugmentDraw b = draw_augmentation(augment, 7, 3, sample);
    EXPECT_EQ(a.shift_x, b.shift_x);
    EXPECT_EQ(a.shift_y, b.shift_y);
    EXPECT_EQ(a.degrees, b.degrees);
    EXPECT_EQ(a.flip, b.flip);
    EXPECT_LE(std::abs(a.shift_x), 2);
    EXPECT_LE(std::abs(a.shift_y), 2);
    EXPECT_LE(std::abs(a.degrees), 10.0);
    shifts.insert(a.shift_x);
    flips += a.flip;
  }
  EXPECT_EQ(shifts.size(), 5u);  // -2..2 all drawn
  EXPECT_GT(flips, 150);         // about half
  EXPECT_LT(flips, 250);
  // Another seed or epoch gives other draws.
  int same_seed = 0, same_epoch = 0;
  for (size_t sample = 0; sample < 100; ++sample) {
    const AugmentDraw a = draw_augmentation(augment, 7, 3, sample);
    same_seed += a.degrees == draw_augmentation(augment, 8, 3, sample).degrees;
    same_epoch += a.degrees == draw_augmentation(augment, 7, 4, sample).degrees;
  }
  EXPECT_LT(same_seed, 5);
  EXPECT_LT(same_epoch, 5);
}

TEST(Augment, FlipsOnlyWhenAskedAndTheOtherDrawsStayPut) {
  const Augmentation with{.shift = 3, .rotate_degrees = 5, .flip = true};
  const Augmentation without{.shift = 3, .rotate_degrees = 5};
  for (size_t sample = 0; sample < 200; ++sample) {
    const AugmentDraw a = draw_augmentation(with, 1, 0, sample);
    const AugmentDraw b = draw_augmentation(without, 1, 0, sample);
    EXPECT_FALSE(b.flip);
    EXPECT_EQ(a.shift_x, b.shift_x);
    EXPECT_EQ(a.degrees, b.degrees);
  }
}

// A dataset of images whose features are the ramp plus the index, read through AugmentedData.
class Ramps : public BatchProvider {
 public:
  size_t count() const override { return 64; }
  size_t feature_size() const override { return 12; }
  void copy_features(size_t index, float* dst) const override {
    const std::vector<float> image = ramp();
    for (size_t i = 0; i < image.size(); ++i) dst[i] = image[i] + float(index);
  }
  int32_t label(size_t index) const override { return int32_t(index % 3); }
};

TEST(Augment, AugmentedDataIsTheSameFromAnyThreadAndChangesWithTheEpoch) {
  const Ramps ramps;
  AugmentedData data(ramps, {1, 3, 4}, {.shift = 1, .flip = true}, 5);
  data.set_epoch(2);
  std::vector<std::vector<float>> here(ramps.count(), std::vector<float>(12));
  for (size_t i = 0; i < ramps.count(); ++i) data.copy_features(i, here[i].data());
  std::vector<std::vector<float>> there(ramps.count(), std::vector<float>(12));
  std::thread reader([&] {
    for (size_t i = ramps.count(); i-- > 0;) data.copy_features(i, there[i].data());
  });
  reader.join();
  EXPECT_EQ(here, there);
  for (size_t i = 0; i < ramps.count(); ++i) {
    std::vector<float> source(12);
    ramps.copy_features(i, source.data());
    EXPECT_EQ(here[i],
              changed(source, {1, 3, 4}, draw_augmentation({.shift = 1, .flip = true}, 5, 2, i)));
    EXPECT_EQ(data.label(i), ramps.label(i));
  }
  data.set_epoch(3);
  int differ = 0;
  for (size_t i = 0; i < ramps.count(); ++i) {
    std::vector<float> next(12);
    data.copy_features(i, next.data());
    differ += next != here[i];
  }
  EXPECT_GT(differ, 32);
}

}  // namespace
}  // namespace edgetrain
