// Core ML .mlmodel → Model. Every byte is untrusted: each field is range-checked before use, and
// each layer's stored weights are matched against what its dimensions imply before the parameter
// block is allocated, so a file claiming 10^12 weights fails in microseconds without allocating.
// Errors name the file, then the layer (index and name) or feature, then the field.
#include <google/protobuf/stubs/logging.h>

#include <climits>

#include "coreml/spec.h"
#include "coreml/weights.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "base/atomic_file.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace coreml {
namespace {

constexpr uint64_t kMaxChannels = uint64_t(1) << 24;
constexpr uint64_t kMaxWindow = 65536;              // kernel sizes, strides, dilations
constexpr size_t kMaxParameters = size_t(1) << 30;  // 4 GiB of float32

// Apple's field names for a few layer types, with the name people know them by.
std::string display_layer_type(const std::string& field) {
  static const std::pair<const char*, const char*> kKnownAs[] = {
      {"uniDirectionalLSTM", "LSTM"},
      {"biDirectionalLSTM", "bidirectional LSTM"},
      {"gru", "GRU"},
      {"simpleRecurrent", "simple RNN"},
      {"custom", "custom layer"},
      {"batchnorm", "batch normalization"}};
  for (const auto& [apple, common] : kKnownAs) {
    if (field == apple) return std::string(common) + " (" + field + ")";
  }
  return field;
}

// The name of the oneof case `number` of `message`, e.g. "leakyReLU".
std::string case_name(const google::protobuf::Message& message, int number) {
  const auto* field = message.GetDescriptor()->FindFieldByNumber(number);
  return field ? field->name() : "field " + std::to_string(number);
}

// What a convolution or inner-product layer stores, checked but not yet decoded.
struct PendingWeights {
  const spec::WeightParams* weights = nullptr;
  const spec::WeightParams* bias = nullptr;
  uint64_t weight_count = 0, bias_count = 0, channels = 0;
  bool has_bias = false;
};

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}
  Model read(const spec::Model& message);

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(source_ + ": " + what); }

  int checked(uint64_t value, uint64_t max, const std::string& where, const char* field) const;
  std::array<int, 2> pair(const google::protobuf::RepeatedField<uint64_t>& values,
                          std::array<int, 2> unset, const std::string& where,
                          const char* field) const;
  void check_valid_padding(const spec::ValidPadding& valid, const std::string& where) const;
  Padding same_padding(const spec::SamePadding& same, const std::string& where) const;
  std::vector<Feature> features(
      const google::protobuf::RepeatedPtrField<spec::FeatureDescription>& list,
      const std::string& kind) const;
  template <typename Network>
  void network(const Network& network, bool updatable, Model& model);
  Layer layer(const spec::NeuralNetworkLayer& layer, size_t index, PendingWeights& pending);
  ConvolutionParams convolution(const spec::ConvolutionLayerParams& conv, const std::string& where,
                                PendingWeights& pending) const;
  PoolingParams pooling(const spec::PoolingLayerParams& pool, const std::string& where,
                        bool& include_last_pixel) const;
  ActivationParams activation(const spec::ActivationParams& activation,
                              const std::string& where) const;
  bool weight_flags(Layer& layer, const PendingWeights& pending, const std::string& where) const;
  void allocate_and_decode(Model& model, const std::vector<PendingWeights>& pending) const;
  void check_include_last_pixel(const Model& model) const;

  const std::string& source_;
  std::vector<size_t> include_last_pixel_;  // pooling layers whose padding rounds up
};

int Reader::checked(uint64_t value, uint64_t max, const std::string& where,
                    const char* field) const {
  if (value > max) {
    fail(where + ": " + field + " " + std::to_string(value) + " is out of range (at most " +
         std::to_string(max) + ")" + (value > uint64_t(INT64_MAX) ? "; a negative number?" : ""));
  }
  return int(value);
}

std::array<int, 2> Reader::pair(const google::protobuf::RepeatedField<uint64_t>& values,
                                std::array<int, 2> unset, const std::string& where,
                                const char* field) const {
  if (values.empty()) return unset;  // Core ML's documented default
  if (values.size() != 2) {
    fail(where + ": " + field + " has " + std::to_string(values.size()) +
         " values, expected 2 ([height, width])");
  }
  return {checked(values[0], kMaxWindow, where, field),
          checked(values[1], kMaxWindow, where, field)};
}

void Reader::check_valid_padding(const spec::ValidPadding& valid, const std::string& where) const {
  for (const auto& edge : valid.paddingamounts().borderamounts()) {
    if (edge.startedgesize() != 0 || edge.endedgesize() != 0) {
      fail(where +
           ": valid padding with explicit padding amounts is not supported (edgetrain "
           "supports valid padding without amounts and same padding)");
    }
  }
}

Padding Reader::same_padding(const spec::SamePadding& same, const std::string& where) const {
  if (same.asymmetrymode() != spec::SamePadding::BOTTOM_RIGHT_HEAVY) {
    const auto mode = same.asymmetrymode();
    fail(where + ": same padding with asymmetryMode " +
         (spec::SamePadding::SamePaddingMode_IsValid(mode)
              ? spec::SamePadding::SamePaddingMode_Name(mode)
              : std::to_string(mode)) +
         " is not supported; edgetrain pads BOTTOM_RIGHT_HEAVY");
  }
  return Padding::kSame;
}

std::vector<Feature> Reader::features(
    const google::protobuf::RepeatedPtrField<spec::FeatureDescription>& list,
    const std::string& kind) const {
  std::vector<Feature> result;
  for (const auto& description : list) {
    result.push_back(feature_from_spec(description, kind, source_));
  }
  return result;
}

ConvolutionParams Reader::convolution(const spec::ConvolutionLayerParams& c,
                                      const std::string& where, PendingWeights& pending) const {
  if (c.isdeconvolution()) fail(where + " is a deconvolution, which edgetrain does not support");
  ConvolutionParams p;
  p.output_channels = checked(c.outputchannels(), kMaxChannels, where, "outputChannels");
  p.kernel_channels = checked(c.kernelchannels(), kMaxChannels, where, "kernelChannels");
  p.groups = c.ngroups() == 0 ? 1 : checked(c.ngroups(), kMaxChannels, where, "nGroups");
  p.kernel_size = pair(c.kernelsize(), {3, 3}, where, "kernelSize");
  p.stride = pair(c.stride(), {1, 1}, where, "stride");
  p.dilation = pair(c.dilationfactor(), {1, 1}, where, "dilationFactor");
  switch (c.ConvolutionPaddingType_case()) {
    case spec::ConvolutionLayerParams::kSame:
      p.padding = same_padding(c.same(), where);
      break;
    case spec::ConvolutionLayerParams::kValid:
      check_valid_padding(c.valid(), where);
      [[fallthrough]];
    default:
      p.padding = Padding::kValid;
  }
  p.has_bias = c.hasbias();
  uint64_t count = 1;
  for (uint64_t factor : {uint64_t(p.output_channels), uint64_t(p.kernel_channels),
                          uint64_t(p.kernel_size[0]), uint64_t(p.kernel_size[1])}) {
    if (__builtin_mul_overflow(count, factor, &count)) fail(where + ": the weight count overflows");
  }
  pending = {&c.weights(),
             &c.bias(),
             count,
             p.has_bias ? uint64_t(p.output_channels) : 0,
             uint64_t(p.output_channels),
             p.has_bias};
  return p;
}

PoolingParams Reader::pooling(const spec::PoolingLayerParams& pool, const std::string& where,
                              bool& include_last_pixel) const {
  PoolingParams p;
  switch (pool.type()) {
    case spec::PoolingLayerParams::MAX:
      p.type = PoolingType::kMax;
      break;
    case spec::PoolingLayerParams::AVERAGE:
      p.type = PoolingType::kAverage;
      break;
    case spec::PoolingLayerParams::L2:
      fail(where + ": L2 pooling is not supported (MAX and AVERAGE are)");
    default:
      fail(where + ": unknown pooling type " + std::to_string(pool.type()));
  }
  p.kernel_size = pair(pool.kernelsize(), {3, 3}, where, "kernelSize");
  p.stride = pair(pool.stride(), {1, 1}, where, "stride");
  include_last_pixel = false;
  switch (pool.PoolingPaddingType_case()) {
    case spec::PoolingLayerParams::kSame:
      p.padding = same_padding(pool.same(), where);
      break;
    case spec::PoolingLayerParams::kIncludeLastPixel:
      // Valid padding whose output size rounds up; equal to valid padding when the windows tile
      // the input exactly, which check_include_last_pixel() verifies once shapes are known.
      for (uint64_t amount : pool.includelastpixel().paddingamounts()) {
        if (amount != 0) {
          fail(where + ": includeLastPixel padding with padding amounts is not supported");
        }
      }
      include_last_pixel = true;
      p.padding = Padding::kValid;
      break;
    case spec::PoolingLayerParams::kValid:
      check_valid_padding(pool.valid(), where);
      [[fallthrough]];
    default:
      p.padding = Padding::kValid;
  }
  p.average_excludes_padding = pool.avgpoolexcludepadding();
  p.global = pool.globalpooling();
  return p;
}

ActivationParams Reader::activation(const spec::ActivationParams& a,
                                    const std::string& where) const {
  switch (a.NonlinearityType_case()) {
    case spec::ActivationParams::kLinear:
      return {ActivationType::kLinear, a.linear().alpha(), a.linear().beta()};
    case spec::ActivationParams::kReLU:
      return {ActivationType::kReLU};
    case spec::ActivationParams::kTanh:
      return {ActivationType::kTanh};
    case spec::ActivationParams::kSigmoid:
      return {ActivationType::kSigmoid};
    case spec::ActivationParams::NONLINEARITYTYPE_NOT_SET:
      fail(where + " sets no activation function");
    default:
      fail(where + " is a " + case_name(a, a.NonlinearityType_case()) +
           " activation, which edgetrain does not support (linear, ReLU, tanh and sigmoid are)");
  }
}

// Sets the layer's own weight flags where the file sets them apart from the layer's; returns
// whether the stored values are half precision or quantised. Checks every size.
bool Reader::weight_flags(Layer& layer, const PendingWeights& pending,
                          const std::string& where) const try {
  bool quantized =
      check_weights(*pending.weights, pending.weight_count, pending.channels, where + " weights");
  if (pending.weights->isupdatable() != layer.updatable) {
    layer.weights_updatable = pending.weights->isupdatable();
  }
  if (pending.has_bias) {
    quantized |=
        check_weights(*pending.bias, pending.bias_count, pending.bias_count, where + " bias");
    if (pending.bias->isupdatable() != layer.updatable) {
      layer.bias_updatable = pending.bias->isupdatable();
    }
  } else {
    check_weights(*pending.bias, 0, 0, where + " bias (hasBias is false)");  // must be empty
  }
  return quantized;
} catch (const Error& e) {
  fail(e.what());
}

Layer Reader::layer(const spec::NeuralNetworkLayer& l, size_t index, PendingWeights& pending) {
  Layer layer;
  layer.name = l.name();
  layer.inputs.assign(l.input().begin(), l.input().end());
  layer.outputs.assign(l.output().begin(), l.output().end());
  layer.updatable = l.isupdatable();
  const std::string where = "layer " + std::to_string(index) + " '" + l.name() + "'";
  switch (l.layer_case()) {
    case spec::NeuralNetworkLayer::kConvolution:
      layer.params = convolution(l.convolution(), where + " (convolution)", pending);
      layer.quantized = weight_flags(layer, pending, where + " (convolution)");
      break;
    case spec::NeuralNetworkLayer::kInnerProduct: {
      const spec::InnerProductLayerParams& d = l.innerproduct();
      const std::string at = where + " (innerProduct)";
      if (d.int8dynamicquantize()) {
        fail(at + ": int8DynamicQuantize is not supported");
      }
      InnerProductParams p;
      p.input_channels = checked(d.inputchannels(), kMaxChannels, at, "inputChannels");
      p.output_channels = checked(d.outputchannels(), kMaxChannels, at, "outputChannels");
      p.has_bias = d.hasbias();
      layer.params = p;
      pending = {&d.weights(),
                 &d.bias(),
                 uint64_t(p.output_channels) * uint64_t(p.input_channels),
                 p.has_bias ? uint64_t(p.output_channels) : 0,
                 uint64_t(p.output_channels),
                 p.has_bias};
      layer.quantized = weight_flags(layer, pending, at);
      break;
    }
    case spec::NeuralNetworkLayer::kPooling: {
      bool include_last_pixel = false;
      layer.params = pooling(l.pooling(), where + " (pooling)", include_last_pixel);
      if (include_last_pixel) include_last_pixel_.push_back(index);
      break;
    }
    case spec::NeuralNetworkLayer::kActivation:
      layer.params = activation(l.activation(), where + " (activation)");
      break;
    case spec::NeuralNetworkLayer::kFlatten:
      switch (l.flatten().mode()) {
        case spec::FlattenLayerParams::CHANNEL_FIRST:
          layer.params = FlattenParams{FlattenOrder::kChannelFirst};
          break;
        case spec::FlattenLayerParams::CHANNEL_LAST:
          layer.params = FlattenParams{FlattenOrder::kChannelLast};
          break;
        default:
          fail(where + " (flatten): unknown mode " + std::to_string(l.flatten().mode()));
      }
      break;
    case spec::NeuralNetworkLayer::kSoftmax:
      layer.params = SoftmaxParams{};
      break;
    case spec::NeuralNetworkLayer::LAYER_NOT_SET: {
      const int number = unknown_layer_type_field(l);
      if (number == 0) fail(where + " has no layer type");
      const std::string name = layer_type_name_for_field(number);
      fail(where + " has " +
           (name.empty()
                ? "a layer type unknown to edgetrain (NeuralNetworkLayer field " +
                      std::to_string(number) + ")"
                : "type " + display_layer_type(name) + ", which edgetrain does not support"));
    }
    default:  // declared in the schema (batchnorm) but not run by edgetrain
      fail(where + " has type " + display_layer_type(case_name(l, l.layer_case())) +
           ", which edgetrain does not support");
  }
  return layer;
}

template <typename Network>
void Reader::network(const Network& nn, bool updatable, Model& model) {
  for (int i = 0; i < nn.preprocessing_size(); ++i) {
    const spec::NeuralNetworkPreprocessing& p = nn.preprocessing(i);
    const std::string where =
        "preprocessing " + std::to_string(i) + " of '" + p.featurename() + "'";
    if (p.has_meanimage()) fail(where + ": mean-image preprocessing is not supported");
    if (!p.has_scaler()) fail(where + " sets no preprocessor");
    const spec::NeuralNetworkImageScaler& s = p.scaler();
    model.preprocessing.push_back({p.featurename(), s.channelscale(), s.graybias(), s.redbias(),
                                   s.greenbias(), s.bluebias()});
  }
  std::vector<PendingWeights> pending(size_t(nn.layers_size()));
  for (int i = 0; i < nn.layers_size(); ++i) {
    model.layers.push_back(layer(nn.layers(i), size_t(i), pending[size_t(i)]));
  }
  if (updatable) {
    if (!nn.has_updateparams()) {
      fail("the model is updatable (isUpdatable) but has no updateParams");
    }
    model.update = update_from_spec(nn.updateparams(), source_);
  }
  allocate_and_decode(model, pending);
}

void Reader::allocate_and_decode(Model& model, const std::vector<PendingWeights>& pending) const {
  size_t total = 0;
  try {
    total = layout_parameters(model);
  } catch (const Error& e) {
    fail(e.what());
  }
  if (total > kMaxParameters) {
    fail("the model has " + std::to_string(total) + " parameters, more than edgetrain's limit of " +
         std::to_string(kMaxParameters));
  }
  // layout_parameters sized the slices from the same dimensions the stored counts were checked
  // against; a difference would be a bug here, not in the file.
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    if (layer.weight.size != pending[i].weight_count || layer.bias.size != pending[i].bias_count) {
      fail("layer " + std::to_string(i) + " '" + layer.name + "': internal size mismatch");
    }
  }
  model.parameters.resize(total);
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    if (layer.weight.size > 0) {
      decode_weights(*pending[i].weights, layer.weight.size, pending[i].channels,
                     model.data(layer.weight));
    }
    if (layer.bias.size > 0) {
      decode_weights(*pending[i].bias, layer.bias.size, layer.bias.size, model.data(layer.bias));
    }
  }
}

// Runs before validate_structure(), so that a shape the rounding would change downstream is
// reported here, at its cause.
void Reader::check_include_last_pixel(const Model& model) const {
  for (size_t index : include_last_pixel_) {
    Model prefix;  // the layers up to this one: enough for its input shape
    prefix.inputs = model.inputs;
    prefix.layers.assign(model.layers.begin(), model.layers.begin() + long(index) + 1);
    BlobShapes shapes;
    try {
      shapes = infer_shapes(prefix);
    } catch (const Error&) {
      return;  // validate_structure() names the problem
    }
    const Layer& layer = model.layers[index];
    const auto& pool = std::get<PoolingParams>(layer.params);
    const auto& in = shapes.at(layer.inputs[0]);
    for (int k = 0; k < 2 && !pool.global; ++k) {
      if ((in[1 + k] - pool.kernel_size[k]) % pool.stride[k] != 0) {
        fail("layer " + std::to_string(index) + " '" + layer.name +
             "' (pooling): includeLastPixel padding over input " + shape_string(in) + " with a " +
             std::to_string(pool.kernel_size[0]) + "x" + std::to_string(pool.kernel_size[1]) +
             " window and stride " + std::to_string(pool.stride[0]) + "x" +
             std::to_string(pool.stride[1]) +
             " adds a partial window that valid padding leaves out; edgetrain does not support "
             "that");
      }
    }
  }
}

Model Reader::read(const spec::Model& m) {
  Model model;
  switch (m.Type_case()) {
    case spec::Model::kNeuralNetwork:
    case spec::Model::kNeuralNetworkClassifier:
    case spec::Model::kNeuralNetworkRegressor:
      break;
    default: {
      const int number = unknown_model_type_field(m);
      if (number == 0) fail("holds no Core ML model (an empty, truncated or foreign file?)");
      fail("is a Core ML " + model_type_name_for_field(number) + " model (Model field " +
           std::to_string(number) +
           "), not a neural network; edgetrain reads neuralNetwork, "
           "neuralNetworkClassifier and neuralNetworkRegressor models");
    }
  }
  if (m.specificationversion() < 1) {
    fail("specificationVersion is " + std::to_string(m.specificationversion()) +
         "; Core ML models have 1 or more");
  }
  model.metadata.specification_version = m.specificationversion();
  const spec::ModelDescription& d = m.description();
  model.metadata.short_description = d.metadata().shortdescription();
  model.metadata.version_string = d.metadata().versionstring();
  model.metadata.author = d.metadata().author();
  model.metadata.license = d.metadata().license();
  for (const auto& [key, value] : d.metadata().userdefined()) {
    model.metadata.user_defined[key] = value;
  }
  model.metadata.predicted_feature_name = d.predictedfeaturename();
  model.metadata.predicted_probabilities_name = d.predictedprobabilitiesname();
  model.inputs = features(d.input(), "input");
  model.outputs = features(d.output(), "output");
  model.training_inputs = features(d.traininginput(), "training input");

  if (m.has_neuralnetworkclassifier()) {
    const spec::NeuralNetworkClassifier& c = m.neuralnetworkclassifier();
    model.kind = ModelKind::kClassifier;
    if (c.has_stringclasslabels()) {
      model.class_labels.string_labels.assign(c.stringclasslabels().vector().begin(),
                                              c.stringclasslabels().vector().end());
    } else if (c.has_int64classlabels()) {
      model.class_labels.int_labels.assign(c.int64classlabels().vector().begin(),
                                           c.int64classlabels().vector().end());
    } else {
      fail(
          "the neuralNetworkClassifier has no class labels (stringClassLabels or "
          "int64ClassLabels)");
    }
    model.label_probability_layer = c.labelprobabilitylayername();
    network(c, m.isupdatable(), model);
  } else if (m.has_neuralnetworkregressor()) {
    model.kind = ModelKind::kRegressor;
    network(m.neuralnetworkregressor(), m.isupdatable(), model);
  } else {
    network(m.neuralnetwork(), m.isupdatable(), model);
  }
  check_include_last_pixel(model);
  // The structure only: an updatable model's rules are validate_coreml's to report, all at once.
  try {
    validate_structure(model);
  } catch (const Error& e) {
    fail(e.what());
  }
  return model;
}

}  // namespace

spec::Model parse_spec(const std::string& bytes, const std::string& source) {
  if (bytes.empty()) throw Error(source + ": the file is empty, not a Core ML model");
  if (bytes.size() > kMaxFileBytes) {
    throw Error(source + ": " + std::to_string(bytes.size()) +
                " bytes is more than a Core ML model can hold (2 GiB)");
  }
  spec::Model message;
  // Protobuf would also log the reason (e.g. a text field that is not UTF-8) to stderr.
  google::protobuf::LogSilencer quiet;
  if (!message.ParseFromArray(bytes.data(), int(bytes.size()))) {
    throw Error(
        source + ": not a Core ML model, or a truncated or corrupt one: its " +
        std::to_string(bytes.size()) +
        " bytes do not parse as CoreML.Specification.Model (or hold text that is not UTF-8)");
  }
  return message;
}

Model model_from_spec(const spec::Model& message, const std::string& source) {
  return Reader(source).read(message);
}

}  // namespace coreml

Model parse_mlmodel(const std::string& bytes, const std::string& source_name) {
  return coreml::model_from_spec(coreml::parse_spec(bytes, source_name), source_name);
}

Model read_mlmodel(const std::string& path) {
  return parse_mlmodel(read_whole_file(path, coreml::kMaxFileBytes), path);
}

}  // namespace edgetrain
