// ModelBuilder: turns the declarative layer descriptions into Model layers, lays out the parameter
// block, validates and initialises. Also the seed's LeNet.
#include <algorithm>
#include <cmath>

#include "base/rng.h"
#include "edgetrain/error.h"
#include "edgetrain/model.h"
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

Model lenet(const LenetOptions& options) {
  return ModelBuilder()
      .metadata({.specification_version = 4,
                 .short_description = "MNIST-Trainable",
                 .author = "edgetrain",
                 .license = "MIT",
                 .user_defined = {{"edgetrainModel", "lenet"}}})
      .input("image", {1, 28, 28})
      .output("output", {10})
      .training_input("image", {1, 28, 28})
      .training_input("output_true", {1}, FeatureType::kInt32)
      .loss(
          CategoricalCrossEntropy{.name = "lossLayer", .input = "output", .target = "output_true"})
      .optimizer(Adam{.learning_rate = {options.learning_rate, {{0.0, 0.3}}},
                      .mini_batch_size = {options.batch_size, std::nullopt, {options.batch_size}},
                      .beta1 = {0.9, {{0.0, 1.0}}},
                      .beta2 = {0.999, {{0.0, 1.0}}},
                      .eps = {1e-8, {{0.0, 1e-8}}}})
      .epochs({options.epochs, std::nullopt, {options.epochs}})
      .shuffle(true)
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
      .initializer(options.initializer, options.seed)
      .build();
}

}  // namespace edgetrain
