// ModelBuilder: turns the declarative layer descriptions into Model layers, lays out the parameter
// block, validates and initialises. Also the built-in networks: the seed's LeNet and
// small_resnet(), the second reference workload's.
#include <algorithm>
#include <cmath>
#include <utility>
#include <variant>

#include "base/rng.h"
#include "edgetrain/error.h"
#include "edgetrain/model.h"
#include "nn/digit_frame.h"
#include "nn/layer_kind.h"
#include "nn/shapes.h"

namespace edgetrain {

ModelBuilder& ModelBuilder::metadata(Metadata metadata) {
  model_.metadata = std::move(metadata);
  return *this;
}
ModelBuilder& ModelBuilder::input(std::string name, std::vector<int64_t> shape, FeatureType type) {
  model_.inputs.push_back({std::move(name), std::move(shape), type, ""});
  return *this;
}
ModelBuilder& ModelBuilder::output(std::string name, std::vector<int64_t> shape, FeatureType type) {
  model_.outputs.push_back({std::move(name), std::move(shape), type, ""});
  return *this;
}
ModelBuilder& ModelBuilder::training_input(std::string name, std::vector<int64_t> shape,
                                           FeatureType type) {
  model_.training_inputs.push_back({std::move(name), std::move(shape), type, ""});
  return *this;
}
ModelBuilder& ModelBuilder::loss(CategoricalCrossEntropy loss) {
  if (!model_.update) model_.update.emplace();
  model_.update->losses.push_back(
      {loss.name, LossType::kCategoricalCrossEntropy, loss.input, loss.target});
  return *this;
}
ModelBuilder& ModelBuilder::loss(MeanSquaredError loss) {
  if (!model_.update) model_.update.emplace();
  model_.update->losses.push_back(
      {loss.name, LossType::kMeanSquaredError, loss.input, loss.target});
  return *this;
}
ModelBuilder& ModelBuilder::optimizer(Sgd sgd) {
  if (!model_.update) model_.update.emplace();
  model_.update->optimizer = sgd;
  return *this;
}
ModelBuilder& ModelBuilder::optimizer(Adam adam) {
  if (!model_.update) model_.update.emplace();
  model_.update->optimizer = adam;
  return *this;
}
ModelBuilder& ModelBuilder::epochs(Int64Parameter epochs) {
  if (!model_.update) model_.update.emplace();
  model_.update->epochs = std::move(epochs);
  return *this;
}
ModelBuilder& ModelBuilder::shuffle(bool shuffle) {
  if (!model_.update) model_.update.emplace();
  model_.update->shuffle = shuffle;
  return *this;
}
ModelBuilder& ModelBuilder::seed(Int64Parameter seed) {
  if (!model_.update) model_.update.emplace();
  model_.update->seed = std::move(seed);
  return *this;
}
ModelBuilder& ModelBuilder::add(Layer layer) {
  model_.layers.push_back(std::move(layer));
  return *this;
}
ModelBuilder& ModelBuilder::layers(std::initializer_list<Layer> layers) {
  for (const Layer& layer : layers) add(layer);
  return *this;
}
ModelBuilder& ModelBuilder::initializer(Initializer initializer, uint64_t seed) {
  initializer_ = initializer;
  initializer_seed_ = seed;
  return *this;
}

Model ModelBuilder::build() const {
  Model model = model_;
  complete_and_infer_shapes(model);  // fills what the inputs decide; the first shape error throws
  model.parameters.assign(layout_parameters(model), 0.0f);
  validate(model);
  initialize_parameters(model, initializer_seed_, initializer_);
  return model;
}

void initialize_parameters(Model& model, uint64_t seed, Initializer initializer) {
  Rng rng(seed);
  for (Layer& layer : model.layers) {
    const std::vector<ParameterSpec> specs = layer_kind(layer).parameters(layer);
    for (size_t p = 0; p < specs.size() && p < layer.parameters.size(); ++p) {
      const ParameterSpec& spec = specs[p];
      float* values = model.data(layer.parameters[p]);
      const size_t count = layer.parameters[p].slice.size;
      if (!spec.random) {
        std::fill_n(values, count, spec.value);
        continue;
      }
      const double limit = initializer == Initializer::kHeUniform
                               ? std::sqrt(6.0 / double(spec.fan_in))
                               : std::sqrt(6.0 / double(spec.fan_in + spec.fan_out));
      for (size_t i = 0; i < count; ++i) values[i] = float((2.0 * rng.uniform() - 1.0) * limit);
    }
  }
}

ModelBuilder digit_classifier_frame(const std::string& description, const std::string& name,
                                    Optimizer optimizer, Int64Parameter epochs,
                                    Initializer initializer, uint64_t seed) {
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
      .epochs(std::move(epochs))
      .shuffle(true)
      .initializer(initializer, seed);
  std::visit([&](auto& chosen) { builder.optimizer(std::move(chosen)); }, optimizer);
  return builder;
}

namespace {

// LeNet's and small_resnet()'s frame: Adam, with the options' learning rate.
ModelBuilder classifier_frame(const std::string& description, const std::string& name,
                              const LenetOptions& options, Int64Parameter batch_size,
                              Int64Parameter epochs) {
  return digit_classifier_frame(description, name,
                                Adam{.learning_rate = {options.learning_rate, {{0.0, 0.3}}},
                                     .mini_batch_size = std::move(batch_size),
                                     .beta1 = {0.9, {{0.0, 1.0}}},
                                     .beta2 = {0.999, {{0.0, 1.0}}},
                                     .eps = {1e-8, {{0.0, 1e-8}}}},
                                std::move(epochs), options.initializer, options.seed);
}

}  // namespace

Model lenet(const LenetOptions& options) {
  // The batch size and epochs as one-value allowed sets, as the seed declares them.
  return classifier_frame("MNIST-Trainable", "lenet", options,
                          {options.batch_size, std::nullopt, {options.batch_size}},
                          {options.epochs, std::nullopt, {options.epochs}})
      .layers({
          {"conv1", "image", "outConv1", Convolution{.output_channels = 32, .kernel_size = {3, 3}},
           kUpdatable},
          {"relu1", "outConv1", "outRelu1", ReLU()},
          {"pooling1", "outRelu1", "outPooling1",
           Pooling{.type = PoolingType::kMax, .kernel_size = {2, 2}, .stride = {2, 2}}},
          {"conv2", "outPooling1", "outConv2",
           Convolution{.output_channels = 32, .kernel_size = {2, 2}}, kUpdatable},
          {"relu2", "outConv2", "outRelu2", ReLU()},
          {"pooling2", "outRelu2", "outPooling2",
           Pooling{.type = PoolingType::kMax, .kernel_size = {2, 2}, .stride = {2, 2}}},
          {"flatten1", "outPooling2", "outFlatten1", Flatten{.order = FlattenOrder::kChannelLast}},
          {"hidden1", "outFlatten1", "outHidden1", InnerProduct{.output_channels = 500},
           kUpdatable},
          {"relu3", "outHidden1", "outRelu3", ReLU()},
          {"hidden2", "outRelu3", "outHidden2", InnerProduct{.output_channels = 10}, kUpdatable},
          {"softmax", "outHidden2", "output", Softmax{}},
      })
      .build();
}

// Shapes per sample.
Model small_resnet(const LenetOptions& options) {
  const Convolution block_conv{
      .output_channels = 32, .kernel_size = {3, 3}, .padding = Padding::kSame, .has_bias = false};
  return classifier_frame("small residual CNN for 28x28 images (Fashion-MNIST)", "small-resnet",
                          options, {options.batch_size, {{1, 4096}}}, {options.epochs, {{1, 1000}}})
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
      .build();
}

}  // namespace edgetrain
