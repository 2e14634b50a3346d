// The merge kinds (concat, concatND, add, multiply, average, max, min) beyond the generic layer
// test: what they refuse and how the messages say it, the rank-5 mapping's axes, a Core ML round
// trip of every kind and their `inspect` descriptions.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "base/rng.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/model.h"
#include "nn/layer_kind.h"
#include "nn/network.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

// A model of one layer "merge" reading model inputs a, b, ... of the given per-sample shapes.
Model one_layer(LayerParams params, const std::vector<std::vector<int64_t>>& shapes,
                bool exact_mapping = false) {
  Model model;
  model.exact_array_mapping = exact_mapping;
  Layer layer("merge", BlobNames{}, "y", params);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::string name(1, char('a' + i));
    model.inputs.push_back({name, shapes[i]});
    layer.inputs.push_back(name);
  }
  model.layers.push_back(layer);
  return model;
}

std::vector<int64_t> output_shape(LayerParams params,
                                  const std::vector<std::vector<int64_t>>& shapes,
                                  bool exact_mapping = false) {
  return infer_shapes(one_layer(params, shapes, exact_mapping)).at("y").dims();
}

std::string refusal(LayerParams params, const std::vector<std::vector<int64_t>>& shapes,
                    bool exact_mapping = false) {
  try {
    infer_shapes(one_layer(params, shapes, exact_mapping));
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// The message holds `part`; on failure prints the whole message.
::testing::AssertionResult holds(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << message << "' does not contain '" << part << "'";
}

TEST(MergeLayers, BroadcastFollowsCoreMLsDocumentedShapes) {
  using Shapes = std::vector<std::vector<int64_t>>;
  const Shapes all = {{3, 4, 5}, {1, 1, 1}, {3, 1, 1}, {1, 4, 5}};
  for (const LayerParams& params :
       {LayerParams(Add{}), LayerParams(Multiply{}), LayerParams(Average{})}) {
    EXPECT_EQ(output_shape(params, all), (std::vector<int64_t>{3, 4, 5}));
    EXPECT_EQ(output_shape(params, {{1, 4, 5}, {3, 1, 1}}), (std::vector<int64_t>{3, 4, 5}));
  }
  for (const LayerParams& params : {LayerParams(Max{}), LayerParams(Min{})}) {
    EXPECT_EQ(output_shape(params, {{3, 1, 1}, {3, 4, 5}}), (std::vector<int64_t>{3, 4, 5}));
    // Max and min broadcast the plane only.
    EXPECT_TRUE(holds(refusal(params, {{3, 4, 5}, {1, 4, 5}}),
                      "input 'b' from model input 'b' has shape [1, 4, 5], which does not "
                      "broadcast to [3, 4, 5]"));
  }
  // Half a plane, leading (batch) dimensions, ranks that differ, or below 3.
  EXPECT_TRUE(holds(refusal(Add{}, {{3, 4, 5}, {3, 4, 1}}),
                    "layer 0 'merge' (add): input 'b' from model input 'b' has shape "
                    "[3, 4, 1], which does not broadcast to [3, 4, 5]; add takes inputs of one "
                    "shape, or of rank 3 and up whose C and (H, W) are each the full size or 1"));
  EXPECT_TRUE(holds(refusal(Add{}, {{2, 3, 4, 5}, {1, 3, 4, 5}}, true),
                    "which does not broadcast to [2, 3, 4, 5]"));
  EXPECT_TRUE(holds(refusal(Multiply{}, {{4, 5}, {4, 1}}, true),
                    "input 'b' from model input 'b' has shape [4, 1] but input 'a' from model "
                    "input 'a' has shape [4, 5]; multiply takes"));
  EXPECT_TRUE(holds(refusal(Average{}, {{3, 4, 5}, {1, 3, 4, 5}}, true), "average takes"));
  // One input: add and multiply apply alpha, the others pass it through.
  EXPECT_EQ(output_shape(Add{0.5f}, {{2, 3}}, true), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(output_shape(Max{}, {{7}}, true), (std::vector<int64_t>{7}));
}

TEST(MergeLayers, ConcatJoinsChannelsOfMatchingBlobs) {
  EXPECT_EQ(output_shape(Concat{}, {{2, 3, 4}, {5, 3, 4}, {1, 3, 4}}),
            (std::vector<int64_t>{8, 3, 4}));
  EXPECT_EQ(output_shape(Concat{}, {{2, 1, 3, 4}, {2, 2, 3, 4}}, true),
            (std::vector<int64_t>{2, 3, 3, 4}));
  EXPECT_TRUE(holds(refusal(Concat{}, {{2, 3, 4}, {2, 3, 5}}),
                    "layer 0 'merge' (concat): input 'b' from model input 'b' has shape "
                    "[2, 3, 5] but input 'a' from model input 'a' has shape [2, 3, 4]; concat "
                    "joins along C (axis -3), so every other dimension must match"));
  EXPECT_TRUE(holds(refusal(Concat{}, {{2, 1, 3, 4}, {3, 1, 3, 4}}, true),
                    "every other dimension must match"));
  EXPECT_TRUE(holds(refusal(Concat{}, {{4, 5}, {4, 5}}, true),
                    "concat joins along C of (C, H, W) and needs rank 3 or more (concatND "
                    "joins any axis)"));
  EXPECT_TRUE(holds(refusal(Concat{}, {{2, 3, 4}}), "takes at least 2 inputs, got 1"));
}

TEST(MergeLayers, ConcatNDAxesUnderBothMappings) {
  // Rank-5 mapping: per-sample (C, H, W) is Core ML's (Seq, Batch, C, H, W).
  EXPECT_EQ(output_shape(ConcatND{2}, {{2, 3, 4}, {1, 3, 4}}), (std::vector<int64_t>{3, 3, 4}));
  EXPECT_EQ(output_shape(ConcatND{4}, {{2, 3, 4}, {2, 3, 1}}), (std::vector<int64_t>{2, 3, 5}));
  EXPECT_EQ(output_shape(ConcatND{-3}, {{2, 3, 4}, {1, 3, 4}}), (std::vector<int64_t>{3, 3, 4}));
  EXPECT_TRUE(holds(refusal(ConcatND{1}, {{2, 3, 4}, {2, 3, 4}}),
                    "layer 0 'merge' (concatND): axis 1 names Core ML's batch axis: under the "
                    "rank-5 array mapping a per-sample blob of rank 3 is [Seq, Batch, ...], so "
                    "its own axes are 2 to 4 (or -3 to -1)"));
  EXPECT_TRUE(holds(refusal(ConcatND{0}, {{2, 3, 4}, {2, 3, 4}}), "names Core ML's sequence axis"));
  EXPECT_TRUE(holds(refusal(ConcatND{-4}, {{2, 3, 4}, {2, 3, 4}}), "batch axis"));
  EXPECT_TRUE(holds(refusal(ConcatND{5}, {{2, 3, 4}, {2, 3, 4}}),
                    "axis 5 is out of range for a rank-5 tensor"));
  // Exact mapping: the per-sample shape is the tensor.
  EXPECT_EQ(output_shape(ConcatND{0}, {{2, 3}, {4, 3}}, true), (std::vector<int64_t>{6, 3}));
  EXPECT_EQ(output_shape(ConcatND{-1}, {{2, 3}, {2, 1}}, true), (std::vector<int64_t>{2, 4}));
  EXPECT_TRUE(holds(refusal(ConcatND{2}, {{2, 3}, {2, 3}}, true),
                    "axis 2 is out of range for a rank-2 tensor (-2 to 1)"));
  EXPECT_TRUE(holds(refusal(ConcatND{0}, {{2, 3}, {2, 4}}, true),
                    "concatND joins along axis 0, so every input must have the same rank and "
                    "every other dimension must match"));
  // Interleaving takes inputs of one shape.
  EXPECT_EQ(output_shape(ConcatND{0, true}, {{2, 3}, {2, 3}, {2, 3}}, true),
            (std::vector<int64_t>{6, 3}));
  EXPECT_TRUE(holds(refusal(ConcatND{0, true}, {{2, 3}, {1, 3}}, true),
                    "an interleaved concatND needs inputs of one shape"));
}

TEST(MergeLayers, SequenceConcatIsRefusedWhenRead) {
  const std::string array = R"({"multiArrayType": {"shape": [2, 3, 4], "dataType": "FLOAT32"}})";
  const std::string json = R"({"specificationVersion": 4, "description": {
      "input": [{"name": "a", "type": )" +
                           array + R"(}, {"name": "b", "type": )" + array + R"(}],
      "output": [{"name": "y", "type": )" +
                           array + R"(}]},
    "neuralNetwork": {"layers": [{"name": "join", "input": ["a", "b"], "output": ["y"],
                                  "concat": {"sequenceConcat": true}}]}})";
  try {
    parse_mlmodel(json_to_mlmodel(json, "seq.json"), "seq.mlmodel");
    FAIL() << "sequenceConcat was accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(holds(std::string(e.what()),
                      "layer 0 'join' (concat): sequenceConcat (joining along the sequence "
                      "axis, -5) is not supported"));
  }
}

// Backward adds into the input gradients (the ops' accumulation rule, which fan-out relies on): a
// second backward pass doubles them, broadcast inputs included.
TEST(MergeLayers, BackwardAddsIntoInputGradients) {
  const std::vector<std::vector<int64_t>> broadcast = {{3, 4, 5}, {3, 1, 1}};
  const std::vector<std::pair<LayerParams, std::vector<std::vector<int64_t>>>> cases = {
      {Concat{}, {{2, 4, 5}, {3, 4, 5}}},
      {ConcatND{-1}, {{3, 4, 5}, {3, 4, 2}}},
      {ConcatND{3, true}, {{3, 4, 5}, {3, 4, 5}}},
      {Add{}, broadcast},
      {Add{0.5f}, {{3, 4, 5}}},
      {Multiply{}, broadcast},
      {Multiply{2.0f}, {{3, 4, 5}}},
      {Average{}, broadcast},
      {Max{}, broadcast},
      {Min{}, broadcast},
  };
  Rng rng(5);
  for (const auto& [params, shapes] : cases) {
    const Model model = one_layer(params, shapes);
    const Layer& layer = model.layers[0];
    SCOPED_TRACE(layer_type_name(layer));
    const BlobShapes blobs = infer_shapes(model);
    std::vector<Shape> in_shapes;
    for (const std::string& name : layer.inputs) in_shapes.push_back(blobs.at(name));
    const Shape out_shape = blobs.at("y");
    const auto op = layer_kind(layer).compile({model, layer, in_shapes, {out_shape}, false});
    const int n = 2;
    std::vector<std::vector<float>> in, din;
    for (const Shape& s : in_shapes) {
      in.emplace_back(size_t(s.count()) * n);
      for (float& v : in.back()) v = float(2.0 * rng.uniform() - 1.0);
      din.emplace_back(in.back().size(), 0.0f);
    }
    std::vector<float> out(size_t(out_shape.count()) * n), dout(out.size());
    for (float& v : dout) v = float(2.0 * rng.uniform() - 1.0);
    OpArgs args;
    args.n = n;
    for (auto& v : in) args.in.push_back(v.data());
    for (auto& v : din) args.din.push_back(v.data());
    args.out = {out.data()};
    args.dout = {dout.data()};
    op->forward(args);
    op->backward(args);
    const std::vector<std::vector<float>> once = din;
    op->backward(args);
    for (size_t i = 0; i < din.size(); ++i) {
      double magnitude = 0;
      for (size_t k = 0; k < din[i].size(); ++k) {
        EXPECT_NEAR(din[i][k], 2.0f * once[i][k], 1e-5f * (1.0f + std::fabs(once[i][k])))
            << "input " << i << " [" << k << "]";
        magnitude += std::fabs(once[i][k]);
      }
      EXPECT_GT(magnitude, 0.0) << "input " << i << " got no gradient";
    }
  }
}

// Every merge kind in one network, written as a .mlmodel and read back: the same layers, the same
// outputs bit for bit.
Model every_merge_kind() {
  return ModelBuilder()
      .input("a", {3, 4, 5})
      .input("b", {3, 4, 5})
      .input("c", {3, 1, 1})
      .output("out", {3, 4, 5})
      .output("joined", {6, 4, 5})
      .output("interleaved", {3, 4, 10})
      .layers({
          {"join", {"a", "b"}, "joined", Concat{}},
          {"interleave", {"a", "b"}, "interleaved", ConcatND{.axis = -1, .interleave = true}},
          {"sum", {"a", "c"}, "s", Add{}},
          {"product", {"s", "b"}, "p", Multiply{}},
          {"scale", "p", "p2", Multiply{.alpha = 2.0f}},
          {"mean", {"p2", "a", "b"}, "m", Average{}},
          {"largest", {"m", "c"}, "l", Max{}},
          {"smallest", {"l", "b"}, "n", Min{}},
          {"shift", "n", "out", Add{.alpha = 0.75f}},
      })
      .build();
}

std::vector<float> predict_all(const Model& model, const std::vector<float>& features) {
  const Network network(model);
  Workspace ws = network.make_workspace(1);
  network.load_input(ws, 0, features.data());
  network.forward(ws, model, 1);
  std::vector<float> values;
  for (const char* name : {"out", "joined", "interleaved"}) {
    const int blob = network.blob(name);
    const float* v = ws.value(blob);
    values.insert(values.end(), v, v + network.blob_size(blob));
  }
  return values;
}

TEST(MergeLayers, EveryKindRoundTripsThroughCoreML) {
  const Model model = every_merge_kind();
  const Model reloaded = parse_mlmodel(serialize_mlmodel(model), "merge.mlmodel");
  ASSERT_EQ(reloaded.layers.size(), model.layers.size());
  for (size_t i = 0; i < model.layers.size(); ++i) {
    EXPECT_EQ(reloaded.layers[i].params, model.layers[i].params) << model.layers[i].name;
    EXPECT_EQ(reloaded.layers[i].inputs, model.layers[i].inputs) << model.layers[i].name;
  }
  std::vector<float> features(3 * 4 * 5 * 2 + 3);
  for (size_t i = 0; i < features.size(); ++i) features[i] = float(int(i * 7 % 11) - 5) / 4.0f;
  const std::vector<float> expected = predict_all(model, features);
  EXPECT_EQ(predict_all(reloaded, features), expected);
  // One value by hand: out[0] = min(max(mean(2·(a + c)·b, a, b), c), b) + 0.75 at element 0.
  const float a = features[0], b = features[60], c = features[120];
  const float mean = (2.0f * ((a + c) * b) + a + b) / 3.0f;
  EXPECT_FLOAT_EQ(expected[0], std::min(std::max(mean, c), b) + 0.75f);
}

TEST(MergeLayers, InspectDescriptions) {
  const Model model = every_merge_kind();
  auto described = [&](const char* name) {
    const Layer& layer = model.layer(name);
    return std::string(layer_type_name(layer)) + ": " + layer_kind(layer).describe(layer);
  };
  EXPECT_EQ(described("join"), "concat: 2 inputs along channels");
  EXPECT_EQ(described("interleave"), "concatND: 2 inputs along axis -1, interleaved");
  EXPECT_EQ(described("sum"), "add: sum of 2 inputs");
  EXPECT_EQ(described("shift"), "add: x + 0.75");
  EXPECT_EQ(described("product"), "multiply: product of 2 inputs");
  EXPECT_EQ(described("scale"), "multiply: 2 * x");
  EXPECT_EQ(described("mean"), "average: mean of 3 inputs");
  EXPECT_EQ(described("largest"), "max: maximum of 2 inputs");
  EXPECT_EQ(described("smallest"), "min: minimum of 2 inputs");
}

}  // namespace
}  // namespace edgetrain
