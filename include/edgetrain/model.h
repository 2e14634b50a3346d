/**
 * @file model.h
 * @brief The model: metadata, features, layers, update parameters and one contiguous parameter
 * block.
 *
 * A model is data built at run time; the trainer, the evaluator and the file writers all walk it.
 *
 * Declaring the seed's LeNet (lenet() in src/nn/builder.cpp holds the whole of it):
 *
 * @code
 * using namespace edgetrain;
 * Model model = ModelBuilder()
 *     .metadata({.specification_version = 4, .short_description = "MNIST-Trainable",
 *                .license = "MIT"})
 *     .input("image", {1, 28, 28})
 *     .output("output", {10})
 *     .training_input("image", {1, 28, 28})
 *     .training_input("output_true", {1}, FeatureType::kInt32)
 *     .loss(CategoricalCrossEntropy{.name = "lossLayer", .input = "output",
 *                                   .target = "output_true"})
 *     .optimizer(Adam{.learning_rate = {0.001, {{0.0, 0.3}}},
 *                     .mini_batch_size = {128, std::nullopt, {128}}})
 *     .epochs({10, std::nullopt, {10}})
 *     .shuffle(true)
 *     .layers({
 *         {"conv1", "image", "outConv1", Convolution{.output_channels = 32}, kUpdatable},
 *         {"relu1", "outConv1", "outRelu1", ReLU()},
 *         ...
 *         {"softmax", "outHidden2", "output", Softmax{}},
 *     })
 *     .build();
 * @endcode
 *
 * build() infers and checks every shape (an error names the layer, its index and both shapes) and
 * initialises the weights (seeded He-uniform unless told otherwise).
 */
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
/**
 * Core ML feature types: multi-arrays (float32, double, int32), int64 and string scalars (class
 * labels), images, and dictionaries (class label → probability).
 */
enum class FeatureType {
  kFloat32,    ///< Multi-array of float32.
  kDouble,     ///< Multi-array of float64 (the network computes in float32).
  kInt32,      ///< Multi-array of int32 (a cross-entropy target: the class index).
  kInt64,      ///< Int64 scalar: a classifier's class label.
  kString,     ///< String scalar: a classifier's class label.
  kImage,      ///< Image (Feature::image gives its size and colour space).
  kDictionary  ///< Class label → probability: a classifier's probabilities.
};
/** The pixel layout of an image feature. */
enum class ColorSpace {
  kGrayscale,  ///< One channel.
  kRGB,        ///< Three channels, red first.
  kBGR         ///< Three channels, blue first.
};

/** An image feature's size and colour space. */
struct ImageFormat {
  ColorSpace color_space = ColorSpace::kGrayscale;  ///< The channels, as (C, H, W) with C 1 or 3.
  /// Size in pixels.
  ///@{
  int64_t width = 0, height = 0;
  ///@}
};

/** One input, output or training input of a model, as Core ML's FeatureDescription. */
struct Feature {
  std::string name;            ///< The feature's name, also the blob the layers read or write.
  std::vector<int64_t> shape;  ///< Multi-arrays: per sample, e.g. {1, 28, 28} (C, H, W) or {10}.
  FeatureType type = FeatureType::kFloat32;          ///< Its Core ML type.
  std::string description;                           ///< Free text (Xcode shows it).
  ImageFormat image;                                 ///< kImage only.
  FeatureType dictionary_key = FeatureType::kInt64;  ///< kDictionary only: kInt64 or kString.
  bool optional = false;  ///< Core ML's isOptional: the caller may leave it out.
};

/**
 * Core ML's image scaler, applied to an image input before the first layer:
 * value = channel_scale * pixel + bias of the pixel's channel (pixels are raw 0-255).
 */
struct ImageScaler {
  std::string feature_name;    ///< The image input it applies to.
  float channel_scale = 1.0f;  ///< Multiplies every raw pixel, e.g. 1/255.
  /// Added per channel after scaling: gray for a grayscale image, else red, green and blue.
  ///@{
  float gray_bias = 0.0f, red_bias = 0.0f, green_bias = 0.0f, blue_bias = 0.0f;
  ///@}
};

/**
 * What kind of Core ML model this is: a plain neural network, a classifier (class labels plus a
 * probabilities dictionary as outputs) or a regressor.
 */
enum class ModelKind {
  kNeuralNetwork,  ///< Core ML's neuralNetwork.
  kClassifier,     ///< Core ML's neuralNetworkClassifier.
  kRegressor       ///< Core ML's neuralNetworkRegressor.
};

/** A classifier's class labels, one per class, in the order of its probabilities. */
struct ClassLabels {
  /// One of these two is set, one label per class.
  ///@{
  std::vector<int64_t> int_labels;
  std::vector<std::string> string_labels;
  ///@}
  /** Classes: the labels in the one that is set. */
  size_t size() const { return int_labels.empty() ? string_labels.size() : int_labels.size(); }
};

/** The model's description, as Core ML's Metadata and ModelDescription keep it. */
struct Metadata {
  int specification_version = 4;  ///< Core ML's format version; updatable models need 4 or more.
  /// Core ML's metadata, free text shown by Xcode.
  ///@{
  std::string short_description;
  std::string author;
  std::string license;
  std::string version_string;
  ///@}
  std::map<std::string, std::string> user_defined;  ///< Core ML's userDefined key-value pairs.
  std::string predicted_feature_name;               ///< Classifiers: the class-label output.
  std::string predicted_probabilities_name;         ///< Classifiers: the probabilities output.
};

// ---- Shapes -------------------------------------------------------------------------------------
/**
 * A per-sample tensor shape of rank 1 to 5 (the batch is never part of it), e.g. {1, 28, 28}
 * (C, H, W) or {10}.
 */
class Shape {
 public:
  static constexpr int kMaxRank = 5;  ///< The highest rank.
  Shape() = default;                  ///< Rank 0: no shape yet.
  /** Literal dimensions, 1 to kMaxRank of them (checked by assert only). */
  Shape(std::initializer_list<int> dimensions);
  /** Dimensions read from a file or a user: throws Error beyond rank 5 or int range. */
  explicit Shape(const std::vector<int64_t>& dimensions);

  int rank() const { return rank_; }  ///< Dimensions, 1 to 5 (0 when default-made).
  /// Dimension `axis`, from 0 (unchecked: axis < rank()).
  ///@{
  int operator[](int axis) const { return dims_[size_t(axis)]; }
  int& operator[](int axis) { return dims_[size_t(axis)]; }
  ///@}
  int back() const { return dims_[size_t(rank_ - 1)]; }  ///< The last dimension.
  int64_t count() const;                                 ///< Values in one sample.
  std::vector<int64_t> dims() const;                     ///< The rank() dimensions.
  bool operator==(const Shape& other) const;             ///< Same rank and dimensions.
  std::string text() const;                              ///< "[1, 28, 28]", for messages.

 private:
  std::array<int, kMaxRank> dims_{};
  int rank_ = 0;
};

// ---- Layers -------------------------------------------------------------------------------------
/** A span of the model's parameter block. */
struct ParameterSlice {
  size_t offset = 0;  ///< First value, an index into Model::parameters.
  size_t size = 0;    ///< Values.
};

/**
 * What a parameter tensor is for: trained when its layer is updatable, or state that training
 * updates itself (batch norm's running mean and variance), or fixed.
 */
enum class ParameterRole {
  kTrainable,  ///< Updated by the optimizer when its layer is updatable.
  kState,      ///< Updated by training itself, not by gradients (running statistics).
  kConstant    ///< Never changed by training (loadConstant's data).
};

/** One named tensor of a layer ("weights", "bias", "gamma", "mean", ...), as Core ML stores it. */
struct LayerParameter {
  std::string name;            ///< "weights", "bias", ...: unique within its layer.
  std::vector<int64_t> shape;  ///< E.g. convolution weights (out, in / groups, kh, kw).
  ParameterSlice slice;        ///< Its values in Model::parameters.
  ParameterRole role = ParameterRole::kTrainable;  ///< What training does with it.
  /**
   * The file's own isUpdatable flag of these weights (Core ML's WeightParams), kept only when a
   * file sets it apart from its layer's; unset, it follows the layer.
   */
  std::optional<bool> file_updatable;
};

/** Blob names a layer reads or writes: one name, or a braced list of them. */
struct BlobNames : std::vector<std::string> {
  BlobNames() = default;  ///< No blob (loadConstant reads none).
  /// One blob ("image"), or several ({"a", "b"}): implicit, so a Layer reads like its diagram.
  ///@{
  BlobNames(const char* name) : std::vector<std::string>{name} {}
  BlobNames(std::string name) : std::vector<std::string>{std::move(name)} {}
  BlobNames(std::initializer_list<std::string> names) : std::vector<std::string>(names) {}
  BlobNames(std::vector<std::string> names) : std::vector<std::string>(std::move(names)) {}
  ///@}
};

/** Layer's last argument, for readable layer lists: `{..., Convolution{...}, kUpdatable}`. */
inline constexpr bool kUpdatable = true;

/** One layer: its kind and settings, the blobs it reads and writes, and its parameter tensors. */
struct Layer {
  Layer() = default;  ///< An empty layer, to fill field by field.
  /**
   * A layer as the builder's lists write it:
   * `{"conv1", "image", "outConv1", Convolution{.output_channels = 32}, kUpdatable}`.
   */
  Layer(std::string name, BlobNames inputs, BlobNames outputs, LayerParams params,
        bool updatable = false)
      : name(std::move(name)),
        inputs(std::move(inputs)),
        outputs(std::move(outputs)),
        params(std::move(params)),
        updatable(updatable) {}

  std::string name;                  ///< Unique in the model; errors and parameters use it.
  std::vector<std::string> inputs;   ///< Blobs it reads: model inputs or earlier layers' outputs.
  std::vector<std::string> outputs;  ///< Blobs it writes, each written by no other layer.
  LayerParams params;                ///< The kind and its settings (layers.h).
  /** Its trainable parameters are updated by training (Core ML: convolution and inner product). */
  bool updatable = false;
  /** Laid out by ModelBuilder::build() or the file reader, in the kind's order. */
  std::vector<LayerParameter> parameters;
  /**
   * Read from a file whose weights were quantised or half precision (they are widened to float32
   * here); Core ML cannot update such a layer.
   */
  bool quantized = false;

  /** The parameter tensor named `parameter_name`; null if absent. */
  const LayerParameter* parameter(const std::string& parameter_name) const;
  /** The isUpdatable flag a file gets for `parameter`: its own when set, else the layer's. */
  bool marked_updatable(const LayerParameter& parameter) const {
    return parameter.file_updatable.value_or(updatable);
  }
};

/** "convolution", "pooling", ... : the Core ML layer-type name, for messages. */
const char* layer_type_name(const Layer& layer);

// ---- Update parameters (Core ML's NetworkUpdateParameters) --------------------------------------
/**
 * A real-valued update parameter: its default and the range a user may set it in.
 *
 * `present` is false only for a parameter a file leaves out; Core ML requires every optimizer
 * parameter and the epochs (validate_coreml reports the missing ones).
 * Constructors rather than aggregates, so `{64, {{1, 1024}}}` leaves no field uninitialised in a
 * user's -Wextra build (-Wmissing-field-initializers).
 */
struct DoubleParameter {
  double default_value = 0.0;                  ///< The value training uses unless told otherwise.
  std::optional<std::array<double, 2>> range;  ///< Allowed [min, max].
  bool present = true;                         ///< False: a file left it out.

  DoubleParameter() = default;  ///< Default 0, no range.
  /** `{0.001, {{0.0, 1.0}}}`: a default and, optionally, its allowed [min, max]. */
  DoubleParameter(double default_value_, std::optional<std::array<double, 2>> range_ = {})
      : default_value(default_value_), range(range_) {}
};
/**
 * An integer update parameter (batch size, epochs, seed): its default and the range or set of
 * values a user may choose from.
 *
 * Both parameter kinds list their fields in the same order: default, range, then (integers only)
 * a set of allowed values, so {64, {{1, 1024}}} is a range for either.
 */
struct Int64Parameter {
  int64_t default_value = 0;                    ///< The value training uses unless told otherwise.
  std::optional<std::array<int64_t, 2>> range;  ///< Allowed [min, max] (a range or a set).
  std::vector<int64_t> set;                     ///< Allowed values (a set or a range).
  bool present = true;                          ///< False: a file left it out.

  Int64Parameter() = default;  ///< Default 0, no range, no set.
  /** `{64, {{1, 1024}}}` or `{32, std::nullopt, {32}}`: a default, a range, a set of values. */
  Int64Parameter(int64_t default_value_, std::optional<std::array<int64_t, 2>> range_ = {},
                 std::vector<int64_t> set_ = {})
      : default_value(default_value_), range(range_), set(std::move(set_)) {}
};

/** The loss functions Core ML can train with. */
enum class LossType {
  kCategoricalCrossEntropy,  ///< On a softmax output, against the class (index or label).
  kMeanSquaredError          ///< Against a target of the output's shape.
};
/** One loss of an updatable model (Core ML's LossLayer). */
struct Loss {
  std::string name;                                    ///< The loss layer's name.
  LossType type = LossType::kCategoricalCrossEntropy;  ///< Which loss.
  std::string input;                                   ///< The network blob the loss reads.
  std::string target;                                  ///< A training input.
};


/** Stochastic gradient descent, each field with its default and allowed range. */
struct Sgd {
  DoubleParameter learning_rate{0.01, std::array<double, 2>{0.0, 1.0}};  ///< Step size.
  Int64Parameter mini_batch_size{32, std::array<int64_t, 2>{1, 4096}};   ///< Samples a step.
  DoubleParameter momentum{0.0, std::array<double, 2>{0.0, 1.0}};        ///< 0: plain SGD.
};
/** Adam, each field with its default and allowed range. */
struct Adam {
  DoubleParameter learning_rate{0.001, std::array<double, 2>{0.0, 1.0}};  ///< Step size.
  Int64Parameter mini_batch_size{128, std::array<int64_t, 2>{1, 4096}};   ///< Samples a step.
  DoubleParameter beta1{0.9, std::array<double, 2>{0.0, 1.0}};            ///< First-moment decay.
  DoubleParameter beta2{0.999, std::array<double, 2>{0.0, 1.0}};          ///< Second-moment decay.
  /** Added to the denominator. */
  DoubleParameter eps{1e-8, std::array<double, 2>{0.0, 1.0}};
};

/** An updatable model's optimizer and its parameters. */
using Optimizer = std::variant<Sgd, Adam>;
/** Which of the two, where only the choice matters (resolved settings, make_updatable). */
enum class OptimizerKind {
  kSgd,  ///< Sgd.
  kAdam  ///< Adam.
};

/** How an updatable model trains (Core ML's NetworkUpdateParameters plus its losses). */
struct UpdateParameters {
  std::vector<Loss> losses;                                    ///< Exactly one (Core ML's rule).
  Optimizer optimizer = Adam{};                                ///< With its parameters.
  Int64Parameter epochs{10, std::array<int64_t, 2>{1, 1000}};  ///< Passes over the data.
  bool shuffle = true;  ///< Shuffle the samples before each epoch.
  /** Seeds the shuffle (the training settings may override it); unset: 0. */
  std::optional<Int64Parameter> seed;
};

// ---- The model ----------------------------------------------------------------------------------
/**
 * A Core ML neural network (plain, classifier or regressor): its description, layers, update
 * parameters and every parameter value in one block. Made by ModelBuilder::build(), load_model()
 * or read_mlmodel(); validate() checks one made by hand.
 */
struct Model {
  Metadata metadata;                           ///< Description and specification version.
  ModelKind kind = ModelKind::kNeuralNetwork;  ///< Plain network, classifier or regressor.
  ClassLabels class_labels;                    ///< kClassifier only.
  /**
   * kClassifier: the blob holding the class probabilities (Core ML's labelProbabilityLayerName);
   * empty means the last layer's output. Core ML derives the predicted-label and probabilities
   * outputs (Metadata::predicted_*_name) from it.
   */
  std::string label_probability_layer;
  std::vector<ImageScaler> preprocessing;  ///< Image inputs only.
  std::vector<Feature> inputs;             ///< What prediction takes, in this order.
  std::vector<Feature> outputs;            ///< What prediction gives.
  std::vector<Feature> training_inputs;    ///< What training takes: the inputs and the targets.
  /** In an order where each reads only inputs and earlier layers' outputs. */
  std::vector<Layer> layers;
  std::optional<UpdateParameters> update;  ///< Present ⇔ the model is updatable.
  /**
   * Core ML's arrayInputShapeMapping: false (RANK5_ARRAY_MAPPING, the default) gives a multi-array
   * input of shape [C] to the layers as (C, 1, 1); true (EXACT_ARRAY_MAPPING) keeps its rank, and
   * inner product then contracts only its last dimension.
   */
  bool exact_array_mapping = false;
  bool rank4_image_mapping = false;  ///< Core ML's imageInputShapeMapping, kept for writing back.
  std::vector<float> parameters;     ///< Every layer's parameter tensors, one block.

  /// The values of one parameter tensor (or any slice) in `parameters`.
  ///@{
  float* data(const ParameterSlice& slice) { return parameters.data() + slice.offset; }
  const float* data(const ParameterSlice& slice) const { return parameters.data() + slice.offset; }
  float* data(const LayerParameter& parameter) { return data(parameter.slice); }
  const float* data(const LayerParameter& parameter) const { return data(parameter.slice); }
  ///@}
  size_t parameter_count() const { return parameters.size(); }  ///< Values in `parameters`.
  /** The layer named `name`; throws Error naming the missing layer. */
  const Layer& layer(const std::string& name) const;
};

/**
 * Per-sample shapes of every blob (inputs and layer outputs), by blob name.
 */
using BlobShapes = std::map<std::string, Shape>;
/**
 * Per-sample shapes of every blob (inputs and layer outputs). Under the default (rank-5) mapping a
 * multi-array input of shape {n} is (n, 1, 1) and an image (C, H, W). Throws Error on any
 * inconsistency, naming the layer, its index and both shapes.
 */
BlobShapes infer_shapes(const Model& model);

/** Checks the whole model (shapes, names, losses, update parameters, parameter block size). */
void validate(const Model& model);

/** How initialize_parameters() draws the weights. */
enum class Initializer {
  kHeUniform,     ///< U(-b, b), b = sqrt(6 / fan_in).
  kGlorotUniform  ///< U(-b, b), b = sqrt(6 / (fan_in + fan_out)).
};
/**
 * Fills every weight with a seeded uniform draw (fan-in and fan-out as the layer kind defines them)
 * and every other parameter with its kind's neutral value (biases 0, batch-norm scale 1, ...).
 */
void initialize_parameters(Model& model, uint64_t seed, Initializer initializer);

// ---- The builder --------------------------------------------------------------------------------
/** ModelBuilder::loss(): cross-entropy of a softmax output `input` against the class `target`. */
struct CategoricalCrossEntropy {
  /// The loss layer's name, the blob it reads, the training input it compares with.
  ///@{
  std::string name, input, target;
  ///@}
};
/** ModelBuilder::loss(): mean squared error of `input` against `target`, of the same shape. */
struct MeanSquaredError {
  /// The loss layer's name, the blob it reads, the training input it compares with.
  ///@{
  std::string name, input, target;
  ///@}
};
/**
 * Declares a model step by step, then build() checks it and gives the Model. Each call returns
 * the builder, so calls chain; any of loss(), optimizer(), epochs(), shuffle() or seed() makes
 * the model updatable.
 */
class ModelBuilder {
 public:
  ModelBuilder& metadata(Metadata metadata);  ///< Description and specification version.
  /** Appends an input; multi-array shapes are per sample, e.g. {1, 28, 28} (C, H, W). */
  ModelBuilder& input(std::string name, std::vector<int64_t> shape,
                      FeatureType type = FeatureType::kFloat32);
  /** Appends an output: a blob some layer writes. */
  ModelBuilder& output(std::string name, std::vector<int64_t> shape,
                       FeatureType type = FeatureType::kFloat32);
  /** Appends a training input: an input again, or a loss target. */
  ModelBuilder& training_input(std::string name, std::vector<int64_t> shape,
                               FeatureType type = FeatureType::kFloat32);
  /// Adds the loss (an updatable model has exactly one).
  ///@{
  ModelBuilder& loss(CategoricalCrossEntropy loss);
  ModelBuilder& loss(MeanSquaredError loss);
  ///@}
  /// Sets the optimizer and its parameters' defaults and ranges.
  ///@{
  ModelBuilder& optimizer(Sgd sgd);
  ModelBuilder& optimizer(Adam adam);
  ///@}
  ModelBuilder& epochs(Int64Parameter epochs);  ///< Default and allowed epochs.
  ModelBuilder& shuffle(bool shuffle);          ///< Shuffle before each epoch (default on).
  ModelBuilder& seed(Int64Parameter seed);      ///< The shuffle's seed, as Core ML's `seed`.
  /**
   * Adds one layer (the programmatic API), or many in order:
   * @code
   * .layers({{"conv1", "image", "outConv1", Convolution{.output_channels = 32}, kUpdatable},
   *          {"relu1", "outConv1", "outRelu1", ReLU()}})
   * @endcode
   * What the inputs' shapes determine (a convolution's kernel channels, an inner product's input
   * channels) may be left 0: build() fills it in.
   */
  ModelBuilder& add(Layer layer);
  ModelBuilder& layers(std::initializer_list<Layer> layers);  ///< add() for each, in order.
  /** Initialisation used by build(). */
  ModelBuilder& initializer(Initializer initializer, uint64_t seed = 42);

  /** Checks everything, lays out and initialises the parameter block. Throws Error. */
  Model build() const;

 private:
  Model model_;
  Initializer initializer_ = Initializer::kHeUniform;
  uint64_t initializer_seed_ = 42;
};

/**
 * The options of lenet(), the seed's MNIST LeNet (585,958 parameters): conv 32@3x3, ReLU, max-pool
 * 2x2/2, conv 32@2x2, ReLU, max-pool 2x2/2, flatten (channel-last), dense 500, ReLU, dense 10,
 * softmax; Adam, cross-entropy, shuffle. The options become the model's update defaults (the batch
 * size and epochs as one-value allowed sets, as the seed declares them) and the initialisation
 * seed.
 */
struct LenetOptions {
  double learning_rate = 1e-3;  ///< The seed's TensorFlow baseline; its Swift model declares 1e-4.
  int64_t batch_size = 128;     ///< Adam's mini-batch size.
  int64_t epochs = 10;          ///< Passes over MNIST's 60,000 training images.
  /**
   * The initialisation seed. Test accuracy after 10 MNIST epochs on 2 threads moves by a few tenths
   * of a percent from seed to seed (README, Results). Measured with the fused convolution kernels,
   * seeds 1, 2, 3, 42: Glorot-uniform 0.9909, 0.9901, 0.9918, 0.9873 (mean 0.9900); He-uniform
   * 0.9880, 0.9893, 0.9898, 0.9898 (mean 0.9892).
   */
  uint64_t seed = 1;
  /**
   * Glorot-uniform, Keras's default, as in the seed's TensorFlow baseline (and the better of the
   * two above); He-uniform is what the PyTorch comparison uses.
   */
  Initializer initializer = Initializer::kGlorotUniform;
};
/** The seed's MNIST LeNet (see LenetOptions), built and initialised. */
Model lenet(const LenetOptions& options = {});

/**
 * A small residual CNN for 28x28 grayscale images in 10 classes, the second reference workload
 * (Fashion-MNIST; README, Results; src/nn/builder.cpp), 323,722 parameters:
 * @code
 *   conv 32@3x3, ReLU, max-pool 2x2/2 (fused, as LeNet's)        [32, 13, 13]
 *   batch norm                                                   (the block's input and shortcut)
 *   conv 32@3x3 same, batch norm, ReLU, conv 32@3x3 same, batch norm, add the shortcut, ReLU
 *   conv 64@2x2, ReLU, max-pool 2x2/2 (fused)                    [64, 6, 6]
 *   flatten (channel-last), dense 128, ReLU, dense 10, softmax.
 * @endcode
 * The block's convolutions have no bias (the batch norm's beta replaces it). Every convolution,
 * dense and batch-norm layer is updatable: batch norm trains on mini-batch statistics, an
 * edgetrain extension, and Core ML back-propagates through no add, so Core ML cannot update this
 * network (validate_coreml says why); edgetrain trains all of it. The options as lenet()'s, but the
 * mini-batch size (1-4096) and epochs (1-1000) are ranges.
 */
Model small_resnet(const LenetOptions& options = {});

}  // namespace edgetrain
