// Embedding lookups: Core ML's `embedding` ((..., 1, 1, 1) → (..., outputChannels, 1, 1)) and
// `embeddingND` ((..., 1) → (..., embeddingSize)). Both read each input value as an index into a
// vocabulary and write column `index` of the weights (size, vocabulary), as Core ML stores them,
// plus the bias. An index outside the vocabulary (or not a number) gives zeros plus the bias, never
// a read out of bounds; the predictor and the data checks refuse it first (Op::invalid_input).
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

// The index a value names, or -1 when it names none.
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

// What both kinds share: weights (size, vocabulary) and an optional bias (size).
std::vector<ParameterSpec> lookup_parameters(int vocabulary, int size, bool has_bias) {
  // Initialised like a dense layer reading a one-hot vector, which is what a lookup computes.
  std::vector<ParameterSpec> specs{{.name = "weights",
                                    .shape = {size, vocabulary},
                                    .random = true,
                                    .fan_in = vocabulary,
                                    .fan_out = size}};
  if (has_bias) specs.push_back({.name = "bias", .shape = {size}});
  return specs;
}

std::unique_ptr<Op> compile_lookup(const CompileContext& c, Lookup lookup) {
  const LayerParameter* bias = c.layer.parameter("bias");
  lookup.per_sample = c.inputs[0].count();
  return std::make_unique<EmbeddingOp>(
      lookup, c.layer.parameter("weights")->slice.offset,
      bias ? std::optional<size_t>(bias->slice.offset) : std::nullopt, c.trains_parameters);
}

void read_lookup_tensors(LayerReader& reader, int vocabulary, int size, bool has_bias,
                         const spec::WeightParams& weights, const spec::WeightParams& bias) {
  reader.tensor("weights", weights, uint64_t(size) * uint64_t(vocabulary), uint64_t(size));
  if (has_bias) {
    reader.tensor("bias", bias, uint64_t(size), uint64_t(size));
  } else {
    reader.no_tensor(bias, "bias (hasBias is false)");
  }
}

std::string describe_lookup(int vocabulary, int size, bool has_bias) {
  return "vocabulary " + std::to_string(vocabulary) + " -> " + std::to_string(size) +
         (has_bias ? "" : ", no bias");
}

class EmbeddingKind : public LayerKind {
 public:
  const char* name() const override { return "embedding"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kEmbedding; }
  bool differentiable(const Layer&) const override { return false; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& embedding = std::get<Embedding>(context.layer.params);
    if (embedding.input_dim <= 0) context.fail("inputDim must be positive");
    if (embedding.output_channels <= 0) context.fail("outputChannels must be positive");
    const Chw in = classic_view(context);
    if (in.c != 1 || in.h != 1 || in.w != 1) {
      context.fail(context.input_text(0) +
                   " but embedding reads one index per (1, 1, 1): its last three dimensions "
                   "must be 1 (leading ones are a sequence)");
    }
    return {classic_shape(context.inputs[0], embedding.output_channels, 1, 1)};
  }
  std::vector<ParameterSpec> parameters(const Layer& layer) const override {
    const auto& e = std::get<Embedding>(layer.params);
    return lookup_parameters(e.input_dim, e.output_channels, e.has_bias);
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& e = std::get<Embedding>(c.layer.params);
    return compile_lookup(
        c, {.vocabulary = e.input_dim, .size = e.output_channels, .vocabulary_field = "inputDim"});
  }
  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::EmbeddingLayerParams& p = message.embedding();
    Embedding e;
    e.input_dim = reader.checked(p.inputdim(), LayerReader::kMaxChannels, "inputDim");
    e.output_channels =
        reader.checked(p.outputchannels(), LayerReader::kMaxChannels, "outputChannels");
    e.has_bias = p.hasbias();
    if (e.input_dim == 0) reader.fail("inputDim must be positive");
    if (e.output_channels == 0) reader.fail("outputChannels must be positive");
    reader.layer().params = e;
    read_lookup_tensors(reader, e.input_dim, e.output_channels, e.has_bias, p.weights(), p.bias());
  }
  void write(const Model& model, const Layer& layer,
             spec::NeuralNetworkLayer& message) const override {
    const auto& e = std::get<Embedding>(layer.params);
    spec::EmbeddingLayerParams* p = message.mutable_embedding();
    p->set_inputdim(uint64_t(e.input_dim));
    p->set_outputchannels(uint64_t(e.output_channels));
    p->set_hasbias(e.has_bias);
    write_tensor(model, layer, "weights", p->mutable_weights());
    write_tensor(model, layer, "bias", p->mutable_bias());
  }
  std::string describe(const Layer& layer) const override {
    const auto& e = std::get<Embedding>(layer.params);
    return describe_lookup(e.input_dim, e.output_channels, e.has_bias);
  }
};

class EmbeddingNDKind : public LayerKind {
 public:
  const char* name() const override { return "embeddingND"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kEmbeddingND; }
  bool differentiable(const Layer&) const override { return false; }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& e = std::get<EmbeddingND>(context.layer.params);
    if (e.vocab_size <= 0) context.fail("vocabSize must be positive");
    if (e.embedding_size <= 0) context.fail("embeddingSize must be positive");
    const Shape& in = context.inputs[0];
    if (in.rank() < 2 || in.back() != 1) {
      context.fail(context.input_text(0) +
                   " but embeddingND reads indices of shape (..., 1): rank 2 or more with a last "
                   "dimension of 1");
    }
    Shape out = in;
    out[in.rank() - 1] = e.embedding_size;
    return {out};
  }
  std::vector<ParameterSpec> parameters(const Layer& layer) const override {
    const auto& e = std::get<EmbeddingND>(layer.params);
    return lookup_parameters(e.vocab_size, e.embedding_size, e.has_bias);
  }
  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& e = std::get<EmbeddingND>(c.layer.params);
    return compile_lookup(
        c, {.vocabulary = e.vocab_size, .size = e.embedding_size, .vocabulary_field = "vocabSize"});
  }
  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::EmbeddingNDLayerParams& p = message.embeddingnd();
    EmbeddingND e;
    e.vocab_size = reader.checked(p.vocabsize(), LayerReader::kMaxChannels, "vocabSize");
    e.embedding_size =
        reader.checked(p.embeddingsize(), LayerReader::kMaxChannels, "embeddingSize");
    e.has_bias = p.hasbias();
    if (e.vocab_size == 0) reader.fail("vocabSize must be positive");
    if (e.embedding_size == 0) reader.fail("embeddingSize must be positive");
    reader.layer().params = e;
    read_lookup_tensors(reader, e.vocab_size, e.embedding_size, e.has_bias, p.weights(), p.bias());
  }
  void write(const Model& model, const Layer& layer,
             spec::NeuralNetworkLayer& message) const override {
    const auto& e = std::get<EmbeddingND>(layer.params);
    spec::EmbeddingNDLayerParams* p = message.mutable_embeddingnd();
    p->set_vocabsize(uint64_t(e.vocab_size));
    p->set_embeddingsize(uint64_t(e.embedding_size));
    p->set_hasbias(e.has_bias);
    write_tensor(model, layer, "weights", p->mutable_weights());
    write_tensor(model, layer, "bias", p->mutable_bias());
  }
  std::string describe(const Layer& layer) const override {
    const auto& e = std::get<EmbeddingND>(layer.params);
    return describe_lookup(e.vocab_size, e.embedding_size, e.has_bias);
  }
};

}  // namespace

template <>
const LayerKind& kind_for<Embedding>() {
  static const EmbeddingKind kind;
  return kind;
}

template <>
const LayerKind& kind_for<EmbeddingND>() {
  static const EmbeddingNDKind kind;
  return kind;
}

}  // namespace edgetrain
