// Issue #11's acceptance from the command line: a tabular regressor built with the builder, made
// updatable and trained from a CSV table; a classifier trained from a folder of RGB PNGs and a
// JPEG; a 13-input regressor fed by columns named after its inputs. Every score the CLI prints is
// checked against one computed here from the saved model's own predictions.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "cli/cli_fixture.h"
#include "data/image_files.h"
#include "edgetrain/coreml.h"
#include "edgetrain/edgetrain.h"

namespace edgetrain {
namespace {

// A value in [-1, 1) from a sample and a column, the same on every machine.
double spread(int row, int column) {
  return double((row * 37 + column * 91 + 11) % 200) / 100.0 - 1.0;
}

// The losses of the "epoch k/n  loss X" lines, in order.
std::vector<double> epoch_losses(const std::string& out) {
  std::vector<double> losses;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t at = line.find("  loss ");
    if (line.rfind("epoch ", 0) == 0 && at != std::string::npos) {
      losses.push_back(std::stod(line.substr(at + 7)));
    }
  }
  return losses;
}

struct Scores {
  double mse = 0, mae = 0, r2 = 0;
};
// MSE, MAE and R² of the model's predictions, in double, from its Predictor.
Scores score(const Model& model, const std::vector<std::vector<float>>& rows,
             const std::vector<double>& targets) {
  Predictor predictor(model);
  double squared = 0, absolute = 0, mean = 0;
  for (double y : targets) mean += y / double(targets.size());
  double total = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const double error = double(predictor.predict(rows[i]).outputs.at(0).values.at(0)) - targets[i];
    squared += error * error;
    absolute += std::fabs(error);
    total += (targets[i] - mean) * (targets[i] - mean);
  }
  return {squared / double(rows.size()), absolute / double(rows.size()), 1.0 - squared / total};
}

void expect_scores(const nlohmann::json& printed, const Scores& expected) {
  // The CLI predicts in batches, the Predictor one sample at a time: float outputs rounded apart
  // by ~1e-7 of their size (~3), a few parts in 1e6 of errors of ~0.03. Equal to 1e-4 of each.
  EXPECT_NEAR(printed["mse"].get<double>(), expected.mse, 1e-4 * expected.mse);
  EXPECT_NEAR(printed["mae"].get<double>(), expected.mae, 1e-4 * expected.mae);
  EXPECT_NEAR(printed["r2"].get<double>(), expected.r2, 1e-4 * (1 - expected.r2));
  EXPECT_FALSE(printed.contains("test_accuracy")) << "a regression has no accuracy";
}

using DataCli = Cli;

TEST_F(DataCli, TabularRegressorBuiltMadeUpdatableAndTrainedFromACsvTable) {
  // price = 2a - b + 0.5c² + 1 + noise: three feature columns around the target column.
  auto table = [&](const std::string& name, int first, int count,
                   std::vector<std::vector<float>>* rows, std::vector<double>* targets) {
    std::string text = "a,price,b,c\n";
    for (int i = first; i < first + count; ++i) {
      const double a = spread(i, 0), b = spread(i, 1), c = spread(i, 2);
      const double price = 2 * a - b + 0.5 * c * c + 1 + 0.05 * spread(i, 7);
      text += std::to_string(a) + "," + std::to_string(price) + "," + std::to_string(b) + "," +
              std::to_string(c) + "\n";
      if (rows) {
        rows->push_back({float(std::stod(std::to_string(a))), float(std::stod(std::to_string(b))),
                         float(std::stod(std::to_string(c)))});
        targets->push_back(double(float(std::stod(std::to_string(price)))));
      }
    }
    write(name, text);
  };
  std::vector<std::vector<float>> test_rows;
  std::vector<double> test_targets;
  table("train.csv", 0, 300, nullptr, nullptr);
  table("test.csv", 1000, 80, &test_rows, &test_targets);

  const Model plain = ModelBuilder()
                          .metadata({.specification_version = 4, .short_description = "price"})
                          .input("features", {3})
                          .output("price", {1})
                          .layers({{"hidden", "features", "h", InnerProduct{.output_channels = 16}},
                                   {"tanh", "h", "t", Tanh()},
                                   {"out", "t", "price", InnerProduct{.output_channels = 1}}})
                          .initializer(Initializer::kGlorotUniform, 3)
                          .build();
  save_model(plain, path("plain.mlmodel"));
  const CliRun updatable =
      run("make-updatable plain.mlmodel -o updatable.mlmodel --layers hidden,out --loss mse "
          "--learning-rate 0.01 --batch-size 16 --epochs 40");
  ASSERT_EQ(updatable.exit_code, 0) << updatable.err;

  const CliRun train =
      run("train --model updatable.mlmodel --dataset train.csv --target price --test-csv test.csv "
          "--seed 5 --threads 2 --json --output trained.mlmodel");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::vector<double> losses = epoch_losses(train.out);
  ASSERT_EQ(losses.size(), 40u) << train.out;
  EXPECT_LT(losses.back(), losses.front() / 20) << train.out;
  EXPECT_EQ(train.out.substr(0, train.out.rfind("\n{")).find("accuracy"), std::string::npos)
      << "a regression has no accuracy: " << train.out;
  const nlohmann::json summary = train.last_json();
  EXPECT_EQ(summary["train_samples"], 300);
  EXPECT_TRUE(summary["test_accuracy"].is_null());

  const CliRun evaluated = run("evaluate trained.mlmodel --dataset test.csv --target price --json");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  const nlohmann::json scores = evaluated.last_json();
  EXPECT_EQ(scores["samples"], 80);
  const Scores expected = score(load_model(path("trained.mlmodel")), test_rows, test_targets);
  expect_scores(scores, expected);
  EXPECT_GT(expected.r2, 0.95);
  EXPECT_NEAR(summary["test_mse"].get<double>(), expected.mse, 1e-6);
  std::printf("tabular regressor: epoch loss %.4f -> %.5f; evaluate: %s\n", losses.front(),
              losses.back(), scores.dump().c_str());

  // Streamed from disk: the same training, bit for bit, and the same scores.
  const CliRun streamed_train =
      run("train --model updatable.mlmodel --dataset train.csv --target price --seed 5 --threads 2 "
          "--stream --quiet --output streamed.mlmodel");
  ASSERT_EQ(streamed_train.exit_code, 0) << streamed_train.err;
  EXPECT_EQ(slurp(path("streamed.mlmodel")), slurp(path("trained.mlmodel")));
  const CliRun streamed =
      run("evaluate trained.mlmodel --dataset test.csv --target price --json --stream");
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_EQ(streamed.last_json()["mse"], scores["mse"]);

  // A bad cell is named by file, line and column.
  write("bad.csv", "a,price,b,c\n0.1,1,0.2,0.3\n0.1,1,zero,0.3\n");
  const CliRun bad = run("evaluate trained.mlmodel --dataset bad.csv --target price");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bad.csv: line 3, column 3 (\"b\"): \"zero\" is not a number"),
            std::string::npos)
      << bad.err;
  write("wide.csv", "a,price,b,c,d\n0.1,1,0.2,0.3,0.4\n");
  const CliRun wide = run("evaluate trained.mlmodel --dataset wide.csv --target price");
  EXPECT_NE(wide.err.find("wide.csv: the table has 4 feature columns besides the target 'price', "
                          "but the model input 'features' takes 3 values"),
            std::string::npos)
      << wide.err;
}

// Stripes across, stripes down and a checkerboard, in random colours, of sizes from 9 to 20
// pixels a side: the model sees them resized to 8x8.
ImagePixels pattern(int kind, int index) {
  const int width = 9 + (index * 5) % 12, height = 9 + (index * 7) % 12;
  ImagePixels image{width, height, 3, std::vector<uint8_t>(size_t(width * height * 3))};
  const uint8_t ink[3] = {uint8_t(80 + index * 53 % 170), uint8_t(80 + index * 97 % 170),
                          uint8_t(80 + index * 31 % 170)};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int cell_y = y * 4 / height, cell_x = x * 4 / width;
      const bool on = kind == 0   ? cell_y % 2 == 0
                      : kind == 1 ? cell_x % 2 == 0
                                  : (cell_x + cell_y) % 2 == 0;
      for (int c = 0; c < 3; ++c) image.bytes[size_t((y * width + x) * 3 + c)] = on ? ink[c] : 10;
    }
  }
  return image;
}

TEST_F(DataCli, ClassifierTrainedFromAFolderOfRgbPngsAndAJpeg) {
  const char* folders[3] = {"across", "down", "checks"};
  for (const char* split : {"train", "test"}) {
    const int count = std::string(split) == "train" ? 40 : 10;
    for (int kind = 0; kind < 3; ++kind) {
      fs::create_directories(folder / split / folders[kind]);
      for (int i = 0; i < count; ++i) {
        const int index = i + (std::string(split) == "test" ? 1000 : 0) + kind * 7;
        const std::string name = std::string(split) + "/" + folders[kind] + "/" + std::to_string(i);
        if (i == 3 && kind == 2) {
          write(name + ".jpg", test_images::encode_jpeg(pattern(kind, index), 95));
        } else {
          write(name + ".png", test_images::encode_png(pattern(kind, index)));
        }
      }
    }
  }
  // The classifier's labels in another order than the folders' (across, checks, down): classes
  // are matched by name.
  Model model =
      ModelBuilder()
          .metadata({.specification_version = 4, .short_description = "patterns"})
          .input("image", {3, 8, 8})
          .output("probabilities", {3})
          .training_input("image", {3, 8, 8})
          .training_input("label", {1}, FeatureType::kInt32)
          .loss(
              CategoricalCrossEntropy{.name = "loss", .input = "probabilities", .target = "label"})
          .optimizer(
              Adam{.learning_rate = {0.01, {{0.0, 1.0}}}, .mini_batch_size = {16, {{1, 256}}}})
          .epochs({30, {{1, 100}}})
          .shuffle(true)
          .layers({{"flatten", "image", "flat", Flatten{}},
                   {"dense", "flat", "logits", InnerProduct{.output_channels = 3}, kUpdatable},
                   {"softmax", "logits", "probabilities", Softmax{}}})
          .initializer(Initializer::kGlorotUniform, 9)
          .build();
  model = as_classifier(std::move(model), {.string_labels = {"down", "checks", "across"}});
  save_model(model, path("patterns.mlmodel"));

  const CliRun train =
      run("train --model patterns.mlmodel --dataset train --seed 3 --threads 2 "
          "--json --output trained.mlmodel");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("on 120 train images"), std::string::npos) << train.out;
  EXPECT_GT(train.last_json()["train_accuracy"].get<double>(), 0.9);

  const CliRun evaluated = run("evaluate trained.mlmodel --dataset test --json");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  const nlohmann::json result = evaluated.last_json();
  EXPECT_EQ(result["samples"], 30);
  EXPECT_GE(result["test_accuracy"].get<double>(), 0.9);
  // Rows are the classifier's classes: down, checks, across.
  const auto confusion = result["confusion"].get<std::vector<std::vector<int>>>();
  for (int k = 0; k < 3; ++k) EXPECT_GE(confusion[size_t(k)][size_t(k)], 8) << evaluated.out;
  EXPECT_FALSE(result.contains("mse"));
  std::printf("image-folder classifier: train accuracy %.4f; evaluate: %s\n",
              train.last_json()["train_accuracy"].get<double>(), result.dump().c_str());

  // predict --dataset: every image with its folder as the expected class label.
  const CliRun predicted = run("predict trained.mlmodel --dataset test --json");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  std::istringstream lines(predicted.out);
  std::string line;
  int total = 0, right = 0;
  while (std::getline(lines, line)) {
    const nlohmann::json p = nlohmann::json::parse(line);
    const std::string input = p["input"];
    EXPECT_EQ(p["expected"], input.substr(0, input.find('/'))) << line;
    right += p["label"] == p["expected"];
    ++total;
  }
  EXPECT_EQ(total, 30);
  EXPECT_EQ(right, int(std::lround(result["test_accuracy"].get<double>() * 30)));

  // Read from disk image by image: the same training.
  const CliRun streamed =
      run("train --model patterns.mlmodel --dataset train --seed 3 --threads 2 "
          "--stream --quiet --output streamed.mlmodel");
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_EQ(slurp(path("streamed.mlmodel")), slurp(path("trained.mlmodel")));

  // A folder class the classifier does not have is named.
  fs::create_directories(folder / "test" / "zigzag");
  write("test/zigzag/0.png", test_images::encode_png(pattern(0, 5)));
  const CliRun unknown = run("evaluate trained.mlmodel --dataset test");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("the data's class \"zigzag\" is not one of the classifier's class "
                             "labels (\"down\", \"checks\", \"across\")"),
            std::string::npos)
      << unknown.err;
}

// The thirteen numeric inputs of a Boston-housing regressor, each its own model input.
const std::vector<std::string> kHousing = {"CRIM", "ZN",  "INDUS", "CHAS",    "NOX", "RM",   "AGE",
                                           "DIS",  "RAD", "TAX",   "PTRATIO", "B",   "LSTAT"};

TEST_F(DataCli, ARegressorWithThirteenInputsReadsTheColumnsNamedAfterThem) {
  ModelBuilder builder;
  builder.metadata({.specification_version = 4, .short_description = "MEDV"});
  for (const std::string& input : kHousing) builder.input(input, {1});
  builder.output("MEDV", {1});
  std::vector<std::string> names(kHousing.begin(), kHousing.end());
  builder.add({"concat", names, "x", Concat{}});
  builder.add({"dense", "x", "MEDV", InnerProduct{.output_channels = 1}});
  builder.initializer(Initializer::kGlorotUniform, 4);
  const Model plain = builder.build();
  const Model updatable = make_updatable(plain, {.layers = {"dense"},
                                                 .loss = LossType::kMeanSquaredError,
                                                 .optimizer = OptimizerKind::kAdam,
                                                 .learning_rate = 0.05,
                                                 .batch_size = 8,
                                                 .epochs = 60});
  save_model(updatable, path("housing.mlmodel"));

  // The columns in another order than the inputs, an unused one, the target in the middle.
  std::string header = "id";
  std::vector<std::string> order(kHousing.rbegin(), kHousing.rend());
  for (size_t c = 0; c < order.size(); ++c) header += "," + order[c] + (c == 6 ? ",MEDV" : "");
  std::string text = header + "\n";
  std::vector<std::vector<float>> rows;  // in the model's input order
  std::vector<double> targets;
  for (int i = 0; i < 120; ++i) {
    std::vector<float> row(kHousing.size());
    double medv = 3;
    for (size_t k = 0; k < kHousing.size(); ++k) {
      row[k] = float(spread(i, int(k)));
      medv += (int(k % 3) - 1) * 1.5 * row[k];
    }
    text += std::to_string(i);
    for (size_t c = 0; c < order.size(); ++c) {
      const size_t k = kHousing.size() - 1 - c;
      char value[32];
      std::snprintf(value, sizeof value, "%.2f", row[k]);
      row[k] = float(std::stod(value));
      text += std::string(",") + value;
      if (c == 6) text += ",TARGET";
    }
    medv = 3 + 0.1 * spread(i, 50);  // and noise no linear model fits
    for (size_t k = 0; k < kHousing.size(); ++k) medv += (int(k % 3) - 1) * 1.5 * row[k];
    char target[32];
    std::snprintf(target, sizeof target, "%.4f", medv);
    text.replace(text.rfind("TARGET"), 6, target);
    text += "\n";
    rows.push_back(row);
    targets.push_back(double(float(std::stod(target))));
  }
  write("housing.csv", text);

  const CliRun train =
      run("train --model housing.mlmodel --dataset housing.csv --target MEDV "
          "--seed 2 --threads 1 --output trained.mlmodel");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::vector<double> losses = epoch_losses(train.out);
  ASSERT_EQ(losses.size(), 60u);
  EXPECT_LT(losses.back(), losses.front() / 10) << train.out;
  const CliRun evaluated =
      run("evaluate trained.mlmodel --dataset housing.csv --target MEDV --json");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  const Scores expected = score(load_model(path("trained.mlmodel")), rows, targets);
  expect_scores(evaluated.last_json(), expected);
  EXPECT_GT(expected.r2, 0.9);
  std::printf("13-input regressor: epoch loss %.4f -> %.5f; evaluate: %s\n", losses.front(),
              losses.back(), evaluated.last_json().dump().c_str());

  // Without a column an input is named after, the error says which.
  write("short.csv", "CRIM,MEDV\n0.1,3\n");
  const CliRun missing = run("evaluate trained.mlmodel --dataset short.csv --target MEDV");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("short.csv: line 1: no column \"ZN\" for a feature"),
            std::string::npos)
      << missing.err;
}

}  // namespace
}  // namespace edgetrain
