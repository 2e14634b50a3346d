// The remaining converter kinds of issue #11 beyond their fixture cases (test_layers.cpp checks
// each against PyTorch and finite differences): the builder's form of each writes and reads back,
// shapes that do not fit and file fields out of range are refused with the layer and the reason,
// and Core ML's unset fields read as its defaults.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgetrain/coreml.h"
#include "nn/kind_test_helpers.h"
#include "nn/layer_kind.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

using nlohmann::json;

// A loadConstant or loadConstantND model: an unused input "x", the constant as output "y".
Model constant_model(LayerParams params, std::vector<int64_t> output) {
  return ModelBuilder()
      .input("x", {1})
      .output("y", output)
      .add({"layer", BlobNames(std::vector<std::string>{}), "y", std::move(params)})
      .build();
}

// A split of input "x" into `outputs` blobs "a", "b", ..., each declared `part`.
Model split_model(std::vector<int64_t> input, Split split, int outputs,
                  std::vector<int64_t> part = {1}) {
  ModelBuilder builder;
  builder.input("x", input);
  BlobNames names;
  for (int i = 0; i < outputs; ++i) {
    names.push_back(std::string(1, char('a' + i)));
    builder.output(names.back(), part);
  }
  return builder.add({"layer", "x", names, split}).build();
}

TEST(MoreLayers, EveryKindWritesAndReadsBackItsParameters) {
  // The default (rank-5) mapping: ND axes count Seq and Batch, so they are negative or 2 and up.
  const std::vector<Model> models = {
      one_layer({3, 4, 5},
                UnaryFunction{.operation = UnaryOperation::kRsqrt, .epsilon = 1e-3f, .scale = 2.0f},
                {3, 4, 5}),
      one_layer({3, 4, 5}, Clip{-1.0f, 1.0f}, {3, 4, 5}),
      one_layer({3, 4, 5}, Reduce{ReduceOperation::kL2, ReduceAxes::kHW}, {3, 1, 1}),
      one_layer({3, 4, 5}, Reduce{ReduceOperation::kArgMax, ReduceAxes::kC}, {1, 4, 5}),
      one_layer({3, 4, 5}, ReduceSum{.axes = {-1}, .keep_dims = true}, {3, 4, 1}),
      one_layer({3, 4, 5}, ReduceMean{.axes = {2, -2}}, {5}),
      one_layer({3, 4, 5}, ReduceLogSumExp{.reduce_all = true}, {1}),
      one_layer({3, 4, 5}, SoftmaxND{-2}, {3, 4, 5}),
      one_layer({3, 4, 5}, L2Normalize{1e-4f}, {3, 4, 5}),
      one_layer({3, 4, 5}, LRN{.alpha = 1e-3f, .beta = 0.5f, .local_size = 3, .k = 2.0f},
                {3, 4, 5}),
      one_layer({3, 4, 5}, Upsample{.scaling_factor = {2.0f, 3.0f}}, {3, 8, 15}),
      one_layer({3, 4, 5},
                Upsample{.scaling_factor = {1.5f, 0.5f},
                         .fractional = true,
                         .mode = UpsampleMode::kBilinear,
                         .linear_mode = LinearUpsampleMode::kAlignCornersFalse},
                {3, 6, 2}),
      one_layer({3, 4, 5}, Crop{.amounts = {1, 0, 2, 1}}, {3, 3, 2}),
      one_layer({3, 4, 5}, Crop{.offset = {0, 0}}, {3, 4, 5}, 2),
      one_layer({3, 4, 5},
                Slice{.start_index = 1, .end_index = -1, .stride = 2, .axis = SliceAxis::kWidth},
                {3, 4, 2}),
      one_layer({3, 4, 5},
                SliceStatic{.begin_ids = {0, 0, 1, 0, 0},
                            .end_ids = {1, 1, 3, 0, 0},
                            .strides = {1, 1, 1, 1, -2},
                            .begin_masks = {true, true, false, true, true},
                            .end_masks = {true, true, false, true, true}},
                {2, 4, 3}),
      constant_model(LoadConstant{{2, 3, 4}}, {2, 3, 4}),
      constant_model(LoadConstantND{{1, 1, 2, 3}}, {2, 3}),
      split_model({4, 2, 3}, Split{2}, 2, {2, 2, 3}),
  };
  for (const Model& model : models) expect_writes_and_reads_back(model);
}

TEST(MoreLayers, ShapesThatDoNotFitNameTheLayerAndTheReason) {
  auto build = [](LayerParams params, int inputs = 1, std::vector<int64_t> shape = {3, 4, 5}) {
    return error_of([&] { one_layer(shape, params, {1}, inputs); });
  };
  EXPECT_EQ(build(Slice{.start_index = 4, .end_index = 2, .axis = SliceAxis::kHeight}),
            "layer 0 'layer' (slice): input 'x' from model input 'x' has shape [3, 4, 5], and "
            "[4:2:1] of its height axis (4 values) is empty");
  EXPECT_EQ(build(Crop{.amounts = {2, 2, 0, 0}}),
            "layer 0 'layer' (crop): input 'x' from model input 'x' has shape [3, 4, 5], but "
            "cropping 2 and 2 off its height 4 leaves nothing");
  const struct {
    std::string error, expected;
  } cases[] = {
      {build(Clip{1.0f, -1.0f}), "minVal 1 must not exceed maxVal -1"},
      {build(UnaryFunction{.epsilon = 0.0f}), "epsilon 0 must be positive"},
      {build(Reduce{ReduceOperation::kArgMax, ReduceAxes::kHW}),
       "argmax reduces over one axis (C, H or W), not HW"},
      {build(ReduceMean{}), "axes is empty and reduceAll is not set"},
      {build(ReduceMax{.axes = {-1, 4}}), "names axis 4 twice"},
      {build(ReduceSum{.axes = {1}}), "axis 1 names Core ML's batch axis"},
      {build(SoftmaxND{5}), "axis 5 is out of range for a rank-5 tensor"},
      {build(LRN{.local_size = 4}), "localSize 4 must be odd"},
      {build(Upsample{.scaling_factor = {1.5f, 2.0f}}),
       "height scaling factor 1.5 must be a whole number"},
      {build(Upsample{.fractional = true}), "fractional scaling factors need bilinear mode"},
      {build(Upsample{.linear_mode = LinearUpsampleMode::kAlignCornersTrue}),
       "takes no linearUpsampleMode"},
      {build(Upsample{.scaling_factor = {65536.0f, 65536.0f}}), "more than 2^28"},
      {build(Crop{.offset = {1, 0}}, 2), "at height offset 1 does not fit inside it"},
      {build(Slice{.stride = 0}), "stride 0 must be positive"},
      {build(SliceStatic{{0}, {1}, {1}, {false}, {false}}), "need one value per axis"},
      {build(SliceStatic{{0, 0, 0, 0, 0},
                         {1, 1, 1, 1, 1},
                         {1, 1, 1, 1, 1},
                         {false, false, false, false, false},
                         {false, false, false, false, false},
                         {false, true, false, false, false}}),
       "axis 1 is Core ML's batch axis under the rank-5 mapping, which cannot be squeezed"},
      {build(SliceStatic{{0, 0, 7, 0, 0},
                         {1, 1, 1, 1, 1},
                         {1, 1, 1, 1, 1},
                         {false, false, false, false, false},
                         {false, false, false, false, false},
                         {false, false, true, false, false}}),
       "axis 2 has 3 values and its squeezed index 7 is outside it"},
  };
  for (const auto& c : cases) {
    EXPECT_NE(c.error.find("layer 0 'layer'"), std::string::npos) << c.error;
    EXPECT_NE(c.error.find(c.expected), std::string::npos) << c.error;
  }
  EXPECT_NE(error_of([] {
              constant_model(LoadConstantND{{2, 3}}, {2, 3});
            }).find("(loadConstantND): shape [2, 3] must be [1, 1] (Seq, Batch"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              constant_model(LoadConstantND{{2, 1, 3}}, {3});
            }).find("sets Core ML's sequence axis to 2"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              split_model({4, 2, 2}, Split{3}, 3);
            }).find("[4, 2, 2], whose 4 channels (axis -3) do not split into 3 equal parts"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              split_model({4, 2, 2}, Split{2}, 3);
            }).find("(split): nOutputs is 2 but the layer names 3 outputs"),
            std::string::npos);
}

// The error reading a model whose one layer is `layer` (its JSON form, inputs "x" and "x2" of
// shape [3, 4, 5]), or "no error".
std::string read_error(json layer) {
  layer["name"] = "bad";
  if (!layer.contains("input")) layer["input"] = {"x"};
  layer["output"] = {"y"};
  json model = {{"specificationVersion", 4}};
  for (const char* name : {"x", "x2"}) {
    model["description"]["input"].push_back(
        {{"name", name},
         {"type", {{"multiArrayType", {{"shape", {3, 4, 5}}, {"dataType", "FLOAT32"}}}}}});
  }
  model["description"]["output"].push_back(
      {{"name", "y"}, {"type", {{"multiArrayType", {{"dataType", "FLOAT32"}}}}}});
  model["neuralNetwork"]["layers"] = json::array({layer});
  return error_of([&] { parse_mlmodel(json_to_mlmodel(model.dump(), "bad.json"), "bad.mlmodel"); });
}

TEST(MoreLayers, FileFieldsOutOfRangeNameTheFileLayerAndField) {
  const std::string huge = std::to_string(uint64_t(1) << 40);
  EXPECT_EQ(read_error({{"unary", {{"type", 9}}}}),
            "bad.mlmodel: layer 0 'bad' (unary): type 9 is not a unary function of Core ML's");
  const struct {
    json layer;
    std::string expected;
  } cases[] = {
      {{{"reduce", {{"mode", 12}}}}, "(reduce): mode 12 is not a reduction of Core ML's"},
      {{{"reduce", {{"axis", 7}}}}, "(reduce): axis 7 is not one of CHW, HW, C, H, W"},
      {{{"reduceSum", {{"axes", {17}}}}}, "(reduceSum): axes 17 is out of range (-16 to 16)"},
      {{{"upsample", {{"scalingFactor", {2, 2}}, {"fractionalScalingFactor", {1.5, 1.5}}}}},
       "scalingFactor has 2 values and fractionalScalingFactor 2; one of them may be set"},
      {{{"upsample", {{"scalingFactor", {2}}}}}, "scalingFactor has 1 values"},
      {{{"upsample", {{"mode", 3}}}}, "mode 3 is neither NN nor BILINEAR"},
      {{{"upsample", {{"scalingFactor", {2, huge}}}}},
       "scalingFactor " + huge + " is out of range"},
      {{{"crop", json::object()}}, "cropAmounts has 0 border amounts"},
      {{{"crop", {{"offset", {1}}}}, {"input", {"x", "x2"}}}, "offset has 1 values"},
      {{{"slice", {{"stride", 0}}}}, "(slice): stride 0 must be positive"},
      {{{"slice", {{"stride", 1}, {"axis", 5}}}}, "axis 5 is not CHANNEL, HEIGHT or WIDTH"},
      {{{"lrn", {{"localSize", huge}}}}, "localSize " + huge + " is out of range"},
      {{{"split", {{"nOutputs", huge}}}}, "nOutputs " + huge + " is out of range"},
      {{{"sliceStatic", {{"beginIds", {0, 0, 0, 0, 0, 0, 0, 0}}}}},
       "holds more than 7 values per field"},
      {{{"loadConstant", {{"shape", {2, 3}}}}, {"input", json::array()}},
       "shape has 2 values; it is [C, H, W]"},
      {{{"loadConstant", {{"shape", {0, 1, 1}}}}, {"input", json::array()}},
       "shape [0, 1, 1] must have positive sizes and at most 2^28 values"},
      {{{"loadConstant", {{"shape", {65536, 65536, 1}}}}, {"input", json::array()}},
       "at most 2^28 values"},
      {{{"loadConstant", {{"shape", {1, 1, 2}}, {"data", {{"floatValue", {1.0}}}}}},
        {"input", json::array()}},
       "(loadConstant) data"},
      {{{"loadConstantND", {{"shape", {1, 1, 1, 1, 1, 1}}}}, {"input", json::array()}},
       "shape has 6 values (1 to 5)"},
  };
  for (const auto& c : cases) {
    const std::string error = read_error(c.layer);
    EXPECT_EQ(error.rfind("bad.mlmodel: layer 0 'bad'", 0), 0u) << error;
    EXPECT_NE(error.find(c.expected), std::string::npos) << error;
  }
}

TEST(MoreLayers, UnsetFieldsReadAsCoreMLDefaults) {
  auto read = [](json layer) {
    layer["name"] = "layer";
    layer["input"] = {"x"};
    if (!layer.contains("output")) layer["output"] = {"y"};
    json model = {{"specificationVersion", 4}};
    model["description"]["input"].push_back(
        {{"name", "x"},
         {"type", {{"multiArrayType", {{"shape", {4, 2, 3}}, {"dataType", "FLOAT32"}}}}}});
    for (const auto& output : layer["output"]) {
      model["description"]["output"].push_back(
          {{"name", output}, {"type", {{"multiArrayType", {{"dataType", "FLOAT32"}}}}}});
    }
    model["neuralNetwork"]["layers"] = json::array({layer});
    return parse_mlmodel(json_to_mlmodel(model.dump(), "defaults.json"), "defaults.mlmodel")
        .layers[0]
        .params;
  };
  const auto unary = std::get<UnaryFunction>(read({{"unary", {{"type", "RSQRT"}}}}));
  EXPECT_EQ(unary.epsilon, 1e-6f);
  EXPECT_EQ(unary.scale, 1.0f);
  EXPECT_EQ(std::get<Reduce>(read({{"reduce", json::object()}})),
            (Reduce{ReduceOperation::kSum, ReduceAxes::kCHW, 1e-6f}));
  EXPECT_EQ(std::get<L2Normalize>(read({{"l2normalize", json::object()}})).epsilon, 1e-6f);
  EXPECT_EQ(std::get<LRN>(read({{"lrn", {{"localSize", 3}}}})).k, 1.0f);
  EXPECT_EQ(std::get<Upsample>(read({{"upsample", json::object()}})).scaling_factor,
            (std::array<float, 2>{1.0f, 1.0f}));
  EXPECT_EQ(std::get<Split>(read({{"split", json::object()}, {"output", {"a", "b"}}})).outputs, 2)
      << "nOutputs 0: one part per output";
}

}  // namespace
}  // namespace edgetrain
