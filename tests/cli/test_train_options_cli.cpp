// `edgetrain train` with the options beyond Core ML and the small-resnet preset: the flags in
// --help, range errors in words, a run whose decisions and record show in --json and in the saved
// model, and the preset trained and saved for prediction.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "edgetrain/data.h"
#include "edgetrain/train.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

TEST_F(Cli, TrainHelpShowsTheOptionsBeyondCoreMl) {
  const CliRun help = run("train --help");
  ASSERT_EQ(help.exit_code, 0) << help.err;
  for (const char* flag :
       {"--validation-split", "--early-stopping", "--min-delta", "--keep-last-weights",
        "--reduce-on-plateau", "--schedule", "--weight-decay", "--augment", "--preset",
        "small-resnet", "step:EVERY:FACTOR", "cosine[:MIN_RATE]", "shift=N,rotate=DEGREES,flip",
        "PATIENCE[:FACTOR[:MIN_RATE]]"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  }
}

TEST_F(Cli, TrainOptionsOutOfRangeAreRefusedInWords) {
  const std::string data = " --dataset '" + test_paths::mnist_dir() + "' --limit 100 ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--validation-split 1", "--validation-split: must be at least 0 and less than 1, got 1"},
      {"--early-stopping 0", "--early-stopping: must be at least 1, got 0"},
      {"--min-delta -1", "--min-delta: must be a number at least 0, got -1"},
      {"--weight-decay x", "--weight-decay: must be a number at least 0, got x"},
      {"--reduce-on-plateau 2:1.5",
       "--reduce-on-plateau: FACTOR must be above 0 and less than 1, got 1.5"},
      {"--reduce-on-plateau 0",
       "--reduce-on-plateau: PATIENCE (epochs) must be a whole number "
       "from 1 to 1000000, got 0"},
      {"--reduce-on-plateau 2:0.5:-1",
       "--reduce-on-plateau: MIN_RATE must be a number at least 0, got -1"},
      {"--schedule step:0:0.5",
       "--schedule: EVERY (epochs) must be a whole number from 1 to 1000000, got 0"},
      {"--schedule step:2:3", "--schedule: FACTOR must be above 0 and at most 1, got 3"},
      {"--schedule linear",
       "--schedule: expected step:EVERY:FACTOR or cosine[:MIN_RATE], got linear"},
      {"--augment rotate=200",
       "--augment: rotate (degrees) must be at least 0 and at most 180, got 200"},
      {"--augment shift=-1",
       "--augment: shift (pixels) must be a whole number from 0 to 1000, got -1"},
      {"--augment zoom=2",
       "--augment: expected shift=PIXELS, rotate=DEGREES or flip, comma-separated; got zoom=2"},
      {"--preset vgg", "--preset: vgg not in {lenet,small-resnet}"},
      // Combinations, refused before training.
      {"--min-delta 0.1",
       "error: --min-delta applies to --early-stopping and --reduce-on-plateau, neither given"},
      {"--keep-last-weights",
       "error: --keep-last-weights applies to --early-stopping, which is not given"},
      {"--reduce-on-plateau 2 --schedule cosine",
       "error: plateau reduction and a learning-rate schedule both set the rate; use one"},
      {"--reduce-on-plateau 2:0.5:0.01",
       "error: plateau reduction's minimum rate 0.01 must be below the learning rate 0.001"},
      {"--validation-split 0.001",
       "error: a validation split of 0.001 of 100 samples holds out 0; use a larger split or "
       "more data"},
  };
  for (const auto& [flags, message] : cases) {
    const CliRun result = run("train" + data + flags);
    EXPECT_EQ(result.exit_code, 1) << flags;
    EXPECT_NE(result.err.find(message), std::string::npos) << flags << "\n" << result.err;
  }
}

TEST_F(Cli, TrainReportsValidationStopsEarlyAndRecordsTheOptions) {
  // --min-delta 100: only the first epoch improves, so --early-stopping 1 stops after epoch 2 of 4
  // and keeps epoch 1's weights.
  const CliRun train = run("train --dataset '" + test_paths::mnist_dir() +
                           "' --limit 600 --epochs 4 --batch-size 60 --seed 2 --validation-split "
                           "0.2 --early-stopping 1 --min-delta 100 --weight-decay 1e-4 "
                           "--augment shift=1,rotate=5 --output model.mlmodel --json");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const nlohmann::json summary = train.last_json();
  EXPECT_EQ(summary["stop_reason"], "early_stopping");
  EXPECT_EQ(summary["epochs"], 2);
  EXPECT_EQ(summary["best_epoch"], 1);
  EXPECT_EQ(summary["train_samples"], 480);
  EXPECT_EQ(summary["validation_samples"], 120);
  EXPECT_TRUE(summary["validation_loss"].is_number());
  EXPECT_TRUE(summary["validation_accuracy"].is_number());
  const std::string record =
      "validation_split=0.2 early_stopping=patience:1,min_delta:100,restore_best_weights "
      "weight_decay=1e-04 augment=shift:1,rotate_degrees:5";
  EXPECT_EQ(summary["training_options"], record);
  EXPECT_NE(train.out.find("validation loss"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("stopped early: no better loss for 1 epochs"), std::string::npos)
      << train.out;
  EXPECT_NE(train.out.find("best loss"), std::string::npos) << train.out;

  // The LeNet stays an updatable Core ML model; the options are recorded beside its metadata.
  const CliRun inspect = run("inspect model.mlmodel --json");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const nlohmann::json info = inspect.last_json();
  EXPECT_EQ(info["metadata"]["user_defined"]["edgetrainTrainingOptions"], record) << info.dump();
  EXPECT_EQ(run("validate model.mlmodel").exit_code, 0);
}

TEST_F(Cli, PlateauReductionShowsWhereItLowersTheRate) {
  const CliRun train = run("train --dataset '" + test_paths::mnist_dir() +
                           "' --limit 300 --epochs 5 --batch-size 50 --reduce-on-plateau "
                           "1:0.5:3e-4 --min-delta 100 --json");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  // 1e-3 (epochs 1, 2), 5e-4 (3); after epoch 3 the rate would be 2.5e-4 < 3e-4: the run ends.
  EXPECT_NE(train.out.find("learning rate 0.001 -> 0.0005"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("learning rate 0.0005 -> 0.00025"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("stopped: the learning rate fell below 0.0003"), std::string::npos);
  EXPECT_EQ(train.last_json()["stop_reason"], "learning_rate_min");
  EXPECT_EQ(train.last_json()["epochs"], 3);
}

// --precision: bf16 trains and says so where the CPU has AVX512-BF16, and is refused before any
// data is read where it has not; anything else is refused by name.
TEST_F(Cli, PrecisionBf16TrainsWhereTheCpuHasItAndIsRefusedElsewhere) {
  const std::string data = " --dataset '" + test_paths::mnist_dir() + "' --limit 300 ";
  const CliRun unknown = run("train" + data + "--precision fp16");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("--precision: fp16 not in {float32,bf16}"), std::string::npos)
      << unknown.err;
  const CliRun bf16 = run("train" + data + "--epochs 1 --batch-size 50 --precision bf16 --json");
  if (!precision_supported(Precision::kBfloat16)) {
    EXPECT_EQ(bf16.exit_code, 1);
    EXPECT_NE(bf16.err.find("precision bf16 needs a CPU with AVX512-BF16"), std::string::npos)
        << bf16.err;
    return;
  }
  ASSERT_EQ(bf16.exit_code, 0) << bf16.err;
  EXPECT_EQ(bf16.last_json()["precision"], "bf16");
  EXPECT_NE(bf16.out.find("bf16 products"), std::string::npos) << bf16.out;
  const CliRun fp32 = run("train" + data + "--epochs 1 --batch-size 50 --json");
  ASSERT_EQ(fp32.exit_code, 0) << fp32.err;
  EXPECT_EQ(fp32.last_json()["precision"], "float32");
  EXPECT_NE(fp32.last_json()["train_loss"], bf16.last_json()["train_loss"]);
}

// Images [first, first + count) of MNIST's test set in the seed's CSV form (label, 784 pixels).
std::string mnist_csv(size_t first, size_t count) {
  static const Dataset images = read_idx(test_paths::mnist("t10k-images-idx3-ubyte.gz"),
                                         test_paths::mnist("t10k-labels-idx1-ubyte.gz"));
  std::string csv;
  for (size_t i = first; i < first + count; ++i) {
    csv += std::to_string(images.labels()[i]);
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on `"," + std::string&&`.
    for (size_t p = 0; p < 784; ++p) {
      csv.append(",").append(std::to_string(images.pixel_bytes()[i * 784 + p]));
    }
    csv += "\n";
  }
  return csv;
}

TEST_F(Cli, TheSmallResnetPresetTrainsAndIsSavedForPrediction) {
  // 512 images to train on and 500 others to test on, small enough for a sanitised CI run.
  const std::string train_csv = write("train.csv", mnist_csv(0, 512));
  const std::string test_csv = write("test.csv", mnist_csv(512, 500));
  const CliRun train =
      run("train --preset small-resnet --dataset train.csv --test-csv test.csv "
          "--epochs 2 --batch-size 32 --seed 1 --schedule cosine "
          "--output resnet.mlmodel --json");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const nlohmann::json summary = train.last_json();
  EXPECT_EQ(summary["parameters"], 323722);
  EXPECT_EQ(summary["preset"], "small-resnet");
  // Batch norm's running statistics (momentum 0.1) need a few dozen steps to settle: 32 here.
  EXPECT_GT(summary["test_accuracy"].get<double>(), 0.6);
  EXPECT_NE(train.err.find("Core ML cannot update this network"), std::string::npos) << train.err;
  EXPECT_NE(train.err.find("written for prediction only"), std::string::npos) << train.err;

  const CliRun evaluate = run("evaluate resnet.mlmodel --dataset test.csv --json");
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.err;
  EXPECT_DOUBLE_EQ(evaluate.last_json()["test_accuracy"].get<double>(),
                   summary["test_accuracy"].get<double>());
  EXPECT_EQ(run("validate resnet.mlmodel").exit_code, 0);
  // With --model, --preset has nothing to choose.
  const CliRun both = run("train --model resnet.mlmodel --preset small-resnet --dataset train.csv");
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.err.find("--preset chooses a built-in network; it does not apply to --model"),
            std::string::npos)
      << both.err;
}

}  // namespace
}  // namespace edgetrain
