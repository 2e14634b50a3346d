// evaluate() on a mean-squared-error model whose data carries class labels beyond its outputs (as
// any IDX or CSV reader gives): the loss checks no label, so the scorer must not index by them.
// Before the fix this wrote past the confusion matrix (AddressSanitizer: heap-buffer-overflow).
#include <gtest/gtest.h>

#include <cmath>

#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

TEST(EvaluateLabels, RegressionWithLabelsBeyondItsOutputsStaysInBounds) {
  // tests/fixtures/tiny_regressor.json: 2 inputs, 1 output, mean squared error.
  const Model model = load_model(test_paths::source("tests/fixtures/tiny_regressor.json"));
  Dataset data;
  data.channels = 1;
  data.height = 1;
  data.width = 2;
  data.num_classes = 10;
  data.pixels = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  data.labels = {7, 9, 0};  // only label 0 names one of the model's outputs
  const Evaluation result = evaluate(model, data, 1);
  EXPECT_EQ(result.samples, 3u);
  EXPECT_TRUE(std::isfinite(result.loss));
  // A regression is scored as one: no accuracy or confusion matrix, which its labels could only
  // index out of bounds.
  EXPECT_EQ(result.kind, OutputKind::kRegression);
  EXPECT_TRUE(result.confusion.empty());
  EXPECT_TRUE(std::isfinite(result.mse));
  EXPECT_GT(result.mse, 0.0);
}

}  // namespace
}  // namespace edgetrain
