// The FedAvg paper's two MNIST models (McMahan et al. 2017, Section 3), as updatable Core ML
// networks trained with plain SGD, the optimizer the paper's clients use.
#include "edgetrain/fed.h"

namespace edgetrain::fed {
namespace {

ModelBuilder mnist_builder(const PresetOptions& options, const std::string& name,
                           const std::string& description) {
  ModelBuilder builder;
  builder
      .metadata({.specification_version = 4,
                 .short_description = description,
                 .author = "edgetrain",
                 .license = "MIT",
                 .user_defined = {{"edgetrainModel", name}}})
      .input("image", {1, 28, 28})
      .output("output", {10})
      .training_input("image", {1, 28, 28})
      .training_input("output_true", {1}, FeatureType::kInt32)
      .loss(
          CategoricalCrossEntropy{.name = "lossLayer", .input = "output", .target = "output_true"})
      // B = "infinity" in the paper is a client's whole local set: allow batches up to 60,000.
      .optimizer(Sgd{.learning_rate = {options.learning_rate, {{0.0, 1.0}}},
                     .mini_batch_size = {options.batch_size, {}, {{1, 60000}}},
                     .momentum = {0.0, {{0.0, 1.0}}}})
      .epochs({options.epochs, {}, {{1, 1000}}})
      .shuffle(true)
      .initializer(Initializer::kGlorotUniform, options.seed);
  return builder;
}

}  // namespace

Model fedavg_cnn(const PresetOptions& options) {
  // (1, 28, 28) -> conv (32, 28, 28) -> pool (32, 14, 14) -> conv (64, 14, 14) -> pool (64, 7, 7)
  // -> flatten 3136 -> 512 -> 10.
  return mnist_builder(options, "fedavg-cnn", "FedAvg paper's MNIST CNN")
      .layers({
          Convolution{.name = "conv1",
                      .input = "image",
                      .output = "outConv1",
                      .output_channels = 32,
                      .kernel_channels = 1,
                      .kernel_size = {5, 5},
                      .padding = Padding::kSame,
                      .updatable = true},
          ReLU{.name = "relu1", .input = "outConv1", .output = "outRelu1"},
          Pooling{.name = "pool1",
                  .input = "outRelu1",
                  .output = "outPool1",
                  .type = PoolingType::kMax,
                  .kernel_size = {2, 2},
                  .stride = {2, 2}},
          Convolution{.name = "conv2",
                      .input = "outPool1",
                      .output = "outConv2",
                      .output_channels = 64,
                      .kernel_channels = 32,
                      .kernel_size = {5, 5},
                      .padding = Padding::kSame,
                      .updatable = true},
          ReLU{.name = "relu2", .input = "outConv2", .output = "outRelu2"},
          Pooling{.name = "pool2",
                  .input = "outRelu2",
                  .output = "outPool2",
                  .type = PoolingType::kMax,
                  .kernel_size = {2, 2},
                  .stride = {2, 2}},
          Flatten{.name = "flatten",
                  .input = "outPool2",
                  .output = "outFlatten",
                  .order = FlattenOrder::kChannelFirst},
          InnerProduct{.name = "dense1",
                       .input = "outFlatten",
                       .output = "outDense1",
                       .input_channels = 3136,
                       .output_channels = 512,
                       .updatable = true},
          ReLU{.name = "relu3", .input = "outDense1", .output = "outRelu3"},
          InnerProduct{.name = "dense2",
                       .input = "outRelu3",
                       .output = "outDense2",
                       .input_channels = 512,
                       .output_channels = 10,
                       .updatable = true},
          Softmax{.name = "softmax", .input = "outDense2", .output = "output"},
      })
      .build();
}

Model fedavg_2nn(const PresetOptions& options) {
  return mnist_builder(options, "fedavg-2nn", "FedAvg paper's MNIST 2NN (784-200-200-10)")
      .layers({
          Flatten{.name = "flatten",
                  .input = "image",
                  .output = "outFlatten",
                  .order = FlattenOrder::kChannelFirst},
          InnerProduct{.name = "dense1",
                       .input = "outFlatten",
                       .output = "outDense1",
                       .input_channels = 784,
                       .output_channels = 200,
                       .updatable = true},
          ReLU{.name = "relu1", .input = "outDense1", .output = "outRelu1"},
          InnerProduct{.name = "dense2",
                       .input = "outRelu1",
                       .output = "outDense2",
                       .input_channels = 200,
                       .output_channels = 200,
                       .updatable = true},
          ReLU{.name = "relu2", .input = "outDense2", .output = "outRelu2"},
          InnerProduct{.name = "dense3",
                       .input = "outRelu2",
                       .output = "outDense3",
                       .input_channels = 200,
                       .output_channels = 10,
                       .updatable = true},
          Softmax{.name = "softmax", .input = "outDense3", .output = "output"},
      })
      .build();
}

}  // namespace edgetrain::fed
