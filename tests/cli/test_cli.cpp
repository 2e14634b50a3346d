// The `edgetrain` binary end to end: train / evaluate / predict with --json, data lookup, and bad
// input giving exit code 1 with a clear message.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli_fixture.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

std::string csv_row(int label, int pixels, const std::string& pixel = "0") {
  std::string row = std::to_string(label);
  for (int i = 0; i < pixels; ++i) row += "," + pixel;
  return row + "\n";
}

TEST_F(Cli, TrainEvaluatePredictWithJson) {
  const std::string mnist = test_paths::mnist_dir();
  CliRun train = run("train --dataset '" + mnist +
                  "' --epochs 1 --limit 3000 --batch-size 64 --seed 3 --output model.etm --json");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const nlohmann::json summary = train.last_json();
  for (const char* key : {"dataset", "epochs", "batch_size", "train_seconds", "samples_per_second",
                          "test_accuracy", "test_loss", "parameters", "model_path"}) {
    EXPECT_TRUE(summary.contains(key)) << key;
  }
  EXPECT_EQ(summary["epochs"], 1);
  EXPECT_EQ(summary["batch_size"], 64);
  EXPECT_EQ(summary["parameters"], 585958);
  EXPECT_EQ(summary["train_samples"], 3000);
  EXPECT_EQ(summary["model_path"], "model.etm");
  EXPECT_GT(summary["test_accuracy"].get<double>(), 0.85);
  EXPECT_NE(train.out.find("epoch 1/1"), std::string::npos);

  CliRun evaluate = run("evaluate model.etm --dataset '" + mnist + "' --json");
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.err;
  const nlohmann::json scores = evaluate.last_json();
  EXPECT_EQ(scores["samples"], 10000);
  EXPECT_DOUBLE_EQ(scores["test_accuracy"].get<double>(), summary["test_accuracy"].get<double>());
  EXPECT_NEAR(scores["test_loss"].get<double>(), summary["test_loss"].get<double>(), 1e-9);

  CliRun predict = run("predict model.etm '" + test_paths::mnist("t10k-images-idx3-ubyte.gz") +
                    "' --limit 3 --json");
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  std::istringstream lines(predict.out);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    const nlohmann::json prediction = nlohmann::json::parse(line);
    EXPECT_EQ(prediction["probabilities"].size(), 10u);
    double total = 0;
    for (double p : prediction["probabilities"]) total += p;
    EXPECT_NEAR(total, 1.0, 1e-5);
    EXPECT_TRUE(prediction["input"].get<std::string>().find(
                    std::string("#") + std::to_string(count)) != std::string::npos);
    ++count;
  }
  EXPECT_EQ(count, 3);
  // Two threads sharing each prediction print the same lines, to the last digit.
  CliRun shared = run("predict model.etm '" + test_paths::mnist("t10k-images-idx3-ubyte.gz") +
                      "' --limit 3 --json --threads 2");
  ASSERT_EQ(shared.exit_code, 0) << shared.err;
  EXPECT_EQ(shared.out, predict.out);
  // The first three test digits are 7, 2, 1; a model at > 85% should get at least two.
  CliRun text = run("predict model.etm '" + test_paths::mnist("t10k-images-idx3-ubyte.gz") +
                 "' --limit 1 --top 2");
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("#0: "), std::string::npos) << text.out;
}

TEST_F(Cli, TrainsFromCsvAndFindsMnistThroughTheEnvironment) {
  std::string rows = "label,pixels\n";
  for (int i = 0; i < 40; ++i) rows += csv_row(i % 10, 784, std::to_string((i * 37) % 256));
  write("train.csv", rows);
  CliRun csv = run("train --dataset train.csv --test-csv train.csv --epochs 1 --batch-size 20 --json");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.last_json()["test_samples"], 40);

  // Without --dataset: MNIST is found through $EDGETRAIN_DATA, and the choice is said.
  CliRun found = run("train --epochs 1 --limit 256 --json",
                  "EDGETRAIN_DATA='" + fs::path(test_paths::mnist_dir()).parent_path().string() + "'");
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_NE(found.out.find("using MNIST from"), std::string::npos) << found.out;
  EXPECT_EQ(found.last_json()["dataset"], "mnist");
}

TEST_F(Cli, MissingDataSaysWhereItLookedAndHowToGetIt) {
  CliRun missing = run("train --dataset mnist --data-dir nowhere");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot find the mnist data set"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("nowhere"), std::string::npos);
  EXPECT_NE(missing.err.find("data/mnist"), std::string::npos);
  EXPECT_NE(missing.err.find("edgetrain fetch-data mnist"), std::string::npos);
}

TEST_F(Cli, BadInputGivesExitCodeOneAndNamesTheProblem) {
  struct Case {
    std::string name, content, expected;
  };
  std::string truncated_idx("\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c", 16);
  truncated_idx += std::string(100, '\x01');
  const std::vector<Case> cases = {
      {"short.csv", csv_row(3, 783), "783"},
      {"word.csv", "5,abc" + csv_row(0, 783).substr(1), "abc"},
      {"label.csv", csv_row(12, 784), "12"},
      {"empty.csv", "", "empty.csv"},
  };
  for (const Case& c : cases) {
    write(c.name, c.content);
    CliRun result = run("train --dataset " + c.name + " --epochs 1");
    EXPECT_EQ(result.exit_code, 1) << c.name << ": " << result.err;
    EXPECT_NE(result.err.find(c.name), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(c.expected), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("internal error"), std::string::npos) << result.err;
  }
  // IDX folders: a truncated image file, then a wrong magic number.
  fs::create_directories(path("idx"));
  for (const char* name : {"train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                           "t10k-labels-idx1-ubyte.gz"}) {
    fs::copy_file(test_paths::mnist(name), path("idx/") + name);
  }
  write("idx/train-images-idx3-ubyte", truncated_idx);
  CliRun truncated = run("train --dataset idx --epochs 1");
  EXPECT_EQ(truncated.exit_code, 1);
  EXPECT_NE(truncated.err.find("train-images-idx3-ubyte"), std::string::npos) << truncated.err;
  std::string wrong_magic = truncated_idx;
  wrong_magic[3] = '\x07';
  write("idx/train-images-idx3-ubyte", wrong_magic);
  CliRun magic = run("train --dataset idx --epochs 1");
  EXPECT_EQ(magic.exit_code, 1);
  EXPECT_NE(magic.err.find("magic"), std::string::npos) << magic.err;

  CliRun bad_model = run("evaluate '" + write("model.etm", "garbage") + "' --dataset '" +
                      test_paths::mnist_dir() + "'");
  EXPECT_EQ(bad_model.exit_code, 1);
  EXPECT_NE(bad_model.err.find("model.etm"), std::string::npos) << bad_model.err;

  CliRun bad_flag = run("train --epochs zero");
  EXPECT_EQ(bad_flag.exit_code, 1);
  CliRun bad_every = run("train --checkpoint c.ckpt --checkpoint-every 5m");
  EXPECT_EQ(bad_every.exit_code, 1);
  EXPECT_NE(bad_every.err.find("30s"), std::string::npos) << bad_every.err;
}

TEST_F(Cli, CheckpointEverySecondsAndResumeContinueTheRun) {
  const std::string mnist = test_paths::mnist_dir();
  const std::string common = "train --dataset '" + mnist +
                             "' --limit 600 --epochs 2 --batch-size 100 --threads 2 --quiet ";
  CliRun whole = run(common + "--output whole.mlmodel");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  // A time-based checkpoint run, then resuming its final checkpoint only rewrites the same model.
  // Whether a 1 s checkpoint also falls inside the run depends on the machine's speed; the verdict
  // does not (Checkpoint.EverySecondsFollowsTheIntervalWhateverTheMachinesSpeed judges the timing).
  CliRun timed = run(common + "--checkpoint run.ckpt --checkpoint-every 1s --output timed.mlmodel");
  ASSERT_EQ(timed.exit_code, 0) << timed.err;
  CliRun resumed = run(common + "--resume run.ckpt --output resumed.mlmodel");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(slurp(path("whole.mlmodel")), slurp(path("timed.mlmodel")));
  EXPECT_EQ(slurp(path("whole.mlmodel")), slurp(path("resumed.mlmodel")));
  CliRun other = run(common + "--seed 5 --resume run.ckpt --output other.mlmodel");
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("different run"), std::string::npos) << other.err;
}

}  // namespace
}  // namespace edgetrain
