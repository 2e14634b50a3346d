// The FedAvg paper's two MNIST models (McMahan et al. 2017, Section 3), as updatable Core ML
// networks trained with plain SGD, the optimizer the paper's clients use.
#include "edgetrain/fed.h"
#include "nn/digit_frame.h"

namespace edgetrain::fed {
namespace {

// The paper's models: plain SGD, Glorot-uniform weights.
ModelBuilder mnist_builder(const PresetOptions& options, const std::string& name,
                           const std::string& description) {
  // B = "infinity" in the paper is a client's whole local set: allow batches up to 60,000.
  return digit_classifier_frame(description, name,
                                Sgd{.learning_rate = {options.learning_rate, {{0.0, 1.0}}},
                                    .mini_batch_size = {options.batch_size, {{1, 60000}}},
                                    .momentum = {0.0, {{0.0, 1.0}}}},
                                {options.epochs, {{1, 1000}}}, Initializer::kGlorotUniform,
                                options.seed);
}

}  // namespace

Model fedavg_cnn(const PresetOptions& options) {
  // (1, 28, 28) -> conv (32, 28, 28) -> pool (32, 14, 14) -> conv (64, 14, 14) -> pool (64, 7, 7)
  // -> flatten 3136 -> 512 -> 10.
  return mnist_builder(options, "fedavg-cnn", "FedAvg paper's MNIST CNN")
      .layers({
          {"conv1", "image", "outConv1",
           Convolution{.output_channels = 32,
                       .kernel_channels = 1,
                       .kernel_size = {5, 5},
                       .padding = Padding::kSame},
           kUpdatable},
          {"relu1", "outConv1", "outRelu1", ReLU()},
          {"pool1", "outRelu1", "outPool1",
           Pooling{.type = PoolingType::kMax, .kernel_size = {2, 2}, .stride = {2, 2}}},
          {"conv2", "outPool1", "outConv2",
           Convolution{.output_channels = 64,
                       .kernel_channels = 32,
                       .kernel_size = {5, 5},
                       .padding = Padding::kSame},
           kUpdatable},
          {"relu2", "outConv2", "outRelu2", ReLU()},
          {"pool2", "outRelu2", "outPool2",
           Pooling{.type = PoolingType::kMax, .kernel_size = {2, 2}, .stride = {2, 2}}},
          {"flatten", "outPool2", "outFlatten", Flatten{.order = FlattenOrder::kChannelFirst}},
          {"dense1", "outFlatten", "outDense1",
           InnerProduct{.input_channels = 3136, .output_channels = 512}, kUpdatable},
          {"relu3", "outDense1", "outRelu3", ReLU()},
          {"dense2", "outRelu3", "outDense2",
           InnerProduct{.input_channels = 512, .output_channels = 10}, kUpdatable},
          {"softmax", "outDense2", "output", Softmax{}},
      })
      .build();
}

Model fedavg_2nn(const PresetOptions& options) {
  return mnist_builder(options, "fedavg-2nn", "FedAvg paper's MNIST 2NN (784-200-200-10)")
      .layers({
          {"flatten", "image", "outFlatten", Flatten{.order = FlattenOrder::kChannelFirst}},
          {"dense1", "outFlatten", "outDense1",
           InnerProduct{.input_channels = 784, .output_channels = 200}, kUpdatable},
          {"relu1", "outDense1", "outRelu1", ReLU()},
          {"dense2", "outRelu1", "outDense2",
           InnerProduct{.input_channels = 200, .output_channels = 200}, kUpdatable},
          {"relu2", "outDense2", "outRelu2", ReLU()},
          {"dense3", "outRelu2", "outDense3",
           InnerProduct{.input_channels = 200, .output_channels = 10}, kUpdatable},
          {"softmax", "outDense3", "output", Softmax{}},
      })
      .build();
}

}  // namespace edgetrain::fed
