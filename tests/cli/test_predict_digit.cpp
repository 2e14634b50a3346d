// `edgetrain predict --digit`: PNG drawings of any size made MNIST-like (mnist_style_digit), the
// input `edgetrain serve` makes of a drawing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli_fixture.h"
#include "edgetrain/data.h"
#include "edgetrain/image.h"
#include "mnist_test_set.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

const std::string kCnn =
    test_paths::source("../shared/coreml-models/mnist-cnn-image-input.mlmodel");
const std::string kMlp = test_paths::source("../shared/coreml-models/mnist-mlp-multiarray.mlmodel");

// MNIST test digit `index` drawn 6 times larger in dark ink on a 240x200 sheet of white paper.
std::string paper_drawing(size_t index) {
  const std::vector<float> digit = test_data::mnist_test_set().image(index);
  GrayImage sheet{240, 200, std::vector<float>(240 * 200, 1.0f)};
  for (int y = 0; y < 168; ++y) {
    for (int x = 0; x < 168; ++x) {
      sheet.pixels[size_t(y + 20) * 240 + size_t(x + 50)] =
          1.0f - digit[size_t(y / 6) * 28 + size_t(x / 6)];
    }
  }
  return encode_png_gray(sheet);
}

using PredictDigit = Cli;

TEST_F(PredictDigit, ReadsDrawingsOfAnySize) {
  std::string files;
  for (size_t i = 0; i < 10; ++i) {
    write("digit" + std::to_string(i) + ".png", paper_drawing(i));
    files += " digit" + std::to_string(i) + ".png";
  }
  const CliRun run_digits = run("predict --digit --json '" + kCnn + "'" + files);
  ASSERT_EQ(run_digits.exit_code, 0) << run_digits.err;
  const std::vector<int> labels = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};  // MNIST's first test labels
  std::istringstream lines(run_digits.out);
  std::string line;
  for (size_t i = 0; std::getline(lines, line); ++i) {
    ASSERT_LT(i, labels.size());
    EXPECT_EQ(nlohmann::json::parse(line)["label"], labels[i]) << line;
  }
  // Without --digit the size is an error that says what to do.
  const CliRun plain = run("predict '" + kCnn + "' digit0.png");
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_NE(
      plain.err.find("digit0.png: the image is 240x200 but the model input 'image' takes 28x28 "
                     "(resize it first, or give --digit for a drawing of a digit)"),
      std::string::npos)
      << plain.err;
  // A model whose input is not one square gray image cannot take a drawing.
  const CliRun flat = run("predict --digit '" + kMlp + "' digit0.png");
  EXPECT_EQ(flat.exit_code, 1);
  EXPECT_NE(flat.err.find("--digit needs a model whose input is one square gray image"),
            std::string::npos)
      << flat.err;
}

}  // namespace
}  // namespace edgetrain
