// Issue #10's acceptance model (mlmodel_test_util.h, branching_two_input_model): two inputs, a
// fan-out joined by add and concat, batch norm, and updatable layers after them. Built with the
// builder it validates under Core ML's rules, trains, and survives save and load: the reloaded
// file holds the same weights and predicts the same, bit for bit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/rng.h"
#include "edgetrain/coreml.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "edgetrain/train.h"
#include "mlmodel_test_util.h"

namespace edgetrain {
namespace {

using mlmodel_test::branching_two_input_model;

// Features per sample: image (1, 8, 8) then extra (2, 8, 8), 192 values, as the model's inputs
// come in order. The label is the third (of three) whose summed image values are largest, so
// there is something to learn; 24 samples.
Dataset two_input_data(int n, uint64_t seed) {
  Dataset data;
  data.channels = 3;
  data.height = 8;
  data.width = 8;
  data.num_classes = 3;
  Rng rng(seed);
  data.pixels.resize(size_t(n) * 192);
  for (float& v : data.pixels) v = rng.uniform();
  for (int i = 0; i < n; ++i) {
    const float* image = data.pixels.data() + size_t(i) * 192;
    float band[3] = {0, 0, 0};
    for (int p = 0; p < 64; ++p) band[std::min(2, p / 22)] += image[p];
    int label = 0;
    for (int c = 1; c < 3; ++c) label = band[c] > band[label] ? c : label;
    data.labels.push_back(label);
  }
  return data;
}

std::vector<float> slice_of(const Model& model, const std::string& layer,
                            const std::string& parameter) {
  const LayerParameter& p = *model.layer(layer).parameter(parameter);
  return {model.data(p), model.data(p) + p.slice.size};
}

TEST(GraphModel, ValidatesTrainsSavesReloadsAndPredictsTheSame) {
  Model model = branching_two_input_model();
  const ValidationReport report = validate_coreml(model);
  EXPECT_TRUE(report.ok()) << (report.errors.empty() ? "" : report.errors.front());
  EXPECT_TRUE(report.warnings.empty()) << report.warnings.front();

  const Model before = model;
  const Dataset data = two_input_data(24, 7);
  UpdateTask task(model, data, {.seed = 5, .threads = 2});
  std::vector<double> losses;
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& end) {
    losses.push_back(end.mean_loss);
  };
  const TrainingResult result = task.run();
  ASSERT_EQ(losses.size(), 8u);
  EXPECT_EQ(result.samples_seen, 8u * 24u);
  EXPECT_LT(losses.back(), 0.7 * losses.front()) << "first " << losses.front();
  // The updatable layers learned; the frozen branches and the stored statistics stayed.
  for (const char* name : {"conv", "dense"}) {
    EXPECT_NE(slice_of(model, name, "weights"), slice_of(before, name, "weights")) << name;
  }
  for (const char* name : {"conv_a", "conv_b"}) {
    EXPECT_EQ(slice_of(model, name, "weights"), slice_of(before, name, "weights")) << name;
  }
  for (const char* statistic : {"mean", "variance"}) {
    EXPECT_EQ(slice_of(model, "norm", statistic), slice_of(before, "norm", statistic));
  }

  const auto file = std::filesystem::temp_directory_path() /
                    ("edgetrain-graph-model-" + std::to_string(::getpid()) + ".mlmodel");
  save_model(model, file.string());
  const Model reloaded = load_model(file.string());
  std::filesystem::remove(file);
  EXPECT_TRUE(validate_coreml(reloaded).ok());
  ASSERT_EQ(reloaded.layers.size(), model.layers.size());
  EXPECT_EQ(reloaded.inputs.size(), 2u);
  EXPECT_TRUE(reloaded.parameters == model.parameters);

  Predictor trained(model), loaded(reloaded);
  ASSERT_EQ(loaded.input_size(), 192u);
  int correct = 0;
  for (int i = 0; i < 24; ++i) {
    const float* features = data.pixels.data() + size_t(i) * 192;
    const Prediction a = trained.predict(features), b = loaded.predict(features);
    ASSERT_EQ(a.probabilities.size(), 3u);
    EXPECT_TRUE(a.probabilities == b.probabilities) << "sample " << i;
    EXPECT_EQ(a.label, b.label);
    correct += a.label == data.labels[size_t(i)];
  }
  // Learned, not guessed: a third would be chance.
  EXPECT_GE(correct, 16) << "of 24";
}

// Every input counts: changing only the second input changes the prediction.
TEST(GraphModel, BothInputsReachTheOutput) {
  Predictor predictor(branching_two_input_model());
  const Dataset data = two_input_data(1, 3);
  std::vector<float> features = data.pixels;
  const std::vector<float> first = predictor.predict(features.data()).probabilities;
  for (size_t v = 64; v < 192; ++v) features[v] = 1.0f - features[v];
  const std::vector<float> second_changed = predictor.predict(features.data()).probabilities;
  EXPECT_FALSE(first == second_changed);
  features = data.pixels;
  for (size_t v = 0; v < 64; ++v) features[v] = 1.0f - features[v];
  EXPECT_FALSE(first == predictor.predict(features.data()).probabilities);
}

}  // namespace
}  // namespace edgetrain
