// ModelBuilder: turns the declarative layer descriptions into Model layers, lays out the parameter
// block, validates and initialises. Also the seed's LeNet.
#include <cmath>
#include <type_traits>

#include "edgetrain/error.h"
#include "edgetrain/model.h"
#include "nn/shapes.h"
#include "base/rng.h"

namespace edgetrain {
namespace {

Layer to_layer(const LayerDescription& description) {
  return std::visit(
      [](const auto& d) -> Layer {
        using T = std::decay_t<decltype(d)>;
        Layer layer{.name = d.name, .inputs = {d.input}, .outputs = {d.output}};
        if constexpr (std::is_same_v<T, Convolution>) {
          layer.updatable = d.updatable;
          layer.params = ConvolutionParams{.output_channels = d.output_channels,
                                           .kernel_channels = d.kernel_channels,
                                           .groups = d.groups,
                                           .kernel_size = d.kernel_size,
                                           .stride = d.stride,
                                           .dilation = d.dilation,
                                           .padding = d.padding,
                                           .has_bias = d.has_bias};
        } else if constexpr (std::is_same_v<T, Pooling>) {
          layer.params = PoolingParams{.type = d.type,
                                       .kernel_size = d.kernel_size,
                                       .stride = d.stride,
                                       .padding = d.padding,
                                       .global = d.global,
                                       .average_excludes_padding = d.average_excludes_padding};
        } else if constexpr (std::is_same_v<T, ReLU>) {
          layer.params = ActivationParams{.type = ActivationType::kReLU};
        } else if constexpr (std::is_same_v<T, Sigmoid>) {
          layer.params = ActivationParams{.type = ActivationType::kSigmoid};
        } else if constexpr (std::is_same_v<T, Tanh>) {
          layer.params = ActivationParams{.type = ActivationType::kTanh};
        } else if constexpr (std::is_same_v<T, Linear>) {
          layer.params =
              ActivationParams{.type = ActivationType::kLinear, .alpha = d.alpha, .beta = d.beta};
        } else if constexpr (std::is_same_v<T, Flatten>) {
          layer.params = FlattenParams{.order = d.order};
        } else if constexpr (std::is_same_v<T, InnerProduct>) {
          layer.updatable = d.updatable;
          layer.params = InnerProductParams{.input_channels = d.input_channels,
                                            .output_channels = d.output_channels,
                                            .has_bias = d.has_bias};
        } else {
          static_assert(std::is_same_v<T, Softmax>);
          layer.params = SoftmaxParams{};
        }
        return layer;
      },
      description);
}

size_t checked_product(std::initializer_list<int> factors, const Layer& layer) {
  size_t product = 1;
  for (int factor : factors) {
    if (factor < 0 || __builtin_mul_overflow(product, size_t(factor), &product)) {
      throw Error("layer '" + layer.name + "' (" + layer_type_name(layer) +
                  "): its parameter count overflows");
    }
  }
  return product;
}

// Weight and bias sizes of a layer, from its parameters alone.
std::pair<size_t, size_t> parameter_sizes(const Layer& layer) {
  if (auto* conv = std::get_if<ConvolutionParams>(&layer.params)) {
    size_t weights = checked_product({conv->output_channels, conv->kernel_channels,
                                      conv->kernel_size[0], conv->kernel_size[1]}, layer);
    return {weights, conv->has_bias ? size_t(conv->output_channels) : 0};
  }
  if (auto* dense = std::get_if<InnerProductParams>(&layer.params)) {
    size_t weights = checked_product({dense->output_channels, dense->input_channels}, layer);
    return {weights, dense->has_bias ? size_t(dense->output_channels) : 0};
  }
  return {0, 0};
}

void check_positive(const Layer& layer, size_t index, const char* field, int value) {
  if (value <= 0) {
    throw Error("layer " + std::to_string(index) + " '" + layer.name + "' (" +
                layer_type_name(layer) + "): " + field + " must be positive, got " +
                std::to_string(value));
  }
}

}  // namespace

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
  model_.update->losses.push_back({loss.name, LossType::kMeanSquaredError, loss.input, loss.target});
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
ModelBuilder& ModelBuilder::add(const LayerDescription& layer) {
  model_.layers.push_back(to_layer(layer));
  return *this;
}
ModelBuilder& ModelBuilder::layers(std::initializer_list<LayerDescription> layers) {
  for (const auto& layer : layers) add(layer);
  return *this;
}
ModelBuilder& ModelBuilder::initializer(Initializer initializer, uint64_t seed) {
  initializer_ = initializer;
  initializer_seed_ = seed;
  return *this;
}

size_t layout_parameters(Model& model) {
  // Layer order, weight then bias, so the block reads like the network.
  size_t offset = 0;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    Layer& layer = model.layers[i];
    if (auto* conv = std::get_if<ConvolutionParams>(&layer.params)) {
      check_positive(layer, i, "outputChannels", conv->output_channels);
      check_positive(layer, i, "kernelChannels", conv->kernel_channels);
      check_positive(layer, i, "kernel height", conv->kernel_size[0]);
      check_positive(layer, i, "kernel width", conv->kernel_size[1]);
    } else if (auto* dense = std::get_if<InnerProductParams>(&layer.params)) {
      check_positive(layer, i, "inputChannels", dense->input_channels);
      check_positive(layer, i, "outputChannels", dense->output_channels);
    }
    auto [weights, biases] = parameter_sizes(layer);
    layer.weight = {offset, weights};
    layer.bias = {offset + weights, biases};
    if (__builtin_add_overflow(offset, weights + biases, &offset) || offset > (size_t(1) << 40)) {
      throw Error("layer '" + layer.name + "': the model's parameter count is too large");
    }
  }
  return offset;
}

Model ModelBuilder::build() const {
  Model model = model_;
  model.parameters.assign(layout_parameters(model), 0.0f);
  validate(model);
  initialize_parameters(model, initializer_seed_, initializer_);
  return model;
}

void initialize_parameters(Model& model, uint64_t seed, Initializer initializer) {
  Rng rng(seed);
  for (Layer& layer : model.layers) {
    if (layer.weight.size == 0) continue;
    size_t fan_in = 0, fan_out = 0;
    if (auto* conv = std::get_if<ConvolutionParams>(&layer.params)) {
      size_t kernel_area = size_t(conv->kernel_size[0]) * conv->kernel_size[1];
      fan_in = size_t(conv->kernel_channels) * kernel_area;
      fan_out = size_t(conv->output_channels) / size_t(conv->groups) * kernel_area;
    } else if (auto* dense = std::get_if<InnerProductParams>(&layer.params)) {
      fan_in = size_t(dense->input_channels);
      fan_out = size_t(dense->output_channels);
    }
    double limit = initializer == Initializer::kHeUniform ? std::sqrt(6.0 / double(fan_in))
                                                          : std::sqrt(6.0 / double(fan_in + fan_out));
    float* weight = model.data(layer.weight);
    for (size_t i = 0; i < layer.weight.size; ++i) {
      weight[i] = float((2.0 * rng.uniform() - 1.0) * limit);
    }
    float* bias = model.data(layer.bias);
    for (size_t i = 0; i < layer.bias.size; ++i) bias[i] = 0.0f;
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
      .loss(CategoricalCrossEntropy{.name = "lossLayer", .input = "output", .target = "output_true"})
      .optimizer(Adam{.learning_rate = {options.learning_rate, {{0.0, 0.3}}},
                      .mini_batch_size = {options.batch_size, {options.batch_size}, std::nullopt},
                      .beta1 = {0.9, {{0.0, 1.0}}},
                      .beta2 = {0.999, {{0.0, 1.0}}},
                      .eps = {1e-8, {{0.0, 1e-8}}}})
      .epochs({options.epochs, {options.epochs}, std::nullopt})
      .shuffle(true)
      .layers({
          Convolution{.name = "conv1", .input = "image", .output = "outConv1",
                      .output_channels = 32, .kernel_channels = 1, .kernel_size = {3, 3},
                      .padding = Padding::kValid, .updatable = true},
          ReLU{.name = "relu1", .input = "outConv1", .output = "outRelu1"},
          Pooling{.name = "pooling1", .input = "outRelu1", .output = "outPooling1",
                  .type = PoolingType::kMax, .kernel_size = {2, 2}, .stride = {2, 2}},
          Convolution{.name = "conv2", .input = "outPooling1", .output = "outConv2",
                      .output_channels = 32, .kernel_channels = 32, .kernel_size = {2, 2},
                      .padding = Padding::kValid, .updatable = true},
          ReLU{.name = "relu2", .input = "outConv2", .output = "outRelu2"},
          Pooling{.name = "pooling2", .input = "outRelu2", .output = "outPooling2",
                  .type = PoolingType::kMax, .kernel_size = {2, 2}, .stride = {2, 2}},
          Flatten{.name = "flatten1", .input = "outPooling2", .output = "outFlatten1",
                  .order = FlattenOrder::kChannelLast},
          InnerProduct{.name = "hidden1", .input = "outFlatten1", .output = "outHidden1",
                       .input_channels = 1152, .output_channels = 500, .updatable = true},
          ReLU{.name = "relu3", .input = "outHidden1", .output = "outRelu3"},
          InnerProduct{.name = "hidden2", .input = "outRelu3", .output = "outHidden2",
                       .input_channels = 500, .output_channels = 10, .updatable = true},
          Softmax{.name = "softmax", .input = "outHidden2", .output = "output"},
      })
      .initializer(options.initializer, options.seed)
      .build();
}

}  // namespace edgetrain
