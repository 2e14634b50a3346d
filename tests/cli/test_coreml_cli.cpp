// The Core ML commands end to end: make-updatable → train --model → validate on the two models made
// by Apple's Keras converter, validate's report, inspect, convert round trips, the LeNet
// classifier, and predict on PNG images.
#include <gtest/gtest.h>
#include <png.h>

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "edgetrain/data.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

std::string shared_model(const std::string& name) {
  return test_paths::source("../shared/coreml-models/" + name);
}
const std::string kCnn = "mnist-cnn-image-input.mlmodel";
const std::string kMlp = "mnist-mlp-multiarray.mlmodel";

std::string mnist_option() {
  return " --dataset '" + test_paths::mnist_dir() + "'";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void write_png(const std::string& path, const std::vector<uint8_t>& pixels, int width, int height,
               bool rgb) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = png_uint_32(width);
  image.height = png_uint_32(height);
  image.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, pixels.data(), 0, nullptr))
      << image.message;
}

// Test image `index` of MNIST as 8-bit gray pixels (the reader scaled them by 1/255).
std::vector<uint8_t> mnist_test_pixels(size_t index) {
  static const Dataset images = read_idx_images(test_paths::mnist("t10k-images-idx3-ubyte.gz"));
  const size_t size = images.feature_size();
  return std::vector<uint8_t>(images.pixel_bytes.begin() + long(index * size),
                              images.pixel_bytes.begin() + long((index + 1) * size));
}

class CoreMLCli : public Cli {
 protected:
  double accuracy_of(const std::string& model) const {
    const CliRun result = run("evaluate '" + model + "'" + mnist_option() + " --json");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.exit_code == 0 ? result.last_json()["test_accuracy"].get<double>() : -1;
  }

  // make-updatable, then one epoch of train --model on part of MNIST: the result passes validate
  // and keeps (at least) the accuracy it started with.
  void update_and_check(const std::string& name, const std::string& make_updatable_flags,
                        double accuracy_before) {
    SCOPED_TRACE(name);
    const std::string source = shared_model(name);
    EXPECT_DOUBLE_EQ(accuracy_of(source), accuracy_before);

    const CliRun made = run("make-updatable '" + source + "' -o updatable.mlmodel " +
                            make_updatable_flags + " --epochs 1");
    ASSERT_EQ(made.exit_code, 0) << made.err;
    const CliRun valid = run("validate updatable.mlmodel");
    EXPECT_EQ(valid.exit_code, 0) << valid.out << valid.err;
    EXPECT_TRUE(contains(valid.out, "updatable.mlmodel: valid (updatable: yes)")) << valid.out;
    // The file's own update parameters: a batch size outside their range is refused.
    const CliRun refused =
        run("train --model updatable.mlmodel" + mnist_option() + " --limit 100 --batch-size 5000");
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_TRUE(contains(refused.err,
                         "mini-batch size 5000 is outside the model's allowed range "
                         "[1, 4096]"))
        << refused.err;

    const CliRun trained = run("train --model updatable.mlmodel" + mnist_option() +
                               " --limit 5000 --seed 1 --output trained.mlmodel --json");
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    const nlohmann::json summary = trained.last_json();
    EXPECT_EQ(summary["epochs"], 1);  // the file's epochs, not the LeNet's 10
    EXPECT_EQ(summary["batch_size"], 32);
    EXPECT_EQ(summary["train_samples"], 5000);
    EXPECT_GE(summary["test_accuracy"].get<double>(), accuracy_before);
    const CliRun again = run("validate trained.mlmodel");
    EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
    EXPECT_DOUBLE_EQ(accuracy_of(path("trained.mlmodel")), summary["test_accuracy"].get<double>());
  }
};

TEST_F(CoreMLCli, MakeUpdatableThenTrainKeepsAccuracyAndPassesValidate) {
  // The CNN sees raw 0-255 pixels (its image scaler is 1.0): a small SGD step.
  update_and_check(kCnn,
                   "--layers dense_1,dense_2 --optimizer sgd --learning-rate 0.0001 "
                   "--batch-size 32",
                   0.9890);
  update_and_check(kMlp,
                   "--layers dense_2,dense_3 --optimizer sgd --learning-rate 0.01 "
                   "--batch-size 32",
                   0.9815);
}

TEST_F(CoreMLCli, TrainModelRefusesAModelThatIsNotUpdatable) {
  const CliRun result = run("train --model '" + shared_model(kMlp) + "'" + mnist_option());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err,
                       "the model is not updatable; make it updatable first with "
                       "`edgetrain make-updatable"))
      << result.err;
}

TEST_F(CoreMLCli, MakeUpdatableNamesWhatItCannotDo) {
  const CliRun unknown =
      run("make-updatable '" + shared_model(kCnn) + "' -o x.mlmodel --layers nope");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(contains(unknown.err, "the model has no layer named 'nope'")) << unknown.err;
  const CliRun pooling =
      run("make-updatable '" + shared_model(kCnn) + "' -o x.mlmodel --layers maxpooling2d_1");
  EXPECT_EQ(pooling.exit_code, 1);
  EXPECT_TRUE(contains(pooling.err, "layer 'maxpooling2d_1' (pooling) cannot be made updatable"))
      << pooling.err;
  const CliRun not_softmax = run("make-updatable '" + shared_model(kCnn) +
                                 "' -o x.mlmodel --layers dense_2 --loss-input dense_2_output");
  EXPECT_EQ(not_softmax.exit_code, 1);
  EXPECT_TRUE(contains(not_softmax.err, "cross-entropy needs a softmax output")) << not_softmax.err;
  EXPECT_FALSE(fs::exists(path("x.mlmodel")));
}

TEST_F(CoreMLCli, ValidatePrintsOneLinePerFailureAndWarnings) {
  ASSERT_EQ(run("make-updatable '" + shared_model(kMlp) +
                "' -o up.mlmodel --layers dense_2,dense_3 --optimizer sgd --learning-rate 0.01")
                .exit_code,
            0);
  ASSERT_EQ(run("convert up.mlmodel up.json").exit_code, 0);
  nlohmann::json spec = nlohmann::json::parse(slurp(path("up.json")));
  spec["specificationVersion"] = 3;
  nlohmann::json& layers = spec["neuralNetwork"]["layers"];
  layers[1]["isUpdatable"] = true;                              // a ReLU
  layers[2]["innerProduct"]["weights"]["isUpdatable"] = false;  // dense_2
  nlohmann::json& update = spec["neuralNetwork"]["updateParams"];
  update.erase("epochs");
  update["optimizer"]["sgdOptimizer"]["learningRate"]["defaultValue"] = 2.0;
  write("broken.json", spec.dump());

  const CliRun broken = run("validate broken.json");
  EXPECT_EQ(broken.exit_code, 1);
  const std::vector<std::string> expected = {
      "specificationVersion 3: an updatable model needs specification version 4",
      "layer 'dense_1__activation__' (activation) is marked updatable, but only convolution and "
      "innerProduct layers can be updated",
      "layer 'dense_2' (innerProduct) is updatable but its weights are not marked updatable",
      "optimizer (SGD) learningRate: default 2 is outside the allowed range [0, 1]",
      "epochs: missing; Core ML requires it"};
  std::istringstream lines(broken.out);
  std::string line;
  size_t count = 0;
  while (std::getline(lines, line)) {
    ++count;
    bool known = false;
    for (const std::string& e : expected) known |= contains(line, e);
    EXPECT_TRUE(known) << "unexpected line: " << line;
  }
  EXPECT_EQ(count, expected.size()) << broken.out;
  EXPECT_TRUE(contains(broken.err, "broken.json: 5 of Core ML's rules broken")) << broken.err;

  // Mean squared error straight off the last inner product: valid, as Apple's regressors train.
  const CliRun mse =
      run("make-updatable '" + shared_model(kMlp) +
          "' -o mse.mlmodel --layers dense_3 --loss mse --loss-input dense_3_output");
  ASSERT_EQ(mse.exit_code, 0) << mse.err;
  const CliRun warned = run("validate mse.mlmodel");
  EXPECT_EQ(warned.exit_code, 0);
  EXPECT_FALSE(contains(warned.out, "warning")) << warned.out;
  EXPECT_TRUE(contains(warned.out, "mse.mlmodel: valid (updatable: yes)")) << warned.out;

  const CliRun plain = run("validate '" + shared_model(kCnn) + "'");
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_TRUE(contains(plain.out, ": valid (updatable: no)")) << plain.out;
}

TEST_F(CoreMLCli, InspectShowsFeaturesLayersAndUpdateParameters) {
  const CliRun text = run("inspect '" + shared_model(kCnn) + "'");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  for (const char* part :
       {"neuralNetwork, specification version 1, not updatable", "image  image 28x28 GRAYSCALE",
        "prediction  multiArray DOUBLE [10]", "convolution 32 filters 3x3, stride 1x1, valid", "[32, 26, 26]",
        "589952", "parameters: 600810 (0 updatable)"}) {
    EXPECT_TRUE(contains(text.out, part)) << part << "\n" << text.out;
  }
  const CliRun json = run("inspect '" + shared_model(kMlp) + "' --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json mlp = json.last_json();
  EXPECT_EQ(mlp["inputs"][0]["type"], "multiArray DOUBLE [784]");
  ASSERT_EQ(mlp["layers"].size(), 6u);
  EXPECT_EQ(mlp["layers"][0]["name"], "dense_1");
  EXPECT_EQ(mlp["layers"][0]["output_shape"], "[512, 1, 1]");
  EXPECT_EQ(mlp["layers"][0]["parameters"], 401920);
  EXPECT_EQ(mlp["parameters"], 669706);
  EXPECT_TRUE(mlp["update"].is_null());

  ASSERT_EQ(run("train" + mnist_option() + " --limit 256 --epochs 1 -q -o lenet.mlmodel").exit_code,
            0);
  const CliRun lenet = run("inspect lenet.mlmodel");
  ASSERT_EQ(lenet.exit_code, 0) << lenet.err;
  for (const char* part :
       {"neuralNetwork, specification version 4, updatable",
        "image  multiArray FLOAT32 [1, 28, 28]", "output_true  multiArray INT32 [1]",
        "loss 'lossLayer': categorical cross-entropy of 'output' against "
        "'output_true'",
        "optimizer: Adam, learningRate 0.001", "shuffle: yes",
        "parameters: 585958 (585958 updatable)"}) {
    EXPECT_TRUE(contains(lenet.out, part)) << part << "\n" << lenet.out;
  }
  const nlohmann::json lenet_json = run("inspect lenet.mlmodel --json").last_json();
  EXPECT_EQ(lenet_json["update"]["optimizer"]["type"], "Adam");
  EXPECT_EQ(lenet_json["layers"][0]["updatable"], true);
}

TEST_F(CoreMLCli, ConvertRoundTripsOurFilesByteForByte) {
  ASSERT_EQ(run("train" + mnist_option() + " --limit 256 --epochs 1 -q -o lenet.mlmodel").exit_code,
            0);
  ASSERT_EQ(run("train" + mnist_option() + " --limit 256 --epochs 1 -q --classifier -o cls.mlmodel")
                .exit_code,
            0);
  ASSERT_EQ(
      run("make-updatable '" + shared_model(kMlp) + "' -o mlp.mlmodel --layers dense_3").exit_code,
      0);
  for (const std::string name : {"lenet", "cls", "mlp"}) {
    SCOPED_TRACE(name);
    const CliRun to_json = run("convert " + name + ".mlmodel " + name + ".json");
    ASSERT_EQ(to_json.exit_code, 0) << to_json.err;
    const CliRun back = run("convert " + name + ".json " + name + "-again.mlmodel");
    ASSERT_EQ(back.exit_code, 0) << back.err;
    const std::string original = slurp(path(name + ".mlmodel"));
    EXPECT_FALSE(original.empty());
    EXPECT_TRUE(original == slurp(path(name + "-again.mlmodel"))) << "bytes differ";
  }
  const CliRun same = run("convert lenet.json other.json");
  EXPECT_EQ(same.exit_code, 1);
  EXPECT_TRUE(contains(same.err, "convert goes between .mlmodel and .json")) << same.err;
}

TEST_F(CoreMLCli, TrainClassifierWritesANeuralNetworkClassifier) {
  const CliRun train =
      run("train" + mnist_option() +
          " --limit 3000 --batch-size 64 --epochs 1 --classifier -o cls.mlmodel --json");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_EQ(train.last_json()["classifier"], true);
  EXPECT_GT(train.last_json()["test_accuracy"].get<double>(), 0.85);
  const CliRun inspect = run("inspect cls.mlmodel");
  for (const char* part :
       {"neuralNetworkClassifier", "classLabel  Int64", "output      dictionary Int64 -> Double",
        "class labels (Int64, 10): 0, 1, 2, 3, 4, 5, 6, 7, 8, 9",
        "categorical cross-entropy of 'output' against 'classLabel'"}) {
    EXPECT_TRUE(contains(inspect.out, part)) << part << "\n" << inspect.out;
  }
  EXPECT_EQ(run("validate cls.mlmodel").exit_code, 0);
  EXPECT_DOUBLE_EQ(accuracy_of(path("cls.mlmodel")),
                   train.last_json()["test_accuracy"].get<double>());
  // It keeps training from the file: its class-label target maps the digits to classes.
  const CliRun more = run("train --model cls.mlmodel" + mnist_option() + " --limit 3000 --json");
  ASSERT_EQ(more.exit_code, 0) << more.err;
  EXPECT_GT(more.last_json()["test_accuracy"].get<double>(), 0.85);
}

TEST_F(CoreMLCli, PredictsPngImages) {
  const std::vector<uint8_t> seven = mnist_test_pixels(0);  // the first test digit is a 7
  write_png(path("seven.png"), seven, 28, 28, false);
  std::vector<uint8_t> rgb;
  for (uint8_t value : seven) rgb.insert(rgb.end(), {value, value, value});
  write_png(path("seven-rgb.png"), rgb, 28, 28, true);
  write_png(path("small.png"), std::vector<uint8_t>(400, 0), 20, 20, false);

  for (const std::string& model : {shared_model(kCnn), shared_model(kMlp)}) {
    SCOPED_TRACE(model);
    const CliRun gray = run("predict '" + model + "' seven.png seven-rgb.png --json");
    ASSERT_EQ(gray.exit_code, 0) << gray.err;
    std::istringstream lines(gray.out);
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
      const nlohmann::json prediction = nlohmann::json::parse(line);
      EXPECT_EQ(prediction["label"], 7) << line;
      ++count;
    }
    EXPECT_EQ(count, 2);
    const CliRun text = run("predict '" + model + "' seven.png --top 1");
    EXPECT_TRUE(contains(text.out, "seven.png: 7   7:")) << text.out;
  }
  const CliRun wrong = run("predict '" + shared_model(kCnn) + "' small.png");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_TRUE(contains(wrong.err,
                       "small.png: the image is 20x20 but the model input 'image' takes "
                       "28x28"))
      << wrong.err;
  write("bad.png", "not a png");
  const CliRun bad = run("predict '" + shared_model(kCnn) + "' bad.png");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, "bad.png: cannot read it as a PNG image")) << bad.err;

  // A classifier prints its class labels.
  ASSERT_EQ(
      run("train" + mnist_option() + " --limit 3000 --epochs 1 -q --classifier -o cls.mlmodel")
          .exit_code,
      0);
  const CliRun classified = run("predict cls.mlmodel seven.png --json");
  ASSERT_EQ(classified.exit_code, 0) << classified.err;
  const nlohmann::json prediction = classified.last_json();
  EXPECT_EQ(prediction["label"], 7);
  EXPECT_EQ(prediction["class_index"], 7);
}

}  // namespace
}  // namespace edgetrain
