#include "io/model_json.h"

#include "edgetrain/error.h"

namespace edgetrain {
namespace {

using nlohmann::json;

const char* kFeatureTypes[] = {"float32", "double", "int32", "int64", "string", "image", "dictionary"};
const char* kPaddings[] = {"valid", "same"};
const char* kActivations[] = {"relu", "sigmoid", "tanh", "linear"};

template <typename Enum, size_t N>
Enum enum_from(const json& value, const char* (&names)[N], const char* field) {
  const std::string text = value.get<std::string>();
  for (size_t i = 0; i < N; ++i) {
    if (text == names[i]) return Enum(i);
  }
  throw Error(std::string("unknown ") + field + " '" + text + "'");
}

json feature_to_json(const Feature& f) {
  return {{"name", f.name}, {"shape", f.shape}, {"type", kFeatureTypes[int(f.type)]},
          {"description", f.description}};
}
Feature feature_from_json(const json& j) {
  return {j.at("name").get<std::string>(), j.at("shape").get<std::vector<int64_t>>(),
          enum_from<FeatureType>(j.at("type"), kFeatureTypes, "feature type"),
          j.value("description", std::string())};
}
std::vector<Feature> features_from_json(const json& j) {
  std::vector<Feature> features;
  for (const json& f : j) features.push_back(feature_from_json(f));
  return features;
}

json double_to_json(const DoubleParameter& p) {
  json j = {{"default", p.default_value}};
  if (p.range) j["range"] = *p.range;
  return j;
}
DoubleParameter double_from_json(const json& j) {
  DoubleParameter p{j.at("default").get<double>(), std::nullopt};
  if (j.contains("range")) p.range = j.at("range").get<std::array<double, 2>>();
  return p;
}
json int64_to_json(const Int64Parameter& p) {
  json j = {{"default", p.default_value}};
  if (!p.set.empty()) j["set"] = p.set;
  if (p.range) j["range"] = *p.range;
  return j;
}
Int64Parameter int64_from_json(const json& j) {
  Int64Parameter p{j.at("default").get<int64_t>(), {}, std::nullopt};
  if (j.contains("set")) p.set = j.at("set").get<std::vector<int64_t>>();
  if (j.contains("range")) p.range = j.at("range").get<std::array<int64_t, 2>>();
  return p;
}

json layer_to_json(const Layer& layer) {
  json j = {{"name", layer.name},      {"inputs", layer.inputs},
            {"outputs", layer.outputs}, {"updatable", layer.updatable},
            {"type", layer_type_name(layer)}};
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, ConvolutionParams>) {
          j["outputChannels"] = p.output_channels;
          j["kernelChannels"] = p.kernel_channels;
          j["groups"] = p.groups;
          j["kernelSize"] = p.kernel_size;
          j["stride"] = p.stride;
          j["dilation"] = p.dilation;
          j["padding"] = kPaddings[int(p.padding)];
          j["hasBias"] = p.has_bias;
        } else if constexpr (std::is_same_v<T, PoolingParams>) {
          j["poolingType"] = p.type == PoolingType::kMax ? "max" : "average";
          j["kernelSize"] = p.kernel_size;
          j["stride"] = p.stride;
          j["padding"] = kPaddings[int(p.padding)];
          j["global"] = p.global;
          j["averageExcludesPadding"] = p.average_excludes_padding;
        } else if constexpr (std::is_same_v<T, ActivationParams>) {
          j["activation"] = kActivations[int(p.type)];
          j["alpha"] = p.alpha;
          j["beta"] = p.beta;
        } else if constexpr (std::is_same_v<T, FlattenParams>) {
          j["order"] = p.order == FlattenOrder::kChannelLast ? "channelLast" : "channelFirst";
        } else if constexpr (std::is_same_v<T, InnerProductParams>) {
          j["inputChannels"] = p.input_channels;
          j["outputChannels"] = p.output_channels;
          j["hasBias"] = p.has_bias;
        }
      },
      layer.params);
  return j;
}

Layer layer_from_json(const json& j) {
  Layer layer;
  layer.name = j.at("name").get<std::string>();
  layer.inputs = j.at("inputs").get<std::vector<std::string>>();
  layer.outputs = j.at("outputs").get<std::vector<std::string>>();
  layer.updatable = j.at("updatable").get<bool>();
  const std::string type = j.at("type").get<std::string>();
  if (type == "convolution") {
    layer.params = ConvolutionParams{
        .output_channels = j.at("outputChannels").get<int>(),
        .kernel_channels = j.at("kernelChannels").get<int>(),
        .groups = j.at("groups").get<int>(),
        .kernel_size = j.at("kernelSize").get<std::array<int, 2>>(),
        .stride = j.at("stride").get<std::array<int, 2>>(),
        .dilation = j.at("dilation").get<std::array<int, 2>>(),
        .padding = enum_from<Padding>(j.at("padding"), kPaddings, "padding"),
        .has_bias = j.at("hasBias").get<bool>()};
  } else if (type == "pooling") {
    const std::string pooling = j.at("poolingType").get<std::string>();
    if (pooling != "max" && pooling != "average") {
      throw Error("layer '" + layer.name + "': unknown pooling type '" + pooling + "'");
    }
    layer.params = PoolingParams{
        .type = pooling == "max" ? PoolingType::kMax : PoolingType::kAverage,
        .kernel_size = j.at("kernelSize").get<std::array<int, 2>>(),
        .stride = j.at("stride").get<std::array<int, 2>>(),
        .padding = enum_from<Padding>(j.at("padding"), kPaddings, "padding"),
        .global = j.at("global").get<bool>(),
        .average_excludes_padding = j.at("averageExcludesPadding").get<bool>()};
  } else if (type == "activation") {
    layer.params = ActivationParams{
        .type = enum_from<ActivationType>(j.at("activation"), kActivations, "activation"),
        .alpha = j.at("alpha").get<float>(),
        .beta = j.at("beta").get<float>()};
  } else if (type == "flatten") {
    const std::string order = j.at("order").get<std::string>();
    if (order != "channelFirst" && order != "channelLast") {
      throw Error("layer '" + layer.name + "': unknown flatten order '" + order + "'");
    }
    layer.params = FlattenParams{order == "channelLast" ? FlattenOrder::kChannelLast
                                                        : FlattenOrder::kChannelFirst};
  } else if (type == "innerProduct") {
    layer.params = InnerProductParams{.input_channels = j.at("inputChannels").get<int>(),
                                      .output_channels = j.at("outputChannels").get<int>(),
                                      .has_bias = j.at("hasBias").get<bool>()};
  } else if (type == "softmax") {
    layer.params = SoftmaxParams{};
  } else {
    throw Error("layer '" + layer.name + "' has type '" + type + "', which edgetrain does not support");
  }
  return layer;
}

}  // namespace

json model_to_json(const Model& model) {
  json j;
  const Metadata& m = model.metadata;
  j["metadata"] = {{"specificationVersion", m.specification_version},
                   {"shortDescription", m.short_description},
                   {"author", m.author},
                   {"license", m.license},
                   {"versionString", m.version_string},
                   {"userDefined", m.user_defined}};
  for (const auto* list : {&model.inputs, &model.outputs, &model.training_inputs}) {
    json features = json::array();
    for (const Feature& f : *list) features.push_back(feature_to_json(f));
    j[list == &model.inputs ? "inputs" : list == &model.outputs ? "outputs" : "trainingInputs"] =
        features;
  }
  j["layers"] = json::array();
  for (const Layer& layer : model.layers) j["layers"].push_back(layer_to_json(layer));
  if (model.update) {
    const UpdateParameters& u = *model.update;
    json update;
    update["losses"] = json::array();
    for (const Loss& loss : u.losses) {
      update["losses"].push_back(
          {{"name", loss.name},
           {"type", loss.type == LossType::kCategoricalCrossEntropy ? "categoricalCrossEntropy"
                                                                    : "meanSquaredError"},
           {"input", loss.input},
           {"target", loss.target}});
    }
    if (const Adam* adam = std::get_if<Adam>(&u.optimizer)) {
      update["optimizer"] = {{"type", "adam"},
                             {"learningRate", double_to_json(adam->learning_rate)},
                             {"miniBatchSize", int64_to_json(adam->mini_batch_size)},
                             {"beta1", double_to_json(adam->beta1)},
                             {"beta2", double_to_json(adam->beta2)},
                             {"eps", double_to_json(adam->eps)}};
    } else {
      const Sgd& sgd = std::get<Sgd>(u.optimizer);
      update["optimizer"] = {{"type", "sgd"},
                             {"learningRate", double_to_json(sgd.learning_rate)},
                             {"miniBatchSize", int64_to_json(sgd.mini_batch_size)},
                             {"momentum", double_to_json(sgd.momentum)}};
    }
    update["epochs"] = int64_to_json(u.epochs);
    update["shuffle"] = u.shuffle;
    if (u.seed) update["seed"] = int64_to_json(*u.seed);
    j["update"] = update;
  }
  return j;
}

Model model_from_json(const json& j) {
  Model model;
  const json& m = j.at("metadata");
  model.metadata = {m.at("specificationVersion").get<int>(),
                    m.at("shortDescription").get<std::string>(),
                    m.at("author").get<std::string>(),
                    m.at("license").get<std::string>(),
                    m.at("versionString").get<std::string>(),
                    m.at("userDefined").get<std::map<std::string, std::string>>()};
  model.inputs = features_from_json(j.at("inputs"));
  model.outputs = features_from_json(j.at("outputs"));
  model.training_inputs = features_from_json(j.at("trainingInputs"));
  for (const json& layer : j.at("layers")) model.layers.push_back(layer_from_json(layer));
  if (j.contains("update")) {
    const json& u = j.at("update");
    UpdateParameters update;
    for (const json& loss : u.at("losses")) {
      const std::string type = loss.at("type").get<std::string>();
      if (type != "categoricalCrossEntropy" && type != "meanSquaredError") {
        throw Error("unknown loss type '" + type + "'");
      }
      update.losses.push_back({loss.at("name").get<std::string>(),
                               type == "meanSquaredError" ? LossType::kMeanSquaredError
                                                          : LossType::kCategoricalCrossEntropy,
                               loss.at("input").get<std::string>(),
                               loss.at("target").get<std::string>()});
    }
    const json& o = u.at("optimizer");
    const std::string type = o.at("type").get<std::string>();
    if (type == "adam") {
      update.optimizer = Adam{double_from_json(o.at("learningRate")),
                              int64_from_json(o.at("miniBatchSize")),
                              double_from_json(o.at("beta1")), double_from_json(o.at("beta2")),
                              double_from_json(o.at("eps"))};
    } else if (type == "sgd") {
      update.optimizer = Sgd{double_from_json(o.at("learningRate")),
                             int64_from_json(o.at("miniBatchSize")),
                             double_from_json(o.at("momentum"))};
    } else {
      throw Error("unknown optimizer '" + type + "'");
    }
    update.epochs = int64_from_json(u.at("epochs"));
    update.shuffle = u.at("shuffle").get<bool>();
    if (u.contains("seed")) update.seed = int64_from_json(u.at("seed"));
    model.update = update;
  }
  return model;
}

}  // namespace edgetrain
