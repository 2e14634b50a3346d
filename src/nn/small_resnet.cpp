// small_resnet(): the second reference workload's network (edgetrain/model.h). Shapes per sample.
#include "edgetrain/model.h"

namespace edgetrain {

Model small_resnet(const LenetOptions& options) {
  const Convolution block_conv{
      .output_channels = 32, .kernel_size = {3, 3}, .padding = Padding::kSame, .has_bias = false};
  return ModelBuilder()
      .metadata({.specification_version = 4,
                 .short_description = "small residual CNN for 28x28 images (Fashion-MNIST)",
                 .author = "edgetrain",
                 .license = "MIT",
                 .user_defined = {{"edgetrainModel", "small-resnet"}}})
      .input("image", {1, 28, 28})
      .output("output", {10})
      .training_input("image", {1, 28, 28})
      .training_input("output_true", {1}, FeatureType::kInt32)
      .loss(
          CategoricalCrossEntropy{.name = "lossLayer", .input = "output", .target = "output_true"})
      .optimizer(Adam{.learning_rate = {options.learning_rate, {{0.0, 0.3}}},
                      .mini_batch_size = {options.batch_size, {{1, 4096}}},
                      .beta1 = {0.9, {{0.0, 1.0}}},
                      .beta2 = {0.999, {{0.0, 1.0}}},
                      .eps = {1e-8, {{0.0, 1e-8}}}})
      .epochs({options.epochs, {{1, 1000}}})
      .shuffle(true)
      .layers({
          // [1, 28, 28] → [32, 26, 26] → [32, 13, 13]: one fused step, as LeNet's conv1.
          {"conv1", "image", "outConv1", Convolution{.output_channels = 32, .kernel_size = {3, 3}},
           kUpdatable},
          {"relu1", "outConv1", "outRelu1", ReLU()},
          {"pooling1", "outRelu1", "outPooling1",
           Pooling{.type = PoolingType::kMax, .kernel_size = {2, 2}, .stride = {2, 2}}},
          {"bn1", "outPooling1", "outBn1", Batchnorm{}, kUpdatable},
          // The residual block, [32, 13, 13] throughout.
          {"conv2a", "outBn1", "outConv2a", block_conv, kUpdatable},
          {"bn2a", "outConv2a", "outBn2a", Batchnorm{}, kUpdatable},
          {"relu2a", "outBn2a", "outRelu2a", ReLU()},
          {"conv2b", "outRelu2a", "outConv2b", block_conv, kUpdatable},
          {"bn2b", "outConv2b", "outBn2b", Batchnorm{}, kUpdatable},
          {"add2", {"outBn1", "outBn2b"}, "outAdd2", Add{}},
          {"relu2b", "outAdd2", "outRelu2b", ReLU()},
          // [32, 13, 13] → [64, 12, 12] → [64, 6, 6]: fused, as LeNet's conv2 with twice the
          // channels; written channel-last, so the flatten is free.
          {"conv3", "outRelu2b", "outConv3",
           Convolution{.output_channels = 64, .kernel_size = {2, 2}}, kUpdatable},
          {"relu3", "outConv3", "outRelu3", ReLU()},
          {"pooling3", "outRelu3", "outPooling3",
           Pooling{.type = PoolingType::kMax, .kernel_size = {2, 2}, .stride = {2, 2}}},
          {"flatten", "outPooling3", "outFlatten", Flatten{.order = FlattenOrder::kChannelLast}},
          {"dense1", "outFlatten", "outDense1", InnerProduct{.output_channels = 128}, kUpdatable},
          {"relu4", "outDense1", "outRelu4", ReLU()},
          {"dense2", "outRelu4", "outDense2", InnerProduct{.output_channels = 10}, kUpdatable},
          {"softmax", "outDense2", "output", Softmax{}},
      })
      .initializer(options.initializer, options.seed)
      .build();
}

}  // namespace edgetrain
