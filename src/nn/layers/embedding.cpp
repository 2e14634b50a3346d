// Embedding lookups: Core ML's `embedding` ((..., 1, 1, 1) → (..., outputChannels, 1, 1)) and
// `embeddingND` ((..., 1) → (..., embeddingSize)). Both read each input value as an index into a
// vocabulary and write column `index` of the weights (size, vocabulary), as Core ML stores them,
// plus the bias. An index outside the vocabulary (or not a number) gives zeros plus the bias, never
// a read out of bounds. The predictor refuses it wherever it arises (Op::invalid_input); training
// and evaluation refuse a sample holding one in a model input an embedding reads directly
// (LossHead::check_data), so only indices computed inside a network can meet the zeros there.
// Indices carry no gradient (differentiable() is false: nothing flows to the input); the weights
// and bias get gradients when the layer trains, an edgetrain extension. Keeps nothing for
// backward, which reads the indices again.
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"

namespace edgetrain {
namespace {

struct Lookup {
  int64_t per_sample = 1;  // indices in one sample
  int vocabulary = 0;
  int size = 0;                       // values per embedding
  const char* vocabulary_field = "";  // "inputDim" or "vocabSize", for messages
};

// The index a value names, or -1 when it names none (negative, too large, NaN). A fraction is
// rounded toward zero here; invalid_input refuses it where input can be refused.
int64_t index_of(float value, int vocabulary) {
  return value >= 0.0f && value < float(vocabulary) ? int64_t(value) : -1;
}

class EmbeddingOp : public Op {
 public:
  EmbeddingOp(Lookup lookup, size_t weights, std::optional<size_t> bias, bool trains)
      : lookup_(lookup), weights_(weights), bias_(bias), trains_(trains) {}

  // out (n · per_sample, size); in (n · per_sample) indices.
  void forward(const OpArgs& a) const override {
    const float* weights = a.parameters + weights_;
    const float* bias = bias_ ? a.parameters + *bias_ : nullptr;
    const int64_t lookups = a.n * lookup_.per_sample;
    const int vocabulary = lookup_.vocabulary, size = lookup_.size;
    for (int64_t i = 0; i < lookups; ++i) {
      float* out = a.out[0] + size_t(i) * size;
      const int64_t index = index_of(a.in[0][i], vocabulary);
      for (int c = 0; c < size; ++c) {
        out[c] = (index >= 0 ? weights[size_t(c) * vocabulary + size_t(index)] : 0.0f) +
                 (bias ? bias[c] : 0.0f);
      }
    }
  }

  void backward(const OpArgs& a) const override {
    if (!trains_ || !a.dparameters) return;
    float* dweights = a.dparameters + weights_;
    float* dbias = bias_ ? a.dparameters + *bias_ : nullptr;
    const int64_t lookups = a.n * lookup_.per_sample;
    const int vocabulary = lookup_.vocabulary, size = lookup_.size;
    for (int64_t i = 0; i < lookups; ++i) {
      const float* dout = a.dout[0] + size_t(i) * size;
      const int64_t index = index_of(a.in[0][i], vocabulary);
      for (int c = 0; c < size; ++c) {
        if (index >= 0) dweights[size_t(c) * vocabulary + size_t(index)] += dout[c];
        if (dbias) dbias[c] += dout[c];
      }
    }
  }
  bool backward_reads_output() const override { return false; }

  bool checks_input(size_t) const override { return true; }
  std::string invalid_input(size_t, const float* values, int n) const override {
    const int64_t lookups = n * lookup_.per_sample;
    for (int64_t i = 0; i < lookups; ++i) {
      const float value = values[i];
      if (index_of(value, lookup_.vocabulary) >= 0 && value == std::floor(value)) continue;
      char text[48];
      std::snprintf(text, sizeof text, "%g", double(value));
      std::string where;
      if (n > 1) where += "sample " + std::to_string(i / lookup_.per_sample);
      if (lookup_.per_sample > 1) {
        where += (where.empty() ? "" : ", ") + std::string("position ") +
                 std::to_string(i % lookup_.per_sample);
      }
      return "value " + std::string(text) + (where.empty() ? "" : " (" + where + ")") +
             " is not an index: " + lookup_.vocabulary_field + " " +
             std::to_string(lookup_.vocabulary) + " allows whole numbers 0 to " +
             std::to_string(lookup_.vocabulary - 1);
    }
    return {};
  }

 private:
  Lookup lookup_;
  size_t weights_;
  std::optional<size_t> bias_;
  bool trains_;
};

// The two kinds differ only in names and in the shapes they read; the fields below say how.
struct EmbeddingFields {
  using Params = Embedding;
  using Message = spec::EmbeddingLayerParams;
  static constexpr const char* kName = "embedding";
  static constexpr int kField = spec::NeuralNetworkLayer::kEmbedding;
  static constexpr const char *kVocabularyName = "inputDim", *kSizeName = "outputChannels";
  static constexpr int Params::*kVocabulary = &Embedding::input_dim;
  static constexpr int Params::*kSize = &Embedding::output_channels;
  static const Message& message(const spec::NeuralNetworkLayer& m) { return m.embedding(); }
  static Message* mutable_message(spec::NeuralNetworkLayer& m) { return m.mutable_embedding(); }
  static uint64_t vocabulary(const Message& p) { return p.inputdim(); }
  static uint64_t size(const Message& p) { return p.outputchannels(); }
  static void set_sizes(Message* p, const Params& e) {
    p->set_inputdim(uint64_t(e.input_dim));
    p->set_outputchannels(uint64_t(e.output_channels));
  }
  // (..., 1, 1, 1) → (..., size, 1, 1)
  static Shape output(const LayerContext& context, int size) {
    const Chw in = classic_view(context);
    if (in.c != 1 || in.h != 1 || in.w != 1) {
      context.fail(context.input_text(0) +
                   " but embedding reads one index per (1, 1, 1): its last three dimensions "
                   "must be 1 (leading ones are a sequence)");
    }
    return classic_shape(context.inputs[0], size, 1, 1);
  }
};

struct EmbeddingNDFields {
  using Params = EmbeddingND;
  using Message = spec::EmbeddingNDLayerParams;
  static constexpr const char* kName = "embeddingND";
  static constexpr int kField = spec::NeuralNetworkLayer::kEmbeddingND;
  static constexpr const char *kVocabularyName = "vocabSize", *kSizeName = "embeddingSize";
  static constexpr int Params::*kVocabulary = &EmbeddingND::vocab_size;
  static constexpr int Params::*kSize = &EmbeddingND::embedding_size;
  static const Message& message(const spec::NeuralNetworkLayer& m) { return m.embeddingnd(); }
  static Message* mutable_message(spec::NeuralNetworkLayer& m) { return m.mutable_embeddingnd(); }
  static uint64_t vocabulary(const Message& p) { return p.vocabsize(); }
  static uint64_t size(const Message& p) { return p.embeddingsize(); }
  static void set_sizes(Message* p, const Params& e) {
    p->set_vocabsize(uint64_t(e.vocab_size));
    p->set_embeddingsize(uint64_t(e.embedding_size));
  }
  // (..., 1) → (..., size)
  static Shape output(const LayerContext& context, int size) {
    const Shape& in = context.inputs[0];
    if (in.rank() < 2 || in.back() != 1) {
      context.fail(context.input_text(0) +
                   " but embeddingND reads indices of shape (..., 1): rank 2 or more with a last "
                   "dimension of 1");
    }
    Shape out = in;
    out[in.rank() - 1] = size;
    return out;
  }
};

template <typename Fields>
class LookupKind : public LayerKind {
  using Params = typename Fields::Params;

 public:
  const char* name() const override { return Fields::kName; }
  int coreml_field() const override { return Fields::kField; }
  bool differentiable(const Layer&) const override { return false; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& e = std::get<Params>(context.layer.params);
    if (e.*Fields::kVocabulary <= 0)
      context.fail(std::string(Fields::kVocabularyName) + " must be positive");
    if (e.*Fields::kSize <= 0) context.fail(std::string(Fields::kSizeName) + " must be positive");
    return {Fields::output(context, e.*Fields::kSize)};
  }

  // Weights (size, vocabulary), bias (size); the weights start like a dense layer's reading a
  // one-hot vector, which is what a lookup computes.
  std::vector<ParameterSpec> parameters(const Layer& layer) const override {
    const auto& e = std::get<Params>(layer.params);
    const int vocabulary = e.*Fields::kVocabulary, size = e.*Fields::kSize;
    std::vector<ParameterSpec> specs{{.name = "weights",
                                      .shape = {size, vocabulary},
                                      .random = true,
                                      .fan_in = vocabulary,
                                      .fan_out = size}};
    if (e.has_bias) specs.push_back({.name = "bias", .shape = {size}});
    return specs;
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& e = std::get<Params>(c.layer.params);
    const LayerParameter* bias = c.layer.parameter("bias");
    const Lookup lookup{.per_sample = c.inputs[0].count(),
                        .vocabulary = e.*Fields::kVocabulary,
                        .size = e.*Fields::kSize,
                        .vocabulary_field = Fields::kVocabularyName};
    return std::make_unique<EmbeddingOp>(
        lookup, c.layer.parameter("weights")->slice.offset,
        bias ? std::optional<size_t>(bias->slice.offset) : std::nullopt, c.trains_parameters);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const auto& p = Fields::message(message);
    Params e;
    const int vocabulary = e.*Fields::kVocabulary =
                               reader.checked(Fields::vocabulary(p), LayerReader::kMaxChannels,
                                              Fields::kVocabularyName);
    const int size = e.*Fields::kSize = reader.checked(Fields::size(p), LayerReader::kMaxChannels,
                                                       Fields::kSizeName);
    e.has_bias = p.hasbias();
    if (vocabulary == 0) reader.fail(std::string(Fields::kVocabularyName) + " must be positive");
    if (size == 0) reader.fail(std::string(Fields::kSizeName) + " must be positive");
    reader.layer().params = e;
    reader.tensor("weights", p.weights(), uint64_t(size) * uint64_t(vocabulary), uint64_t(size));
    if (e.has_bias) {
      reader.tensor("bias", p.bias(), uint64_t(size), uint64_t(size));
    } else {
      reader.no_tensor(p.bias(), "bias (hasBias is false)");
    }
  }

  void write(const Model& model, const Layer& layer,
             spec::NeuralNetworkLayer& message) const override {
    const auto& e = std::get<Params>(layer.params);
    auto* p = Fields::mutable_message(message);
    Fields::set_sizes(p, e);
    p->set_hasbias(e.has_bias);
    write_tensor(model, layer, "weights", p->mutable_weights());
    write_tensor(model, layer, "bias", p->mutable_bias());
  }

  std::string notes() const override {
    return std::string("indices outside ") + Fields::kVocabularyName +
           " give zeros plus the bias, and prediction, training and evaluation refuse them; no "
           "gradient to the indices, but the weights train when updatable (an edgetrain extension)";
  }
  std::string describe(const Layer& layer) const override {
    const auto& e = std::get<Params>(layer.params);
    return "vocabulary " + std::to_string(e.*Fields::kVocabulary) + " -> " +
           std::to_string(e.*Fields::kSize) + (e.has_bias ? "" : ", no bias");
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Embedding>() {
  static const LookupKind<EmbeddingFields> kind;
  return kind;
}

template <>
const LayerKind& kind_for<EmbeddingND>() {
  static const LookupKind<EmbeddingNDFields> kind;
  return kind;
}

}  // namespace edgetrain
