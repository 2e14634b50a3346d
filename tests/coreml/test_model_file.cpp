// Saving and loading (.mlmodel, or its JSON form for a .json path): round trips are exact, and
// broken files get errors, not crashes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "edgetrain/train.h"
#include "base/atomic_file.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

namespace fs = std::filesystem;

class ModelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    folder = fs::temp_directory_path() / ("edgetrain-model-file-" + std::to_string(::getpid()));
    fs::create_directories(folder);
  }
  void TearDown() override { fs::remove_all(folder); }
  std::string path(const std::string& name) const { return (folder / name).string(); }
  std::string load_error(const std::string& file) {
    try {
      load_model(file);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }
  fs::path folder;
};

TEST_F(ModelFile, SaveThenLoadGivesBitIdenticalModelAndPredictions) {
  Dataset data = read_idx(test_paths::mnist("t10k-images-idx3-ubyte.gz"),
                          test_paths::mnist("t10k-labels-idx1-ubyte.gz"));
  data.truncate(300);
  Model model = lenet({.batch_size = 100, .epochs = 1});
  UpdateTask(model, data, {}).run();
  for (const char* name : {"m.mlmodel", "m.json"}) {
    SCOPED_TRACE(name);
    save_model(model, path(name));
    Model loaded = load_model(path(name));
    EXPECT_EQ(loaded.parameters, model.parameters);
    EXPECT_EQ(loaded.layers.size(), model.layers.size());
    EXPECT_EQ(loaded.metadata.short_description, "MNIST-Trainable");
    ASSERT_TRUE(loaded.update.has_value());
    EXPECT_EQ(std::get<Adam>(loaded.update->optimizer).mini_batch_size.set,
              std::vector<int64_t>{100});
    Predictor a(model), b(loaded);
    for (size_t i = 0; i < 20; ++i) {
      EXPECT_EQ(a.predict(data.image(i)).probabilities, b.predict(data.image(i)).probabilities);
    }
    const std::string again = std::string("again-") + name;
    save_model(loaded, path(again));
    EXPECT_EQ(read_whole_file(path(name)), read_whole_file(path(again)));
  }
  // The two forms hold the same model: the .mlmodel is the JSON's bytes.
  EXPECT_EQ(json_to_mlmodel(read_whole_file(path("m.json")), "m.json"),
            read_whole_file(path("m.mlmodel")));
}

TEST_F(ModelFile, BrokenFilesAreRejectedWithTheReason) {
  save_model(lenet(), path("good.mlmodel"));
  save_model(lenet(), path("good.json"));
  const std::string bytes = read_whole_file(path("good.mlmodel"));
  const std::string json = read_whole_file(path("good.json"));
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  };
  EXPECT_NE(load_error(write("empty.mlmodel", "")).find("empty"), std::string::npos);
  const std::string text = load_error(write("text.mlmodel", "hello world, not a model"));
  EXPECT_TRUE(text.find("not a Core ML model") != std::string::npos ||
              text.find("holds no Core ML model") != std::string::npos)
      << text;
  EXPECT_NE(load_error(write("short.mlmodel", bytes.substr(0, bytes.size() / 2)))
                .find("truncated or corrupt"),
            std::string::npos);
  EXPECT_NE(load_error(write("short.json", json.substr(0, json.size() / 2)))
                .find("not a Core ML model in JSON form"),
            std::string::npos);
  // A layer claiming more weights than the file holds.
  std::string huge = json;
  const size_t at = huge.find("\"outputChannels\": \"500\"");
  ASSERT_NE(at, std::string::npos);
  huge.replace(at, 23, "\"outputChannels\": \"900\"");
  EXPECT_NE(load_error(write("huge.json", huge))
                .find("layer 7 'hidden1' (innerProduct) weights: the layer's dimensions imply "
                      "1036800 values but floatValue holds 576000"),
            std::string::npos)
      << load_error(path("huge.json"));
  EXPECT_NE(load_error(path("missing.mlmodel")).find("cannot open"), std::string::npos);
  const std::string message = load_error(write("named.mlmodel", "x"));
  EXPECT_NE(message.find("named.mlmodel"), std::string::npos) << "errors name the file";
  // An updatable model Core ML would reject is not written.
  Model bad = lenet();
  bad.update->epochs.default_value = 3;  // the allowed set is {10}
  try {
    save_model(bad, path("bad.mlmodel"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.mlmodel: cannot write the updatable model"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(path("bad.mlmodel")));
}

TEST_F(ModelFile, SavingIntoAMissingFolderFailsAndLeavesNothingBehind) {
  try {
    save_model(lenet(), path("no/such/folder/m.mlmodel"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  save_model(lenet({.seed = 1}), path("keep.mlmodel"));
  const std::string before = read_whole_file(path("keep.mlmodel"));
  save_model(lenet({.seed = 2}), path("keep.mlmodel"));
  EXPECT_NE(read_whole_file(path("keep.mlmodel")), before);
  for (const auto& entry : fs::directory_iterator(folder)) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace edgetrain
