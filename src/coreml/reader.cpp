// Core ML .mlmodel → Model. Every byte is untrusted: each field is range-checked before use, and
// each layer's stored weights are matched against what its dimensions imply before the parameter
// block is allocated, so a file claiming 10^12 weights fails in microseconds without allocating.
// Errors name the file, then the layer (index and name) or feature, then the field.
#include <climits>

#include <algorithm>

#include "coreml/model_spec.h"
#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "schema/weights.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "base/atomic_file.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace coreml {
namespace {

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

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}
  Model read(const spec::Model& message);

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(source_ + ": " + what); }

  std::vector<Feature> features(
      const google::protobuf::RepeatedPtrField<spec::FeatureDescription>& list,
      const std::string& kind) const;
  template <typename Network>
  void network(const Network& network, bool updatable, Model& model);
  Layer layer(const spec::NeuralNetworkLayer& layer, size_t index,
              std::vector<LayerReader::Stored>& stored) const;
  void allocate_and_decode(Model& model,
                           const std::vector<std::vector<LayerReader::Stored>>& stored) const;

  const std::string& source_;
};

std::vector<Feature> Reader::features(
    const google::protobuf::RepeatedPtrField<spec::FeatureDescription>& list,
    const std::string& kind) const {
  std::vector<Feature> result;
  for (const auto& description : list) {
    result.push_back(feature_from_spec(description, kind, source_));
  }
  return result;
}

Layer Reader::layer(const spec::NeuralNetworkLayer& l, size_t index,
                    std::vector<LayerReader::Stored>& stored) const {
  Layer layer;
  layer.name = l.name();
  layer.inputs.assign(l.input().begin(), l.input().end());
  layer.outputs.assign(l.output().begin(), l.output().end());
  layer.updatable = l.isupdatable();
  const std::string where = "layer " + std::to_string(index) + " '" + l.name() + "'";
  if (l.layer_case() == spec::NeuralNetworkLayer::LAYER_NOT_SET) {
    const int number = unknown_layer_type_field(l);
    if (number == 0) fail(where + " has no layer type");
    const std::string name = layer_type_name_for_field(number);
    fail(where + " has " +
         (name.empty() ? "a layer type unknown to edgetrain (NeuralNetworkLayer field " +
                             std::to_string(number) + ")"
                       : "type " + display_layer_type(name) + ", which edgetrain does not support"));
  }
  const LayerKind* kind = layer_kind_for_field(l.layer_case());
  if (!kind) {  // declared in the schema but not run by edgetrain
    fail(where + " has type " + display_layer_type(case_name(l, l.layer_case())) +
         ", which edgetrain does not support");
  }
  layer.params = params_for_field(l.layer_case());
  LayerReader reader(layer, where);
  try {
    kind->read(l, reader);
  } catch (const Error& e) {
    fail(e.what());
  }
  stored = reader.stored();
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
  model.exact_array_mapping = nn.arrayinputshapemapping() == spec::EXACT_ARRAY_MAPPING;
  model.rank4_image_mapping = nn.imageinputshapemapping() == spec::RANK4_IMAGE_MAPPING;
  std::vector<std::vector<LayerReader::Stored>> stored(size_t(nn.layers_size()));
  for (int i = 0; i < nn.layers_size(); ++i) {
    model.layers.push_back(layer(nn.layers(i), size_t(i), stored[size_t(i)]));
  }
  if (updatable) {
    if (!nn.has_updateparams()) {
      fail("the model is updatable (isUpdatable) but has no updateParams");
    }
    model.update = update_from_spec(nn.updateparams(), source_);
  }
  allocate_and_decode(model, stored);
}

void Reader::allocate_and_decode(
    Model& model, const std::vector<std::vector<LayerReader::Stored>>& stored) const {
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
  // Every tensor the kind lays out was stored, with the count its dimensions imply (the kind's
  // read checked the count against the same dimensions; a difference is a bug here).
  for (size_t i = 0; i < model.layers.size(); ++i) {
    Layer& layer = model.layers[i];
    const std::string where = "layer " + std::to_string(i) + " '" + layer.name + "'";
    for (LayerParameter& parameter : layer.parameters) {
      auto found = std::find_if(stored[i].begin(), stored[i].end(),
                                [&](const auto& s) { return s.name == parameter.name; });
      if (found == stored[i].end() || found->expected != parameter.slice.size) {
        fail(where + ": internal size mismatch of '" + parameter.name + "'");
      }
      if (layer_kind(layer).coreml_updatable() && found->file_updatable != layer.updatable) {
        parameter.file_updatable = found->file_updatable;
      }
    }
  }
  model.parameters.resize(total);
  for (size_t i = 0; i < model.layers.size(); ++i) {
    for (const LayerParameter& parameter : model.layers[i].parameters) {
      const auto& s = *std::find_if(stored[i].begin(), stored[i].end(),
                                    [&](const auto& s) { return s.name == parameter.name; });
      coreml::decode_weights(*s.weights, parameter.slice.size, s.channels, model.data(parameter));
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
  // The structure only: an updatable model's rules are validate_coreml's to report, all at once.
  try {
    validate_structure(model);
  } catch (const Error& e) {
    fail(e.what());
  }
  return model;
}

}  // namespace

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
