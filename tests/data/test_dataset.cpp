// Dataset checks itself when it is made (issue #15): sizes, shapes, label range, finite values; and
// what every provider shares (SampleView, the default targets).
#include <gtest/gtest.h>

#include <cmath>

#include "data/test_files.h"
#include "edgetrain/data.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

using test::error_message;  // the Error's message (a test failure when none is thrown)

// Before: a Dataset was a struct whose labels and pixels nobody compared, and evaluate read past
// the pixels of a set with more labels than images (a crash). Now such a set cannot be made.
TEST(Dataset, LabelsAndFeaturesThatDisagreeAreRefusedWhenMade) {
  const std::vector<float> five_images(5 * 784, 0.5f);
  const std::string message = error_message([&] {
    const Dataset data = Dataset::with_labels(five_images, std::vector<int32_t>(6, 1),
                                              {.channels = 1, .height = 28, .width = 28}, 10);
    evaluate(lenet(), data);  // never reached
  });
  EXPECT_NE(message.find("6 labels but 5 samples of features ([1, 28, 28] each)"),
            std::string::npos)
      << message;
  EXPECT_NE(error_message([&] {
              Dataset::with_labels(std::vector<float>(5 * 784 + 3), std::vector<int32_t>(5, 0),
                                   {.channels = 1, .height = 28, .width = 28}, 10);
            }).find("3923 feature values are not a whole number of samples of 784"),
            std::string::npos);
}

TEST(Dataset, LabelsShapesAndValuesAreChecked) {
  const SampleShape row{.channels = 2};
  EXPECT_NE(error_message([&] {
              Dataset::with_labels({1, 2, 3, 4}, {0, 3}, row, 3);
            }).find("sample 1 has label 3, outside 0..2 (3 classes)"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              Dataset::with_labels({1, 2, 3, 4}, {0, -1}, row, 3);
            }).find("sample 1 has label -1"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              Dataset::with_labels({1, 2}, {0}, row, 0);
            }).find("num_classes"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              Dataset::with_labels({1, 2}, {0}, {.channels = 0}, 2);
            }).find("shape [0, 1, 1] is not valid"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              Dataset::with_labels({1, NAN, 3, 4}, {0, 1}, row, 2);
            }).find("sample 0 has feature nan at position 1"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              Dataset::with_labels({1, 2}, {0}, row, 2, {"a", "b", "c"});
            }).find("3 class names for 2 classes"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              Dataset::with_targets({1, 2, 3, 4}, {0.5f, 1, 2}, row, 1);
            }).find("3 samples of targets (1 values each) but 2 samples of features"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              Dataset::with_targets({1, 2}, {INFINITY}, row, 1);
            }).find("has target inf"),
            std::string::npos);
}

TEST(Dataset, TargetsAndLabelsReadBack) {
  const Dataset table = Dataset::with_targets({1, 2, 3, 4, 5, 6}, {0.5f, -1, 2, 3, 7, 8},
                                              {.channels = 2}, 2, "table");
  ASSERT_EQ(table.count(), 3u);
  EXPECT_EQ(table.feature_size(), 2u);
  EXPECT_EQ(table.target_size(), 2u);
  EXPECT_EQ(table.label(1), -1);
  float target[2];
  table.copy_target(1, target, 2);
  EXPECT_EQ(target[0], 2.0f);
  EXPECT_EQ(target[1], 3.0f);
  EXPECT_NE(error_message([&] { table.copy_target(1, target, 1); }).find("targets have 2 values"),
            std::string::npos);
  EXPECT_EQ(table.image(2), (std::vector<float>{5, 6}));

  // Class labels give a mean-squared-error loss their one-hot encoding.
  const Dataset classes =
      Dataset::with_pixel_bytes({0, 255, 51, 102}, {1, 0}, {.channels = 2}, 2, {"no", "yes"});
  EXPECT_EQ(classes.class_names(), (std::vector<std::string>{"no", "yes"}));
  EXPECT_EQ(classes.image(0), (std::vector<float>{0.0f, 1.0f}));
  EXPECT_FLOAT_EQ(classes.pixel(2), 0.2f);
  classes.copy_target(0, target, 2);
  EXPECT_EQ(target[0], 0.0f);
  EXPECT_EQ(target[1], 1.0f);
  EXPECT_EQ(Dataset::unlabelled({1, 2, 3}, {.channels = 3}).label(0), -1);
}

TEST(Dataset, TruncateKeepsTheFirstSamplesOfEveryStorage) {
  Dataset table = Dataset::with_targets({1, 2, 3, 4, 5, 6}, {7, 8, 9}, {.channels = 2}, 1);
  table.truncate(2);
  EXPECT_EQ(table.count(), 2u);
  EXPECT_EQ(table.features().size(), 4u);
  float target = 0;
  table.copy_target(1, &target, 1);
  EXPECT_EQ(target, 8.0f);
  table.truncate(0);
  EXPECT_EQ(table.count(), 0u);
}

TEST(SampleView, ForwardsTargetsClassNamesAndSampleNames) {
  const Dataset data = Dataset::with_labels({10, 11, 12, 13}, {0, 1, 1, 0}, {.channels = 1}, 2,
                                            {"cat", "dog"}, "pets");
  const SampleView first(data, 2);
  EXPECT_EQ(first.count(), 2u);
  const SampleView picked(data, std::vector<size_t>{3, 1});
  ASSERT_EQ(picked.count(), 2u);
  float value = 0;
  picked.copy_features(0, &value);
  EXPECT_EQ(value, 13.0f);
  EXPECT_EQ(picked.label(1), 1);
  EXPECT_EQ(picked.class_names(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(picked.sample_name(0), "pets sample 3");
  EXPECT_NE(error_message([&] { SampleView(data, std::vector<size_t>{4}); }).find("index 4"),
            std::string::npos);
  const Dataset regression = Dataset::with_targets({1, 2}, {5, 6}, {.channels = 1}, 1);
  const SampleView one(regression, std::vector<size_t>{1});
  EXPECT_EQ(one.target_size(), 1u);
  one.copy_target(0, &value, 1);
  EXPECT_EQ(value, 6.0f);
}

}  // namespace
}  // namespace edgetrain
