// The model: metadata, features, layers, update parameters and one contiguous parameter block.
// A model is data built at run time; the trainer, the evaluator and the file writers all walk it.
//
// Declaring the seed's LeNet (lenet() in src/nn/builder.cpp holds the whole of it):
//
//   using namespace edgetrain;
//   Model model = ModelBuilder()
//       .metadata({.specification_version = 4, .short_description = "MNIST-Trainable",
//                  .license = "MIT"})
//       .input("image", {1, 28, 28})
//       .output("output", {10})
//       .training_input("image", {1, 28, 28})
//       .training_input("output_true", {1}, FeatureType::kInt32)
//       .loss(CategoricalCrossEntropy{.name = "lossLayer", .input = "output",
//                                     .target = "output_true"})
//       .optimizer(Adam{.learning_rate = {0.001, {{0.0, 0.3}}},
//                       .mini_batch_size = {128, std::nullopt, {128}}})
//       .epochs({10, std::nullopt, {10}})
//       .shuffle(true)
//       .layers({
//           {"conv1", "image", "outConv1", Convolution{.output_channels = 32}, kUpdatable},
//           {"relu1", "outConv1", "outRelu1", ReLU()},
//           ...
//           {"softmax", "outHidden2", "output", Softmax{}},
//       })
//       .build();
//
// build() infers and checks every shape (an error names the layer, its index and both shapes) and
// initialises the weights (seeded He-uniform unless told otherwise).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <utility>
#include <vector>

#include "edgetrain/layers.h"

namespace edgetrain {

// ---- Features -----------------------------------------------------------------------------------
// Core ML feature types: multi-arrays (float32, double, int32), int64 and string scalars (class
// labels), images, and dictionaries (class label → probability).
enum class FeatureType { kFloat32, kDouble, kInt32, kInt64, kString, kImage, kDictionary };
enum class ColorSpace { kGrayscale, kRGB, kBGR };

struct ImageFormat {
  ColorSpace color_space = ColorSpace::kGrayscale;
  int64_t width = 0, height = 0;
};

struct Feature {
  std::string name;
  std::vector<int64_t> shape;  // multi-arrays: per sample, e.g. {1, 28, 28} (C, H, W) or {10}
  FeatureType type = FeatureType::kFloat32;
  std::string description;
  ImageFormat image;                               // kImage only
  FeatureType dictionary_key = FeatureType::kInt64;  // kDictionary only: kInt64 or kString
  bool optional = false;
};

// Core ML's image scaler, applied to an image input before the first layer:
// value = channel_scale * pixel + bias of the pixel's channel (pixels are raw 0-255).
struct ImageScaler {
  std::string feature_name;
  float channel_scale = 1.0f;
  float gray_bias = 0.0f, red_bias = 0.0f, green_bias = 0.0f, blue_bias = 0.0f;
};

// What kind of Core ML model this is: a plain neural network, a classifier (class labels plus a
// probabilities dictionary as outputs) or a regressor.
enum class ModelKind { kNeuralNetwork, kClassifier, kRegressor };

struct ClassLabels {
  std::vector<int64_t> int_labels;        // one of these two is set, one label per class
  std::vector<std::string> string_labels;
  size_t size() const { return int_labels.empty() ? string_labels.size() : int_labels.size(); }
};

struct Metadata {
  int specification_version = 4;
  std::string short_description;
  std::string author;
  std::string license;
  std::string version_string;
  std::map<std::string, std::string> user_defined;
  std::string predicted_feature_name;        // classifiers: the class-label output
  std::string predicted_probabilities_name;  // classifiers: the probabilities output
};

// ---- Shapes -------------------------------------------------------------------------------------
// A per-sample tensor shape of rank 1 to 5 (the batch is never part of it), e.g. {1, 28, 28}
// (C, H, W) or {10}.
class Shape {
 public:
  static constexpr int kMaxRank = 5;
  Shape() = default;
  Shape(std::initializer_list<int> dimensions);
  explicit Shape(const std::vector<int64_t>& dimensions);  // throws Error beyond rank 5 or int range

  int rank() const { return rank_; }
  int operator[](int axis) const { return dims_[size_t(axis)]; }
  int& operator[](int axis) { return dims_[size_t(axis)]; }
  int back() const { return dims_[size_t(rank_ - 1)]; }
  int64_t count() const;  // values in one sample
  std::vector<int64_t> dims() const;
  bool operator==(const Shape& other) const;
  std::string text() const;  // "[1, 28, 28]"

 private:
  std::array<int, kMaxRank> dims_{};
  int rank_ = 0;
};

// ---- Layers -------------------------------------------------------------------------------------
// A span of the model's parameter block.
struct ParameterSlice {
  size_t offset = 0;
  size_t size = 0;
};

// What a parameter tensor is for: trained when its layer is updatable, or state that training
// updates itself (batch norm's running mean and variance), or fixed.
enum class ParameterRole { kTrainable, kState, kConstant };

// One named tensor of a layer ("weights", "bias", "gamma", "mean", ...), as Core ML stores it.
struct LayerParameter {
  std::string name;
  std::vector<int64_t> shape;  // e.g. convolution weights (out, in / groups, kh, kw)
  ParameterSlice slice;        // its values in Model::parameters
  ParameterRole role = ParameterRole::kTrainable;
  // The file's own isUpdatable flag of these weights (Core ML's WeightParams), kept only when a
  // file sets it apart from its layer's; unset, it follows the layer.
  std::optional<bool> file_updatable;
};

// Blob names a layer reads or writes: one name, or a braced list of them.
struct BlobNames : std::vector<std::string> {
  BlobNames() = default;
  BlobNames(const char* name) : std::vector<std::string>{name} {}
  BlobNames(std::string name) : std::vector<std::string>{std::move(name)} {}
  BlobNames(std::initializer_list<std::string> names) : std::vector<std::string>(names) {}
  BlobNames(std::vector<std::string> names) : std::vector<std::string>(std::move(names)) {}
};

inline constexpr bool kUpdatable = true;

struct Layer {
  Layer() = default;
  // {"conv1", "image", "outConv1", Convolution{.output_channels = 32}, kUpdatable}
  Layer(std::string name, BlobNames inputs, BlobNames outputs, LayerParams params,
        bool updatable = false)
      : name(std::move(name)),
        inputs(std::move(inputs)),
        outputs(std::move(outputs)),
        params(std::move(params)),
        updatable(updatable) {}

  std::string name;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  LayerParams params;
  // Its trainable parameters are updated by training (Core ML: convolution and inner product).
  bool updatable = false;
  // Laid out by ModelBuilder::build() or the file reader, in the kind's order.
  std::vector<LayerParameter> parameters;
  // Read from a file whose weights were quantised or half precision (they are widened to float32
  // here); Core ML cannot update such a layer.
  bool quantized = false;

  const LayerParameter* parameter(const std::string& parameter_name) const;  // null if absent
  bool marked_updatable(const LayerParameter& parameter) const {
    return parameter.file_updatable.value_or(updatable);
  }
};

// "convolution", "pooling", ... : the Core ML layer-type name, for messages.
const char* layer_type_name(const Layer& layer);

// ---- Update parameters (Core ML's NetworkUpdateParameters) --------------------------------------
// `present` is false only for a parameter a file leaves out; Core ML requires every optimizer
// parameter and the epochs (validate_coreml reports the missing ones).
// Constructors rather than aggregates, so `{64, {{1, 1024}}}` leaves no field uninitialised in a
// user's -Wextra build (-Wmissing-field-initializers).
struct DoubleParameter {
  double default_value = 0.0;
  std::optional<std::array<double, 2>> range;  // allowed [min, max]
  bool present = true;

  DoubleParameter() = default;
  DoubleParameter(double default_value_, std::optional<std::array<double, 2>> range_ = {})
      : default_value(default_value_), range(range_) {}
};
// Both parameter kinds list their fields in the same order: default, range, then (integers only)
// a set of allowed values, so {64, {{1, 1024}}} is a range for either.
struct Int64Parameter {
  int64_t default_value = 0;
  std::optional<std::array<int64_t, 2>> range;  // allowed [min, max], or
  std::vector<int64_t> set;                     // allowed values
  bool present = true;

  Int64Parameter() = default;
  Int64Parameter(int64_t default_value_, std::optional<std::array<int64_t, 2>> range_ = {},
                 std::vector<int64_t> set_ = {})
      : default_value(default_value_), range(range_), set(std::move(set_)) {}
};

enum class LossType { kCategoricalCrossEntropy, kMeanSquaredError };
struct Loss {
  std::string name;
  LossType type = LossType::kCategoricalCrossEntropy;
  std::string input;   // the network blob the loss reads
  std::string target;  // a training input
};


struct Sgd {
  DoubleParameter learning_rate{0.01, std::array<double, 2>{0.0, 1.0}};
  Int64Parameter mini_batch_size{32, std::array<int64_t, 2>{1, 4096}};
  DoubleParameter momentum{0.0, std::array<double, 2>{0.0, 1.0}};
};
struct Adam {
  DoubleParameter learning_rate{0.001, std::array<double, 2>{0.0, 1.0}};
  Int64Parameter mini_batch_size{128, std::array<int64_t, 2>{1, 4096}};
  DoubleParameter beta1{0.9, std::array<double, 2>{0.0, 1.0}};
  DoubleParameter beta2{0.999, std::array<double, 2>{0.0, 1.0}};
  DoubleParameter eps{1e-8, std::array<double, 2>{0.0, 1.0}};
};

using Optimizer = std::variant<Sgd, Adam>;
// Which of the two, where only the choice matters (resolved settings, make_updatable).
enum class OptimizerKind { kSgd, kAdam };

struct UpdateParameters {
  std::vector<Loss> losses;
  Optimizer optimizer = Adam{};
  Int64Parameter epochs{10, std::array<int64_t, 2>{1, 1000}};
  bool shuffle = true;
  std::optional<Int64Parameter> seed;
};

// ---- The model ----------------------------------------------------------------------------------
struct Model {
  Metadata metadata;
  ModelKind kind = ModelKind::kNeuralNetwork;
  ClassLabels class_labels;                // kClassifier only
  // kClassifier: the blob holding the class probabilities (Core ML's labelProbabilityLayerName);
  // empty means the last layer's output. Core ML derives the predicted-label and probabilities
  // outputs (Metadata::predicted_*_name) from it.
  std::string label_probability_layer;
  std::vector<ImageScaler> preprocessing;  // image inputs only
  std::vector<Feature> inputs;
  std::vector<Feature> outputs;
  std::vector<Feature> training_inputs;
  std::vector<Layer> layers;  // in an order where each reads only inputs and earlier layers' outputs
  std::optional<UpdateParameters> update;  // present ⇔ the model is updatable
  // Core ML's arrayInputShapeMapping: false (RANK5_ARRAY_MAPPING, the default) gives a multi-array
  // input of shape [C] to the layers as (C, 1, 1); true (EXACT_ARRAY_MAPPING) keeps its rank, and
  // inner product then contracts only its last dimension.
  bool exact_array_mapping = false;
  bool rank4_image_mapping = false;  // Core ML's imageInputShapeMapping, kept for writing back
  std::vector<float> parameters;     // every layer's parameter tensors, one block

  float* data(const ParameterSlice& slice) { return parameters.data() + slice.offset; }
  const float* data(const ParameterSlice& slice) const { return parameters.data() + slice.offset; }
  float* data(const LayerParameter& parameter) { return data(parameter.slice); }
  const float* data(const LayerParameter& parameter) const { return data(parameter.slice); }
  size_t parameter_count() const { return parameters.size(); }
  const Layer& layer(const std::string& name) const;  // throws Error naming the missing layer
};

// Per-sample shapes of every blob (inputs and layer outputs). Under the default (rank-5) mapping a
// multi-array input of shape {n} is (n, 1, 1) and an image (C, H, W). Throws Error on any
// inconsistency, naming the layer, its index and both shapes.
using BlobShapes = std::map<std::string, Shape>;
BlobShapes infer_shapes(const Model& model);

// Checks the whole model (shapes, names, losses, update parameters, parameter block size).
void validate(const Model& model);

enum class Initializer { kHeUniform, kGlorotUniform };
// Fills every weight with a seeded uniform draw (fan-in and fan-out as the layer kind defines them)
// and every other parameter with its kind's neutral value (biases 0, batch-norm scale 1, ...).
void initialize_parameters(Model& model, uint64_t seed, Initializer initializer);

// ---- The builder --------------------------------------------------------------------------------
struct CategoricalCrossEntropy {
  std::string name, input, target;
};
struct MeanSquaredError {
  std::string name, input, target;
};
class ModelBuilder {
 public:
  ModelBuilder& metadata(Metadata metadata);
  ModelBuilder& input(std::string name, std::vector<int64_t> shape,
                      FeatureType type = FeatureType::kFloat32);
  ModelBuilder& output(std::string name, std::vector<int64_t> shape,
                       FeatureType type = FeatureType::kFloat32);
  ModelBuilder& training_input(std::string name, std::vector<int64_t> shape,
                               FeatureType type = FeatureType::kFloat32);
  ModelBuilder& loss(CategoricalCrossEntropy loss);
  ModelBuilder& loss(MeanSquaredError loss);
  ModelBuilder& optimizer(Sgd sgd);
  ModelBuilder& optimizer(Adam adam);
  ModelBuilder& epochs(Int64Parameter epochs);
  ModelBuilder& shuffle(bool shuffle);
  ModelBuilder& seed(Int64Parameter seed);
  // Adds one layer (the programmatic API), or many in order:
  //   .layers({{"conv1", "image", "outConv1", Convolution{.output_channels = 32}, kUpdatable},
  //            {"relu1", "outConv1", "outRelu1", ReLU()}})
  // What the inputs' shapes determine (a convolution's kernel channels, an inner product's input
  // channels) may be left 0: build() fills it in.
  ModelBuilder& add(Layer layer);
  ModelBuilder& layers(std::initializer_list<Layer> layers);
  // Initialisation used by build().
  ModelBuilder& initializer(Initializer initializer, uint64_t seed = 42);

  // Checks everything, lays out and initialises the parameter block. Throws Error.
  Model build() const;

 private:
  Model model_;
  Initializer initializer_ = Initializer::kHeUniform;
  uint64_t initializer_seed_ = 42;
};

// The seed's MNIST LeNet (585,958 parameters): conv 32@3x3, ReLU, max-pool 2x2/2, conv 32@2x2, ReLU,
// max-pool 2x2/2, flatten (channel-last), dense 500, ReLU, dense 10, softmax; Adam, cross-entropy,
// shuffle. The options become the model's update defaults (the batch size and epochs as one-value
// allowed sets, as the seed declares them) and the initialisation seed.
struct LenetOptions {
  double learning_rate = 1e-3;  // the seed's TensorFlow baseline; its Swift model declares 1e-4
  int64_t batch_size = 128;
  int64_t epochs = 10;
  // Test accuracy after 10 MNIST epochs on 2 threads moves by a few tenths of a percent from seed
  // to seed (README, Results). Measured with the fused convolution kernels, seeds 1, 2, 3, 42:
  // Glorot-uniform 0.9909, 0.9901, 0.9918, 0.9873 (mean 0.9900); He-uniform 0.9880, 0.9893,
  // 0.9898, 0.9898 (mean 0.9892).
  uint64_t seed = 1;
  // Glorot-uniform, Keras's default, as in the seed's TensorFlow baseline (and the better of the
  // two above); He-uniform is what the PyTorch comparison uses.
  Initializer initializer = Initializer::kGlorotUniform;
};
Model lenet(const LenetOptions& options = {});

}  // namespace edgetrain
