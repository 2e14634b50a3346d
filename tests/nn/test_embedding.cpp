// Embedding lookups beyond the per-kind fixtures (tests/nn/test_layers.cpp): an index outside the
// vocabulary never reads out of bounds and is refused wherever input can be refused, and an
// embedding at the start of a graph trains its table.
#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "nn/kind_test_helpers.h"
#include "nn/layer_kind.h"
#include "nn/network.h"

namespace edgetrain {
namespace {

// One index per sample, labelled index % 3.
struct IndexData : BatchProvider {
  std::vector<float> ids;
  size_t count() const override { return ids.size(); }
  size_t feature_size() const override { return 1; }
  void copy_features(size_t index, float* dst) const override { dst[0] = ids[index]; }
  int32_t label(size_t index) const override { return int32_t(ids[index]) % 3; }
};

IndexData cycling_ids(size_t count) {
  IndexData data;
  for (size_t i = 0; i < count; ++i) data.ids.push_back(float(i % 6));
  return data;
}

// ids → embedding (vocabulary 6, vectors of 4) → dense 3 → softmax, trained on index % 3.
Model lookup_network(bool embedding_updatable) {
  return ModelBuilder()
      .input("ids", {1})
      .output("output", {3})
      .training_input("ids", {1})
      .training_input("output_true", {1}, FeatureType::kInt32)
      .loss(CategoricalCrossEntropy{.name = "loss", .input = "output", .target = "output_true"})
      .optimizer(Adam{.learning_rate = {0.05, {{0.0, 1.0}}}})
      .layers({
          {"embed", "ids", "vectors",
           Embedding{.input_dim = 6, .output_channels = 4, .has_bias = true}, embedding_updatable},
          {"dense", "vectors", "logits", InnerProduct{.output_channels = 3}, kUpdatable},
          {"softmax", "logits", "output", Softmax{}},
      })
      .initializer(Initializer::kGlorotUniform, 4)
      .build();
}

TEST(Embedding, IndicesOutsideTheVocabularyGiveTheBiasAndNoGradient) {
  const Model model = lookup_network(kUpdatable);
  const Layer& layer = model.layers[0];
  const Shape in{1, 1, 1}, out{4, 1, 1};
  const std::unique_ptr<Op> op = layer_kind(layer).compile({model, layer, {in}, {out}, true});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> ids = {6.0f, -1.0f, nan, 1e30f, -0.5f, 5.0f, 2.0f};
  const int n = int(ids.size());
  std::vector<float> output(size_t(n) * 4), dout(output.size(), 1.0f);
  std::vector<float> dparameters(model.parameters.size(), 0.0f);
  OpArgs a;
  a.n = n;
  a.in = {ids.data()};
  a.out = {output.data()};
  a.din = {nullptr};
  a.dout = {dout.data()};
  a.parameters = model.parameters.data();
  a.dparameters = dparameters.data();
  op->forward(a);
  op->backward(a);
  const std::vector<float> table = parameter_values(model, "embed", "weights");  // (4, 6)
  const std::vector<float> bias = parameter_values(model, "embed", "bias");
  for (int i = 0; i < n; ++i) {
    const bool valid = i >= 5;
    for (int c = 0; c < 4; ++c) {
      const float expected =
          (valid ? table[size_t(c) * 6 + size_t(ids[size_t(i)])] : 0.0f) + bias[size_t(c)];
      EXPECT_EQ(output[size_t(i) * 4 + size_t(c)], expected) << "sample " << i << ", channel " << c;
    }
  }
  const LayerParameter& weights = *layer.parameter("weights");
  for (int c = 0; c < 4; ++c) {
    for (int v = 0; v < 6; ++v) {
      EXPECT_EQ(dparameters[weights.slice.offset + size_t(c) * 6 + size_t(v)],
                v == 5 || v == 2 ? 1.0f : 0.0f)
          << "column " << v;
    }
    EXPECT_EQ(dparameters[layer.parameter("bias")->slice.offset + size_t(c)], float(n));
  }
  EXPECT_EQ(op->invalid_input(0, ids.data() + 5, 2), "");
  EXPECT_EQ(op->invalid_input(0, ids.data(), n),
            "value 6 (sample 0) is not an index: inputDim 6 allows whole numbers 0 to 5");
  const float half = 2.5f;
  EXPECT_NE(op->invalid_input(0, &half, 1), "") << "an index is a whole number";
}

TEST(Embedding, ThePredictorRefusesIndicesOutsideTheVocabulary) {
  Predictor predictor(lookup_network(false));
  EXPECT_EQ(predictor.predict(std::vector<float>{5.0f}).outputs.size(), 1u);
  EXPECT_EQ(error_of([&] { predictor.predict(std::vector<float>{6.0f}); }),
            "layer 'embed' (embedding): input 'ids': value 6 is not an index: inputDim 6 allows "
            "whole numbers 0 to 5");
  EXPECT_NE(error_of([&] { predictor.predict(std::vector<float>{-1.0f}); }), "no error");
}

TEST(Embedding, TrainingAndEvaluationRefuseSamplesWithIndicesOutsideTheVocabulary) {
  IndexData data = cycling_ids(12);
  data.ids[4] = 9.0f;
  Model model = lookup_network(kUpdatable);
  const std::string expected =
      "sample 4: layer 'embed' (embedding): input 'ids': value 9 is not an index: inputDim 6 "
      "allows whole numbers 0 to 5";
  EXPECT_EQ(error_of([&] { UpdateTask(model, data, {.threads = 2}).run(); }), expected);
  EXPECT_EQ(error_of([&] { evaluate(model, data); }), expected);
}

TEST(Embedding, AnEmbeddingStartingAGraphTrainsItsTable) {
  const IndexData data = cycling_ids(60);
  Model model = lookup_network(kUpdatable);
  const Model untrained = model;
  std::vector<double> epoch_losses;
  UpdateTask task(model, data, {.epochs = 30, .batch_size = 12, .seed = 1, .threads = 2});
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& end) {
    epoch_losses.push_back(end.mean_loss);
  };
  const TrainingResult result = task.run();
  EXPECT_NE(parameter_values(model, "embed", "weights"),
            parameter_values(untrained, "embed", "weights"));
  EXPECT_LT(epoch_losses.back(), 0.5 * epoch_losses.front());
  EXPECT_EQ(result.final_accuracy, 1.0) << "index % 3 is learnable from the index";

  Model frozen = lookup_network(false);
  UpdateTask(frozen, data, {.epochs = 2, .batch_size = 12, .threads = 2}).run();
  EXPECT_EQ(parameter_values(frozen, "embed", "weights"),
            parameter_values(untrained, "embed", "weights"));
  EXPECT_NE(parameter_values(frozen, "dense", "weights"),
            parameter_values(untrained, "dense", "weights"));
}

TEST(Embedding, NothingBeforeAnEmbeddingCanTrainThroughIt) {
  const Model model =
      ModelBuilder()
          .input("x", {2})
          .output("output", {3})
          .training_input("x", {2})
          .training_input("output_true", {1}, FeatureType::kInt32)
          .loss(CategoricalCrossEntropy{.name = "loss", .input = "output", .target = "output_true"})
          .optimizer(Adam{})
          .layers({
              {"pick", "x", "index", InnerProduct{.output_channels = 1}, kUpdatable},
              {"embed", "index", "vectors", Embedding{.input_dim = 6, .output_channels = 4}},
              {"dense", "vectors", "logits", InnerProduct{.output_channels = 3}, kUpdatable},
              {"softmax", "logits", "output", Softmax{}},
          })
          .build();
  EXPECT_EQ(error_of([&] { Network network(model, {.train = true}); }),
            "layer 'embed' (embedding) cannot back-propagate to its inputs, but an updatable "
            "layer before it needs the loss's gradient");
}

}  // namespace
}  // namespace edgetrain
