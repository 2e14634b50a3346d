// --precision bf16 (UpdateConfig::precision): refused with a clear message where the CPU lacks
// AVX512-BF16; where it has it, a run is bit-identical to itself, differs from fp32's (the products
// really are rounded), learns as well, and a checkpoint does not resume across precisions.
#include <gtest/gtest.h>

#include <string>

#include "data/test_files.h"
#include "edgetrain/inference.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

Dataset mnist(const char* images, const char* labels, size_t n) {
  Dataset data = read_idx(test_paths::mnist(images), test_paths::mnist(labels));
  data.truncate(n);
  return data;
}

TEST(Precision, NamesAndFloat32IsAlwaysSupported) {
  EXPECT_STREQ(precision_name(Precision::kFloat32), "float32");
  EXPECT_STREQ(precision_name(Precision::kBfloat16), "bf16");
  EXPECT_TRUE(precision_supported(Precision::kFloat32));
  const Model model = lenet({});
  EXPECT_EQ(resolve_update(model, {}).precision, Precision::kFloat32);
}

TEST(Precision, Bf16IsRefusedWithAReasonWhereTheCpuLacksIt) {
  const Model model = lenet({});
  if (precision_supported(Precision::kBfloat16)) {
    EXPECT_EQ(resolve_update(model, {.precision = Precision::kBfloat16}).precision,
              Precision::kBfloat16);
    GTEST_SKIP() << "this CPU has AVX512-BF16: the refusal runs where it has not (arm64, "
                    "older x86)";
  }
  const std::string message =
      test::error_message([&] { resolve_update(model, {.precision = Precision::kBfloat16}); });
  EXPECT_NE(message.find("precision bf16 needs a CPU with AVX512-BF16"), std::string::npos)
      << message;
}

TEST(Precision, Bf16RunsAreReproducibleDifferFromFloat32AndLearn) {
  if (!precision_supported(Precision::kBfloat16)) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  const Dataset train =
      mnist("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 2000);
  const Dataset test = mnist("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 1000);
  const UpdateConfig bf16{.seed = 3, .threads = 2, .precision = Precision::kBfloat16};
  const UpdateConfig fp32{.seed = 3, .threads = 2};
  Model a = lenet({.batch_size = 32, .epochs = 2}), b = lenet({.batch_size = 32, .epochs = 2}),
        c = lenet({.batch_size = 32, .epochs = 2});
  UpdateTask(a, train, bf16).run();
  UpdateTask(b, train, bf16).run();
  UpdateTask(c, train, fp32).run();
  EXPECT_EQ(a.parameters, b.parameters) << "the same seed and threads must give the same bits";
  EXPECT_NE(a.parameters, c.parameters) << "bf16 products must change the bits";
  const double bf16_accuracy = evaluate(a, test).accuracy;
  const double fp32_accuracy = evaluate(c, test).accuracy;
  EXPECT_GT(bf16_accuracy, 0.85);
  // 1,000 test images: 2 % is 20 images, far more than rounding the products moves.
  EXPECT_NEAR(bf16_accuracy, fp32_accuracy, 0.02);
}

TEST(Precision, ACheckpointDoesNotResumeInTheOtherPrecision) {
  if (!precision_supported(Precision::kBfloat16)) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  const Dataset train = mnist("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 300);
  const test::ScratchDir folder;
  const std::string checkpoint = folder.path("bf16.ckpt");
  Model model = lenet({.batch_size = 50, .epochs = 1});
  UpdateTask(model, train, {.seed = 1, .precision = Precision::kBfloat16,
                            .checkpoint_path = checkpoint})
      .run();
  Model other = lenet({.batch_size = 50, .epochs = 1});
  const std::string message = test::error_message(
      [&] { UpdateTask(other, train, {.seed = 1, .resume_from = checkpoint}).run(); });
  EXPECT_NE(message.find("different run"), std::string::npos) << message;
}

}  // namespace
}  // namespace edgetrain
