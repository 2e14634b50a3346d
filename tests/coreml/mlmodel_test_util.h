// Helpers for the .mlmodel reader/writer tests: field-by-field Model comparison (parameters
// bit-exact), models that use every field the writer knows, and running code in a child process
// with a memory budget (to prove a corrupt file allocates nothing large).
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <new>
#include <string>

#include "edgetrain/error.h"
#include "edgetrain/model.h"

namespace edgetrain::mlmodel_test {

inline const std::string kSharedModels = EDGETRAIN_SOURCE_DIR "/../shared/coreml-models/";

// The fields of a protobuf message that its schema does not declare.
inline google::protobuf::UnknownFieldSet* unknown_fields(google::protobuf::Message* message) {
  return message->GetReflection()->MutableUnknownFields(message);
}
inline const google::protobuf::UnknownFieldSet& unknown_fields(
    const google::protobuf::Message& message) {
  return message.GetReflection()->GetUnknownFields(message);
}

inline void expect_same_feature(const Feature& a, const Feature& b, const std::string& where) {
  SCOPED_TRACE(where + " '" + a.name + "'");
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.image.color_space, b.image.color_space);
  EXPECT_EQ(a.image.width, b.image.width);
  EXPECT_EQ(a.image.height, b.image.height);
  if (a.type == FeatureType::kDictionary) {
    EXPECT_EQ(a.dictionary_key, b.dictionary_key);
  }
  EXPECT_EQ(a.optional, b.optional);
}

inline void expect_same_features(const std::vector<Feature>& a, const std::vector<Feature>& b,
                                 const std::string& where) {
  ASSERT_EQ(a.size(), b.size()) << where;
  for (size_t i = 0; i < a.size(); ++i) expect_same_feature(a[i], b[i], where);
}

inline void expect_same_params(const LayerParams& a, const LayerParams& b) {
  ASSERT_EQ(a.index(), b.index());
  EXPECT_TRUE(a == b) << "the layer's parameters differ";
}

inline void expect_same_double(const DoubleParameter& a, const DoubleParameter& b,
                               const char* what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.present, b.present);
  EXPECT_EQ(a.default_value, b.default_value);
  EXPECT_EQ(a.range, b.range);
}

inline void expect_same_int(const Int64Parameter& a, const Int64Parameter& b, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.present, b.present);
  EXPECT_EQ(a.default_value, b.default_value);
  EXPECT_EQ(a.set, b.set);
  EXPECT_EQ(a.range, b.range);
}

inline void expect_same_update(const UpdateParameters& a, const UpdateParameters& b) {
  ASSERT_EQ(a.losses.size(), b.losses.size());
  for (size_t i = 0; i < a.losses.size(); ++i) {
    EXPECT_EQ(a.losses[i].name, b.losses[i].name);
    EXPECT_EQ(a.losses[i].type, b.losses[i].type);
    EXPECT_EQ(a.losses[i].input, b.losses[i].input);
    EXPECT_EQ(a.losses[i].target, b.losses[i].target);
  }
  ASSERT_EQ(a.optimizer.index(), b.optimizer.index());
  if (auto* x = std::get_if<Adam>(&a.optimizer)) {
    auto& y = std::get<Adam>(b.optimizer);
    expect_same_double(x->learning_rate, y.learning_rate, "learning rate");
    expect_same_int(x->mini_batch_size, y.mini_batch_size, "mini-batch size");
    expect_same_double(x->beta1, y.beta1, "beta1");
    expect_same_double(x->beta2, y.beta2, "beta2");
    expect_same_double(x->eps, y.eps, "eps");
  } else {
    auto& x2 = std::get<Sgd>(a.optimizer);
    auto& y = std::get<Sgd>(b.optimizer);
    expect_same_double(x2.learning_rate, y.learning_rate, "learning rate");
    expect_same_int(x2.mini_batch_size, y.mini_batch_size, "mini-batch size");
    expect_same_double(x2.momentum, y.momentum, "momentum");
  }
  expect_same_int(a.epochs, b.epochs, "epochs");
  EXPECT_EQ(a.shuffle, b.shuffle);
  ASSERT_EQ(a.seed.has_value(), b.seed.has_value());
  if (a.seed) expect_same_int(*a.seed, *b.seed, "seed");
}

// Every field of the Model, the parameter block compared bit for bit.
inline void expect_same_model(const Model& a, const Model& b) {
  const Metadata &m = a.metadata, &n = b.metadata;
  EXPECT_EQ(m.specification_version, n.specification_version);
  EXPECT_EQ(m.short_description, n.short_description);
  EXPECT_EQ(m.author, n.author);
  EXPECT_EQ(m.license, n.license);
  EXPECT_EQ(m.version_string, n.version_string);
  EXPECT_EQ(m.user_defined, n.user_defined);
  EXPECT_EQ(m.predicted_feature_name, n.predicted_feature_name);
  EXPECT_EQ(m.predicted_probabilities_name, n.predicted_probabilities_name);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.class_labels.int_labels, b.class_labels.int_labels);
  EXPECT_EQ(a.class_labels.string_labels, b.class_labels.string_labels);
  EXPECT_EQ(a.label_probability_layer, b.label_probability_layer);
  ASSERT_EQ(a.preprocessing.size(), b.preprocessing.size());
  for (size_t i = 0; i < a.preprocessing.size(); ++i) {
    const ImageScaler &s = a.preprocessing[i], &t = b.preprocessing[i];
    EXPECT_EQ(s.feature_name, t.feature_name);
    EXPECT_EQ(s.channel_scale, t.channel_scale);
    EXPECT_EQ(s.gray_bias, t.gray_bias);
    EXPECT_EQ(s.red_bias, t.red_bias);
    EXPECT_EQ(s.green_bias, t.green_bias);
    EXPECT_EQ(s.blue_bias, t.blue_bias);
  }
  expect_same_features(a.inputs, b.inputs, "input");
  expect_same_features(a.outputs, b.outputs, "output");
  expect_same_features(a.training_inputs, b.training_inputs, "training input");
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const Layer &x = a.layers[i], &y = b.layers[i];
    SCOPED_TRACE("layer " + std::to_string(i) + " '" + x.name + "'");
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.outputs, y.outputs);
    EXPECT_EQ(x.updatable, y.updatable);
    EXPECT_EQ(x.quantized, y.quantized);
    ASSERT_EQ(x.parameters.size(), y.parameters.size());
    for (size_t p = 0; p < x.parameters.size(); ++p) {
      EXPECT_EQ(x.parameters[p].name, y.parameters[p].name);
      EXPECT_EQ(x.parameters[p].shape, y.parameters[p].shape);
      EXPECT_EQ(x.parameters[p].slice.offset, y.parameters[p].slice.offset);
      EXPECT_EQ(x.parameters[p].slice.size, y.parameters[p].slice.size);
      EXPECT_EQ(x.parameters[p].role, y.parameters[p].role);
      EXPECT_EQ(x.parameters[p].file_updatable, y.parameters[p].file_updatable);
    }
    expect_same_params(x.params, y.params);
  }
  ASSERT_EQ(a.update.has_value(), b.update.has_value());
  if (a.update) expect_same_update(*a.update, *b.update);
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  EXPECT_EQ(
      0, std::memcmp(a.parameters.data(), b.parameters.data(), a.parameters.size() * sizeof(float)))
      << "the parameter blocks differ bit-wise";
}

// Uses every layer option, feature type and metadata field the writer knows: a classifier with
// string labels, an RGB image input through a scaler, grouped and dilated convolution with same
// padding, average and global pooling, every activation, both flatten orders, weight flags set
// apart from their layer's, and parameters holding NaN, ±0, ±inf and subnormals. Not updatable
// (Core ML could not train through its linear activation); see sgd_lenet() for the update fields.
inline Model every_field_model() {
  Model model =
      ModelBuilder()
          .metadata({.specification_version = 5,
                     .short_description = "every field",
                     .author = "edgetrain tests",
                     .license = "MIT",
                     .version_string = "1.2.3",
                     .user_defined = {{"b", "2"}, {"a", "1"}, {"\u00fcn\u00efcode", "\u2713"}},
                     .predicted_feature_name = "classLabel",
                     .predicted_probabilities_name = "probabilities"})
          .input("image", {3, 12, 10})
          .output("probabilities", {4})
          .training_input("image", {3, 12, 10})
          .training_input("classLabel", {}, FeatureType::kString)
          .layers({
              {"conv", "image", "c",
               Convolution{.output_channels = 6,
                           .kernel_channels = 1,
                           .groups = 3,
                           .kernel_size = {3, 2},
                           .stride = {2, 1},
                           .dilation = {1, 2},
                           .padding = Padding::kSame},
               kUpdatable},
              {"tanh", "c", "t", Tanh()},
              {"avg", "t", "a",
               Pooling{.type = PoolingType::kAverage,
                       .kernel_size = {2, 2},
                       .stride = {1, 1},
                       .padding = Padding::kSame,
                       .average_excludes_padding = false}},
              {"scale", "a", "l", Linear(1.5f, -0.25f)},
              {"conv2", "l", "c2",
               Convolution{.output_channels = 4,
                           .kernel_channels = 6,
                           .kernel_size = {1, 1},
                           .has_bias = false}},
              {"sigmoid", "c2", "s", Sigmoid()},
              {"max", "s", "m",
               Pooling{.type = PoolingType::kMax, .kernel_size = {2, 2}, .stride = {2, 2}}},
              {"global", "m", "g", Pooling{.type = PoolingType::kAverage, .global = true}},
              {"flatten", "g", "f", Flatten{.order = FlattenOrder::kChannelFirst}},
              {"dense", "f", "d", InnerProduct{.input_channels = 4, .output_channels = 4},
               kUpdatable},
              {"relu", "d", "r", ReLU()},
              {"flatten2", "r", "f2", Flatten{.order = FlattenOrder::kChannelLast}},
              {"softmax", "f2", "probabilities", Softmax{}},
          })
          .initializer(Initializer::kGlorotUniform, 7)
          .build();
  model.kind = ModelKind::kClassifier;
  model.class_labels.string_labels = {"cat", "dog", "\u00e9meu", ""};
  model.label_probability_layer = "probabilities";
  model.outputs[0].type = FeatureType::kDictionary;
  model.outputs[0].dictionary_key = FeatureType::kString;
  model.outputs[0].shape.clear();
  model.outputs[0].description = "class \u2192 probability";
  model.outputs.push_back(
      {.name = "classLabel", .type = FeatureType::kString, .description = "the most likely class"});
  model.inputs[0].type = FeatureType::kImage;
  model.inputs[0].shape.clear();
  model.inputs[0].image = {ColorSpace::kRGB, 10, 12};
  model.inputs[0].description = "a photo";
  model.training_inputs[0] = model.inputs[0];
  model.training_inputs[1].optional = true;
  model.preprocessing.push_back({.feature_name = "image",
                                 .channel_scale = 1.0f / 255,
                                 .red_bias = -0.5f,
                                 .green_bias = -0.25f,
                                 .blue_bias = 0.125f});
  model.layers[4].parameters[0].file_updatable =
      true;  // flags a file may set apart from the layer's
  model.layers[9].parameters[1].file_updatable = false;
  float* weights = model.data(model.layers[0].parameters[0]);
  weights[0] = std::numeric_limits<float>::quiet_NaN();
  weights[1] = -0.0f;
  weights[2] = std::numeric_limits<float>::infinity();
  weights[3] = -std::numeric_limits<float>::infinity();
  weights[4] = std::numeric_limits<float>::denorm_min();
  weights[5] = std::numeric_limits<float>::max();
  return model;
}

// Batchnorm (stored and computed statistics), embedding, embeddingND and batchedMatmul with one
// input (weights and bias) and with two (transposed, broadcast): index input → lookups → product.
inline Model tensor_kinds_model() {
  Model model =
      ModelBuilder()
          .metadata({.short_description = "tensor kinds"})
          .input("ids", {1})
          .output("product", {4, 2, 1})
          .output("instance_normed", {4, 1, 1})
          .layers({
              {"embed", "ids", "vectors",
               Embedding{.input_dim = 5, .output_channels = 4, .has_bias = true}},
              {"norm", "vectors", "normed", Batchnorm{.epsilon = 1e-3f}},
              {"lookup", "ids", "rows", EmbeddingND{.vocab_size = 5, .embedding_size = 3}},
              {"project", "rows", "projected",
               BatchedMatmul{.weight_columns = 2, .has_bias = true}},
              {"outer", {"projected", "normed"}, "product", BatchedMatmul{.transpose_a = true}},
              {"instance", "normed", "instance_normed",
               Batchnorm{.compute_mean_var = true, .instance_normalization = true}},
          })
          .initializer(Initializer::kGlorotUniform, 3)
          .build();
  const LayerParameter& variance = *model.layers[1].parameter("variance");
  for (size_t i = 0; i < variance.slice.size; ++i) model.data(variance)[i] = 0.5f + float(i);
  return model;
}

// Issue #10's graph model: two inputs, a fan-out, add and concat, batch norm, then an updatable
// convolution and dense layer, as Core ML can train it (the branches sit before the first updatable
// layer, so back-propagation never has to cross add or concat).
//   image (1, 8, 8) ─┬─ conv_a 3@3x3 same ─┐
//                    └─ conv_b 3@1x1 ──────┴─ add (3, 8, 8) ─┐
//   extra (2, 8, 8) ─────────────────────────────────────────┴─ concat (5, 8, 8) → batchnorm
//   → conv 4@3x3 same (updatable) → ReLU → max-pool 2x2 → flatten (64) → dense 3 (updatable)
//   → softmax "output"; cross-entropy against "output_true", Adam, 8 epochs of batch 8.
inline Model branching_two_input_model() {
  Model model =
      ModelBuilder()
          .metadata({.specification_version = 4, .short_description = "branches and two inputs"})
          .input("image", {1, 8, 8})
          .input("extra", {2, 8, 8})
          .output("output", {3})
          .training_input("image", {1, 8, 8})
          .training_input("extra", {2, 8, 8})
          .training_input("output_true", {1}, FeatureType::kInt32)
          .loss(CategoricalCrossEntropy{.name = "loss", .input = "output", .target = "output_true"})
          .optimizer(Adam{.learning_rate = {1e-2, std::array<double, 2>{0.0, 1.0}},
                          .mini_batch_size = {8, std::array<int64_t, 2>{1, 64}}})
          .epochs({8, std::array<int64_t, 2>{1, 100}})
          .shuffle(true)
          .layers({
              {"conv_a", "image", "a", Convolution{.output_channels = 3, .padding = Padding::kSame}},
              {"conv_b", "image", "b",
               Convolution{.output_channels = 3, .kernel_size = {1, 1}}},
              {"sum", {"a", "b"}, "s", Add{}},
              {"join", {"s", "extra"}, "j", Concat{}},
              {"norm", "j", "n", Batchnorm{}},
              {"conv", "n", "c", Convolution{.output_channels = 4, .padding = Padding::kSame},
               kUpdatable},
              {"relu", "c", "r", ReLU()},
              {"pool", "r", "p", Pooling{}},
              {"flatten", "p", "f", Flatten{}},
              {"dense", "f", "d", InnerProduct{.output_channels = 3}, kUpdatable},
              {"softmax", "d", "output", Softmax{}},
          })
          .initializer(Initializer::kGlorotUniform, 11)
          .build();
  // Stored statistics that are not the identity, so batch norm visibly shapes what follows.
  Layer& norm = model.layers[4];
  float* mean = model.data(*norm.parameter("mean"));
  float* variance = model.data(*norm.parameter("variance"));
  for (int c = 0; c < 5; ++c) {
    mean[c] = 0.1f * float(c);
    variance[c] = 0.5f + 0.25f * float(c);
  }
  return model;
}

// Every kind of issue #11 (unary, clip, the reductions, softmaxND, l2normalize, lrn, upsample,
// crop, slice, sliceStatic, split, loadConstant, loadConstantND) in one graph on x (4, 6, 6).
inline Model converter_kinds_model() {
  const BlobNames none = std::vector<std::string>{};
  ModelBuilder builder;
  builder.metadata({.short_description = "converter kinds"})
      .input("x", {4, 6, 6})
      .output("y", {2, 1, 1})
      .layers({
          {"abs", "x", "u", UnaryFunction{.operation = UnaryOperation::kAbs, .shift = 0.5f}},
          {"clip", "u", "c", Clip{0.0f, 2.0f}},
          {"lrn", "c", "l", LRN{.local_size = 3}},
          {"l2", "l", "n", L2Normalize{}},
          {"up", "n", "up",
           Upsample{.scaling_factor = {1.5f, 1.5f},
                    .fractional = true,
                    .mode = UpsampleMode::kBilinear,
                    .linear_mode = LinearUpsampleMode::kAlignCornersFalse}},
          {"crop", "up", "cropped", Crop{.amounts = {1, 1, 2, 1}}},
          {"window", {"cropped", "n"}, "w", Crop{.offset = {1, 0}}},
          {"slice", "w", "s", Slice{.start_index = 0, .end_index = 4}},
          {"split", "s", {"a", "b"}, Split{2}},
          {"sum", "a", "ra", Reduce{ReduceOperation::kSum, ReduceAxes::kHW}},
          {"softmax", "b", "sb", SoftmaxND{-1}},
          {"static", "sb", "half",
           SliceStatic{.begin_ids = {0, 0, 0, 0, 0},
                       .end_ids = {1, 1, 2, 3, 6},
                       .strides = {1, 1, 1, 1, 1},
                       .begin_masks = {true, true, true, false, true},
                       .end_masks = {true, true, true, false, true}}},
          {"k", none, "k", LoadConstant{{2, 1, 1}}},
          {"kn", none, "kn", LoadConstantND{{1, 1, 2, 1, 1}}},
          {"join", {"ra", "k", "kn"}, "y", Add{}},
      });
  // One of each ND reduction over the last axis of the softmax.
  builder.add({"reduceSum", "sb", "r0", ReduceSum{.axes = {-1}, .keep_dims = true}});
  builder.add({"reduceMean", "sb", "r1", ReduceMean{.axes = {-1}}});
  builder.add({"reduceMax", "sb", "r2", ReduceMax{.axes = {-2, -1}}});
  builder.add({"reduceMin", "sb", "r3", ReduceMin{.reduce_all = true}});
  builder.add({"reduceProd", "sb", "r4", ReduceProd{.axes = {-1}, .keep_dims = true}});
  builder.add({"reduceL1", "sb", "r5", ReduceL1{.axes = {-1}}});
  builder.add({"reduceL2", "sb", "r6", ReduceL2{.axes = {-1}}});
  builder.add({"reduceLogSum", "sb", "r7", ReduceLogSum{.axes = {-1}}});
  builder.add({"reduceSumSquare", "sb", "r8", ReduceSumSquare{.axes = {-1}}});
  builder.add({"reduceLogSumExp", "sb", "r9", ReduceLogSumExp{.axes = {-1}}});
  Model model = builder.build();
  for (size_t i = 0; i < model.parameters.size(); ++i) model.parameters[i] = 0.5f + float(i);
  return model;
}

// LeNet with the other optimizer and every update field: SGD with momentum, allowed sets and
// ranges, epochs as a range, shuffle off, a seed.
inline Model sgd_lenet() {
  Model model = lenet({.batch_size = 16, .epochs = 3, .seed = 5});
  model.update->optimizer = Sgd{.learning_rate = {0.05, std::array<double, 2>{1e-6, 0.5}},
                                .mini_batch_size = {16, std::nullopt, {8, 16, 32}},
                                .momentum = {0.9, std::array<double, 2>{0.0, 0.99}}};
  model.update->epochs = {3, std::array<int64_t, 2>{1, 50}};
  model.update->shuffle = false;
  model.update->seed = Int64Parameter{1234, std::nullopt, {}};
  model.metadata.version_string = "2";
  model.inputs[0].description = "a 28x28 digit";
  return model;
}

// Runs `body` in a child process whose address space may grow by `budget_bytes` at most.
// Returns 0 when body returned, kThrewError when it threw edgetrain::Error, 11 on std::bad_alloc,
// 12 on any other exception, 128 + signal when the child died (a sanitizer's own out-of-memory
// report exits with its own code).
constexpr int kThrewError = 10;
inline int run_with_memory_budget(const std::function<void()>& body, size_t budget_bytes) {
  const pid_t child = fork();
  if (child == 0) {
    size_t pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlim_t limit = rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE)) + budget_bytes;
    rlimit rl{limit, limit};
    setrlimit(RLIMIT_AS, &rl);
    int code = 0;
    try {
      body();
    } catch (const Error&) {
      code = kThrewError;
    } catch (const std::bad_alloc&) {
      code = 11;
    } catch (...) {
      code = 12;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace edgetrain::mlmodel_test
