// The parts of a .mlmodel around the layers: feature descriptions (the model's inputs, outputs and
// training inputs) and the on-device update parameters. Errors name the file, the feature or loss,
// and the field.
#include "coreml/model_spec.h"
#include "edgetrain/error.h"
#include "nn/shapes.h"

namespace edgetrain::coreml {
namespace {

constexpr int64_t kMaxDimension = int64_t(1) << 24;
constexpr int64_t kMaxImageSide = 65536;
constexpr int kMaxRank = 5;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw Error(source + ": " + what);
}

}  // namespace

Feature feature_from_spec(const spec::FeatureDescription& d, const std::string& kind,
                          const std::string& source) {
  if (d.name().empty()) fail(source, kind + " has no name");
  const std::string where = kind + " '" + d.name() + "'";
  Feature f;
  f.name = d.name();
  f.description = d.shortdescription();
  f.optional = d.type().isoptional();
  const spec::FeatureType& type = d.type();
  switch (type.Type_case()) {
    case spec::FeatureType::kMultiArrayType: {
      const spec::ArrayFeatureType& array = type.multiarraytype();
      switch (array.datatype()) {
        case spec::ArrayFeatureType::FLOAT32:
          f.type = FeatureType::kFloat32;
          break;
        case spec::ArrayFeatureType::DOUBLE:
          f.type = FeatureType::kDouble;
          break;
        case spec::ArrayFeatureType::INT32:
          f.type = FeatureType::kInt32;
          break;
        default:
          fail(source, where + ": multi-array data type " +
                           (spec::ArrayFeatureType::ArrayDataType_IsValid(array.datatype())
                                ? spec::ArrayFeatureType::ArrayDataType_Name(array.datatype())
                                : std::to_string(array.datatype())) +
                           " is not supported (FLOAT32, DOUBLE and INT32 are)");
      }
      if (array.shape_size() > kMaxRank) {
        fail(source, where + ": shape has rank " + std::to_string(array.shape_size()) +
                         ", at most " + std::to_string(kMaxRank) + " is supported");
      }
      for (int64_t dimension : array.shape()) {
        if (dimension <= 0 || dimension > kMaxDimension) {
          f.shape.assign(array.shape().begin(), array.shape().end());
          fail(source, where + ": shape " + shape_string(f.shape) + " has dimension " +
                           std::to_string(dimension) + "; every dimension must be between 1 and " +
                           std::to_string(kMaxDimension));
        }
      }
      f.shape.assign(array.shape().begin(), array.shape().end());
      break;
    }
    case spec::FeatureType::kImageType: {
      const spec::ImageFeatureType& image = type.imagetype();
      f.type = FeatureType::kImage;
      if (image.width() <= 0 || image.height() <= 0 || image.width() > kMaxImageSide ||
          image.height() > kMaxImageSide) {
        fail(source, where + ": image size " + std::to_string(image.width()) + "x" +
                         std::to_string(image.height()) +
                         " is out of range (1 to 65536 pixels a side)");
      }
      f.image.width = image.width();
      f.image.height = image.height();
      switch (image.colorspace()) {
        case spec::ImageFeatureType::GRAYSCALE:
          f.image.color_space = ColorSpace::kGrayscale;
          break;
        case spec::ImageFeatureType::RGB:
          f.image.color_space = ColorSpace::kRGB;
          break;
        case spec::ImageFeatureType::BGR:
          f.image.color_space = ColorSpace::kBGR;
          break;
        default:
          fail(source, where + ": image color space " + std::to_string(image.colorspace()) +
                           " is not supported (GRAYSCALE, RGB and BGR are)");
      }
      break;
    }
    case spec::FeatureType::kInt64Type:
      f.type = FeatureType::kInt64;
      break;
    case spec::FeatureType::kStringType:
      f.type = FeatureType::kString;
      break;
    case spec::FeatureType::kDictionaryType:
      f.type = FeatureType::kDictionary;
      switch (type.dictionarytype().KeyType_case()) {
        case spec::DictionaryFeatureType::kInt64KeyType:
          f.dictionary_key = FeatureType::kInt64;
          break;
        case spec::DictionaryFeatureType::kStringKeyType:
          f.dictionary_key = FeatureType::kString;
          break;
        default:
          fail(source, where + ": the dictionary type has no key type");
      }
      break;
    case spec::FeatureType::kDoubleType:
      fail(source,
           where + " is a scalar Double, which edgetrain does not support (a multi-array is)");
    default: {
      const auto& unknown = type.GetReflection()->GetUnknownFields(type);
      for (int i = 0; i < unknown.field_count(); ++i) {
        const int number = unknown.field(i).number();
        if (number == 7 || number == 8) {
          fail(source, where + " is a " + (number == 7 ? "sequence" : "state") +
                           ", which edgetrain does not support");
        }
      }
      fail(source, where + " has no type");
    }
  }
  return f;
}

UpdateParameters update_from_spec(const spec::NetworkUpdateParameters& u,
                                  const std::string& source) {
  UpdateParameters update;
  const std::string where = "update parameters";
  for (int i = 0; i < u.losslayers_size(); ++i) {
    const spec::LossLayer& l = u.losslayers(i);
    Loss loss{.name = l.name()};
    if (l.has_categoricalcrossentropylosslayer()) {
      loss.type = LossType::kCategoricalCrossEntropy;
      loss.input = l.categoricalcrossentropylosslayer().input();
      loss.target = l.categoricalcrossentropylosslayer().target();
    } else if (l.has_meansquarederrorlosslayer()) {
      loss.type = LossType::kMeanSquaredError;
      loss.input = l.meansquarederrorlosslayer().input();
      loss.target = l.meansquarederrorlosslayer().target();
    } else {
      fail(source, where + ": loss layer " + std::to_string(i) + " '" + l.name() +
                       "' has no loss type edgetrain knows (categoricalCrossEntropy, "
                       "meanSquaredError)");
    }
    update.losses.push_back(loss);
  }
  auto read_double = [](bool present, const spec::DoubleParameter& p, DoubleParameter unset) {
    if (!present) {
      unset.present = false;
      return unset;
    }
    DoubleParameter result{p.defaultvalue(), std::nullopt};
    if (p.has_range()) result.range = {{p.range().minvalue(), p.range().maxvalue()}};
    return result;
  };
  auto read_int = [](bool present, const spec::Int64Parameter& p, Int64Parameter unset) {
    if (!present) {
      unset.present = false;
      return unset;
    }
    Int64Parameter result{p.defaultvalue(), std::nullopt, {}};
    if (p.has_range()) result.range = {{p.range().minvalue(), p.range().maxvalue()}};
    if (p.has_set()) result.set.assign(p.set().values().begin(), p.set().values().end());
    return result;
  };
  const spec::Optimizer& o = u.optimizer();
  if (o.has_sgdoptimizer()) {
    const spec::SGDOptimizer& s = o.sgdoptimizer();
    Sgd sgd;
    sgd.learning_rate = read_double(s.has_learningrate(), s.learningrate(), sgd.learning_rate);
    sgd.mini_batch_size = read_int(s.has_minibatchsize(), s.minibatchsize(), sgd.mini_batch_size);
    sgd.momentum = read_double(s.has_momentum(), s.momentum(), sgd.momentum);
    update.optimizer = sgd;
  } else if (o.has_adamoptimizer()) {
    const spec::AdamOptimizer& a = o.adamoptimizer();
    Adam adam;
    adam.learning_rate = read_double(a.has_learningrate(), a.learningrate(), adam.learning_rate);
    adam.mini_batch_size = read_int(a.has_minibatchsize(), a.minibatchsize(), adam.mini_batch_size);
    adam.beta1 = read_double(a.has_beta1(), a.beta1(), adam.beta1);
    adam.beta2 = read_double(a.has_beta2(), a.beta2(), adam.beta2);
    adam.eps = read_double(a.has_eps(), a.eps(), adam.eps);
    update.optimizer = adam;
  } else {
    fail(source, where + ": no optimizer edgetrain knows (sgdOptimizer, adamOptimizer)");
  }
  update.epochs = read_int(u.has_epochs(), u.epochs(), update.epochs);
  update.shuffle = u.has_shuffle() && u.shuffle().defaultvalue();
  if (u.has_seed()) update.seed = read_int(true, u.seed(), {});
  return update;
}

}  // namespace edgetrain::coreml
