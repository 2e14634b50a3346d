// What a wrong batchnorm, embedding, embeddingND or batchedMatmul gets: shape errors naming the
// layer and both shapes when a model is built, and file errors naming the file, layer and field
// when one is read.
#include <gtest/gtest.h>

#include "coreml/mlmodel_test_util.h"
#include "coreml/model_spec.h"
#include "edgetrain/coreml.h"
#include "nn/kind_test_helpers.h"

namespace edgetrain {
namespace {

namespace spec = coreml::spec;

// A model of one layer on inputs "a" (and "b") of these (C, H, W) shapes.
std::string build_error(Layer layer, std::vector<int64_t> a, std::vector<int64_t> b = {}) {
  ModelBuilder builder;
  builder.input("a", a);
  if (!b.empty()) builder.input("b", b);
  builder.output("y", {1});
  builder.add(std::move(layer));
  return error_of([&] { builder.build(); });
}

TEST(TensorKindErrors, ShapesThatDoNotFitNameTheLayerAndBothShapes) {
  EXPECT_EQ(build_error({"product", {"a", "b"}, "y", BatchedMatmul{}}, {2, 3, 4}, {2, 5, 6}),
            "layer 0 'product' (batchedMatmul): input 'a' from model input 'a' has shape "
            "[2, 3, 4] and input 'b' from model input 'b' has shape [2, 5, 6]: op(a) has 4 "
            "columns but op(b) has 5 rows");
  EXPECT_NE(build_error({"product", {"a", "b"}, "y", BatchedMatmul{}}, {2, 3, 4}, {3, 4, 5})
                .find("leading dimension 0 is 2 in a and 3 in b, which do not broadcast"),
            std::string::npos);
  EXPECT_EQ(build_error({"product", "a", "y", BatchedMatmul{.weight_rows = 5, .weight_columns = 2}},
                        {2, 3, 4}),
            "layer 0 'product' (batchedMatmul): input 'a' from model input 'a' has shape "
            "[2, 3, 4] but the weights are (5, 2): its last dimension must be 5");
  EXPECT_NE(build_error({"lookup", "a", "y", Embedding{.input_dim = 4, .output_channels = 2}}, {2})
                .find("has shape [2, 1, 1] but embedding reads one index per (1, 1, 1)"),
            std::string::npos);
  EXPECT_NE(build_error({"lookup", "a", "y", EmbeddingND{.vocab_size = 4, .embedding_size = 2}},
                        {1, 2, 3})
                .find("has shape [1, 2, 3] but embeddingND reads indices of shape (..., 1)"),
            std::string::npos);
  EXPECT_EQ(build_error({"norm", "a", "y", Batchnorm{.channels = 5}}, {3, 4, 4}),
            "layer 0 'norm' (batchnorm): input 'a' from model input 'a' has shape [3, 4, 4] but "
            "its parameters are for 5 channels (axis -3)");
  EXPECT_NE(build_error({"norm", "a", "y", Batchnorm{.epsilon = 0.0f}}, {3, 4, 4})
                .find("epsilon 0 must be positive"),
            std::string::npos);
}

// tensor_kinds_model()'s layers: embed, norm, lookup, project, outer, instance.
spec::Model tensor_kinds_spec() {
  return coreml::parse_spec(serialize_mlmodel(mlmodel_test::tensor_kinds_model()), "kinds");
}
spec::NeuralNetworkLayer& layer(spec::Model& m, int index) {
  return *m.mutable_neuralnetwork()->mutable_layers(index);
}
std::string read_error(const spec::Model& m) {
  return error_of([&] { parse_mlmodel(coreml::serialize_spec(m), "bad.mlmodel"); });
}

TEST(TensorKindErrors, FileFieldsOutOfRangeNameTheFileLayerAndField) {
  spec::Model m = tensor_kinds_spec();
  layer(m, 1).mutable_batchnorm()->set_epsilon(-1.0f);
  EXPECT_EQ(read_error(m), "bad.mlmodel: layer 1 'norm' (batchnorm): epsilon -1 must be positive");
  m = tensor_kinds_spec();
  layer(m, 1).mutable_batchnorm()->clear_mean();
  EXPECT_EQ(read_error(m).rfind("bad.mlmodel: layer 1 'norm' (batchnorm) mean: holds no values", 0),
            0u)
      << read_error(m);
  m = tensor_kinds_spec();
  layer(m, 1).mutable_batchnorm()->set_channels(0);
  EXPECT_NE(read_error(m).find("channels must be positive"), std::string::npos);
  m = tensor_kinds_spec();
  layer(m, 0).mutable_embedding()->set_inputdim(uint64_t(1) << 40);
  EXPECT_NE(
      read_error(m).find("layer 0 'embed' (embedding): inputDim 1099511627776 is out of range"),
      std::string::npos);
  m = tensor_kinds_spec();
  layer(m, 2).mutable_embeddingnd()->set_hasbias(false);
  layer(m, 2).mutable_embeddingnd()->mutable_bias()->add_floatvalue(1.0f);
  EXPECT_NE(read_error(m).find("'lookup' (embeddingND) bias (hasBias is false)"),
            std::string::npos);
  m = tensor_kinds_spec();
  layer(m, 3).mutable_batchedmatmul()->set_int8dynamicquantize(true);
  EXPECT_EQ(read_error(m),
            "bad.mlmodel: layer 3 'project' (batchedMatmul): int8DynamicQuantize is not supported");
  m = tensor_kinds_spec();
  layer(m, 3).mutable_batchedmatmul()->set_weightmatrixseconddimension(3);
  EXPECT_NE(read_error(m).find("'project' (batchedMatmul) weights"), std::string::npos)
      << "6 stored weights cannot be (3, 3)";
}

TEST(TensorKindErrors, WhatCoreMLIgnoresIsNotRequired) {
  // computeMeanVar: no stored statistics (coremltools writes none), and none laid out.
  spec::Model m = tensor_kinds_spec();
  const Model read = parse_mlmodel(coreml::serialize_spec(m), "kinds");
  EXPECT_EQ(read.layer("instance").parameter("mean"), nullptr);
  EXPECT_FALSE(layer(m, 5).batchnorm().has_mean());
  // A product of two inputs ignores weight fields, as Core ML does.
  layer(m, 4).mutable_batchedmatmul()->set_hasbias(true);
  layer(m, 4).mutable_batchedmatmul()->mutable_weights()->add_floatvalue(1.0f);
  EXPECT_TRUE(parse_mlmodel(coreml::serialize_spec(m), "kinds").layer("outer").parameters.empty());
  // A zero epsilon is Core ML's default, 1e-5.
  layer(m, 1).mutable_batchnorm()->set_epsilon(0.0f);
  EXPECT_EQ(
      std::get<Batchnorm>(parse_mlmodel(coreml::serialize_spec(m), "kinds").layer("norm").params)
          .epsilon,
      1e-5f);
}

}  // namespace
}  // namespace edgetrain
