// Model → Core ML .mlmodel. Weights are written as float32 (floatValue); an updatable model gets
// Model.isUpdatable, its layers' and weights' isUpdatable flags and NetworkUpdateParameters.
// Serialisation is deterministic, so the same model always gives the same bytes.
#include "coreml/model_spec.h"
#include "nn/layer_kind.h"
#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "base/atomic_file.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace coreml {
namespace {

void write_feature(const Feature& f, spec::FeatureDescription* out) {
  out->set_name(f.name);
  out->set_shortdescription(f.description);
  spec::FeatureType* type = out->mutable_type();
  auto multi_array = [&](spec::ArrayFeatureType::ArrayDataType data_type) {
    spec::ArrayFeatureType* array = type->mutable_multiarraytype();
    for (int64_t dimension : f.shape) array->add_shape(dimension);
    array->set_datatype(data_type);
  };
  switch (f.type) {
    case FeatureType::kFloat32:
      multi_array(spec::ArrayFeatureType::FLOAT32);
      break;
    case FeatureType::kDouble:
      multi_array(spec::ArrayFeatureType::DOUBLE);
      break;
    case FeatureType::kInt32:
      multi_array(spec::ArrayFeatureType::INT32);
      break;
    case FeatureType::kInt64:
      type->mutable_int64type();
      break;
    case FeatureType::kString:
      type->mutable_stringtype();
      break;
    case FeatureType::kImage: {
      spec::ImageFeatureType* image = type->mutable_imagetype();
      image->set_width(f.image.width);
      image->set_height(f.image.height);
      switch (f.image.color_space) {
        case ColorSpace::kGrayscale:
          image->set_colorspace(spec::ImageFeatureType::GRAYSCALE);
          break;
        case ColorSpace::kRGB:
          image->set_colorspace(spec::ImageFeatureType::RGB);
          break;
        case ColorSpace::kBGR:
          image->set_colorspace(spec::ImageFeatureType::BGR);
          break;
      }
      break;
    }
    case FeatureType::kDictionary:
      if (f.dictionary_key == FeatureType::kString) {
        type->mutable_dictionarytype()->mutable_stringkeytype();
      } else {
        type->mutable_dictionarytype()->mutable_int64keytype();
      }
      break;
  }
  type->set_isoptional(f.optional);
}

void write_layer(const Model& model, const Layer& layer, spec::NeuralNetworkLayer* out) {
  out->set_name(layer.name);
  for (const std::string& input : layer.inputs) out->add_input(input);
  for (const std::string& output : layer.outputs) out->add_output(output);
  out->set_isupdatable(layer.updatable);
  layer_kind(layer).write(model, layer, *out);
}

void write_double(const DoubleParameter& p, spec::DoubleParameter* out) {
  out->set_defaultvalue(p.default_value);
  if (p.range) {
    out->mutable_range()->set_minvalue((*p.range)[0]);
    out->mutable_range()->set_maxvalue((*p.range)[1]);
  }
}

// Core ML allows a set or a range, not both: a set wins.
void write_int(const Int64Parameter& p, spec::Int64Parameter* out) {
  out->set_defaultvalue(p.default_value);
  if (!p.set.empty()) {
    for (int64_t value : p.set) out->mutable_set()->add_values(value);
  } else if (p.range) {
    out->mutable_range()->set_minvalue((*p.range)[0]);
    out->mutable_range()->set_maxvalue((*p.range)[1]);
  }
}

// Parameters a file left out (present == false) stay left out.
void write_update(const UpdateParameters& update, spec::NetworkUpdateParameters* out) {
  for (const Loss& loss : update.losses) {
    spec::LossLayer* l = out->add_losslayers();
    l->set_name(loss.name);
    if (loss.type == LossType::kCategoricalCrossEntropy) {
      l->mutable_categoricalcrossentropylosslayer()->set_input(loss.input);
      l->mutable_categoricalcrossentropylosslayer()->set_target(loss.target);
    } else {
      l->mutable_meansquarederrorlosslayer()->set_input(loss.input);
      l->mutable_meansquarederrorlosslayer()->set_target(loss.target);
    }
  }
  if (const Adam* adam = std::get_if<Adam>(&update.optimizer)) {
    spec::AdamOptimizer* a = out->mutable_optimizer()->mutable_adamoptimizer();
    if (adam->learning_rate.present) write_double(adam->learning_rate, a->mutable_learningrate());
    if (adam->mini_batch_size.present) write_int(adam->mini_batch_size, a->mutable_minibatchsize());
    if (adam->beta1.present) write_double(adam->beta1, a->mutable_beta1());
    if (adam->beta2.present) write_double(adam->beta2, a->mutable_beta2());
    if (adam->eps.present) write_double(adam->eps, a->mutable_eps());
  } else {
    const Sgd& sgd = std::get<Sgd>(update.optimizer);
    spec::SGDOptimizer* s = out->mutable_optimizer()->mutable_sgdoptimizer();
    if (sgd.learning_rate.present) write_double(sgd.learning_rate, s->mutable_learningrate());
    if (sgd.mini_batch_size.present) write_int(sgd.mini_batch_size, s->mutable_minibatchsize());
    if (sgd.momentum.present) write_double(sgd.momentum, s->mutable_momentum());
  }
  if (update.epochs.present) write_int(update.epochs, out->mutable_epochs());
  out->mutable_shuffle()->set_defaultvalue(update.shuffle);
  if (update.seed && update.seed->present) write_int(*update.seed, out->mutable_seed());
}

template <typename Network>
void write_network(const Model& model, Network* out) {
  for (const ImageScaler& scaler : model.preprocessing) {
    spec::NeuralNetworkPreprocessing* p = out->add_preprocessing();
    p->set_featurename(scaler.feature_name);
    spec::NeuralNetworkImageScaler* s = p->mutable_scaler();
    s->set_channelscale(scaler.channel_scale);
    s->set_bluebias(scaler.blue_bias);
    s->set_greenbias(scaler.green_bias);
    s->set_redbias(scaler.red_bias);
    s->set_graybias(scaler.gray_bias);
  }
  if (model.exact_array_mapping) out->set_arrayinputshapemapping(spec::EXACT_ARRAY_MAPPING);
  if (model.rank4_image_mapping) out->set_imageinputshapemapping(spec::RANK4_IMAGE_MAPPING);
  for (const Layer& layer : model.layers) write_layer(model, layer, out->add_layers());
  if (model.update) write_update(*model.update, out->mutable_updateparams());
}

}  // namespace

spec::Model model_to_spec(const Model& model) {
  try {
    validate_structure(model);
  } catch (const Error& e) {
    throw Error(std::string("cannot write the model: ") + e.what());
  }
  if (model.update) {
    const ValidationReport report = validate_coreml(model);
    if (!report.ok()) {
      std::string list;
      for (const std::string& error : report.errors) list += "\n  - " + error;
      throw Error("cannot write the updatable model: Core ML would reject it:" + list);
    }
  }
  spec::Model m;
  m.set_specificationversion(model.metadata.specification_version);
  spec::ModelDescription* d = m.mutable_description();
  for (const Feature& f : model.inputs) write_feature(f, d->add_input());
  for (const Feature& f : model.outputs) write_feature(f, d->add_output());
  d->set_predictedfeaturename(model.metadata.predicted_feature_name);
  d->set_predictedprobabilitiesname(model.metadata.predicted_probabilities_name);
  for (const Feature& f : model.training_inputs) write_feature(f, d->add_traininginput());
  spec::Metadata* metadata = d->mutable_metadata();
  metadata->set_shortdescription(model.metadata.short_description);
  metadata->set_versionstring(model.metadata.version_string);
  metadata->set_author(model.metadata.author);
  metadata->set_license(model.metadata.license);
  for (const auto& [key, value] : model.metadata.user_defined) {
    (*metadata->mutable_userdefined())[key] = value;
  }
  m.set_isupdatable(model.update.has_value());
  switch (model.kind) {
    case ModelKind::kNeuralNetwork:
      write_network(model, m.mutable_neuralnetwork());
      break;
    case ModelKind::kRegressor:
      write_network(model, m.mutable_neuralnetworkregressor());
      break;
    case ModelKind::kClassifier: {
      spec::NeuralNetworkClassifier* c = m.mutable_neuralnetworkclassifier();
      write_network(model, c);
      if (!model.class_labels.int_labels.empty()) {
        c->mutable_int64classlabels()->mutable_vector()->Add(model.class_labels.int_labels.begin(),
                                                             model.class_labels.int_labels.end());
      } else {
        for (const std::string& label : model.class_labels.string_labels) {
          c->mutable_stringclasslabels()->add_vector(label);
        }
      }
      c->set_labelprobabilitylayername(model.label_probability_layer);
      break;
    }
  }
  return m;
}

}  // namespace coreml

std::string serialize_mlmodel(const Model& model) {
  return coreml::serialize_spec(coreml::model_to_spec(model));
}

void write_mlmodel(const Model& model, const std::string& path) {
  std::string bytes;
  try {
    bytes = serialize_mlmodel(model);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  write_file_atomically(path, bytes);
}

}  // namespace edgetrain
