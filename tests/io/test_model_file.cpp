// Saving and loading: round trips are exact, and broken files get errors, not crashes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "edgetrain/train.h"
#include "io/atomic_file.h"
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
  save_model(model, path("m.etm"));
  Model loaded = load_model(path("m.etm"));
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
  save_model(loaded, path("again.etm"));
  EXPECT_EQ(read_whole_file(path("m.etm")), read_whole_file(path("again.etm")));
}

TEST_F(ModelFile, BrokenFilesAreRejectedWithTheReason) {
  save_model(lenet(), path("good.etm"));
  const std::string bytes = read_whole_file(path("good.etm"));
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  };
  EXPECT_NE(load_error(write("empty.etm", "")).find("bad magic"), std::string::npos);
  EXPECT_NE(load_error(write("magic.etm", "hello world, not a model")).find("bad magic"),
            std::string::npos);
  EXPECT_NE(load_error(write("short.etm", bytes.substr(0, bytes.size() / 2))).find("bytes remain"),
            std::string::npos);
  EXPECT_NE(load_error(write("header.etm", bytes.substr(0, 20))).find("truncated"),
            std::string::npos);
  std::string bad_json = bytes;
  bad_json[24] = ']';  // the description's opening brace
  EXPECT_NE(load_error(write("json.etm", bad_json)).find("malformed"), std::string::npos);
  // A layer claiming far more weights than the file holds.
  std::string huge = bytes;
  const size_t at = huge.find("\"outputChannels\":500");
  ASSERT_NE(at, std::string::npos);
  huge.replace(at, 20, "\"outputChannels\":900");
  EXPECT_NE(load_error(write("huge.etm", huge)).find("parameters but the file holds"),
            std::string::npos);
  EXPECT_NE(load_error(path("missing.etm")).find("cannot open"), std::string::npos);
  const std::string message = load_error(write("named.etm", "x"));
  EXPECT_NE(message.find("named.etm"), std::string::npos) << "errors name the file";
}

TEST_F(ModelFile, SavingIntoAMissingFolderFailsAndLeavesNothingBehind) {
  try {
    save_model(lenet(), path("no/such/folder/m.etm"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  save_model(lenet({.seed = 1}), path("keep.etm"));
  const std::string before = read_whole_file(path("keep.etm"));
  save_model(lenet({.seed = 2}), path("keep.etm"));
  EXPECT_NE(read_whole_file(path("keep.etm")), before);
  for (const auto& entry : fs::directory_iterator(folder)) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace edgetrain
