// The layer kinds: one parameter struct per kind, as Core ML's NeuralNetwork specification names
// them, and LayerParams, the one list of kinds. A model's Layer holds one of these plus its name,
// inputs, outputs and parameter tensors (model.h).
//
// Shapes are per sample (the batch is never part of them). Core ML's classic layers (convolution,
// pooling, batchnorm, softmax, concat, ...) read the last three dimensions as (C, H, W) and treat
// any leading ones as more batch; a rank-1 blob [C] is (C, 1, 1). The ND layers (spec 4+:
// concatND, reshapeStatic, squeeze, expandDims, flattenTo2D, embeddingND, batchedMatmul) work on
// the per-sample tensor as it is.
//
// Adding a kind: its struct here and one line in LayerParams, one file in src/nn/layers/ with its
// whole contract (shape inference, parameters, forward, backward, Core ML read and write,
// description), and its message in src/schema/coreml.proto. Nothing else switches on kinds.
#pragma once

#include <array>
#include <cstdint>
#include <variant>
#include <vector>

namespace edgetrain {

enum class Padding { kValid, kSame };
// Where same padding puts the odd pixel when the total is odd (Core ML's SamePaddingMode).
enum class SamePaddingMode { kBottomRightHeavy, kTopLeftHeavy };

// (out, in / groups, kernel height, kernel width) weights as Core ML stores them; bias (out).
struct Convolution {
  int output_channels = 0;
  int kernel_channels = 0;  // input channels / groups; 0: inferred from the input when built
  int groups = 1;
  std::array<int, 2> kernel_size{3, 3};  // (height, width)
  std::array<int, 2> stride{1, 1};
  std::array<int, 2> dilation{1, 1};
  Padding padding = Padding::kValid;
  SamePaddingMode same_mode = SamePaddingMode::kBottomRightHeavy;
  // Valid padding with explicit amounts (top, bottom, left, right), as Core ML's ValidPadding.
  std::array<int, 4> padding_amounts{0, 0, 0, 0};
  bool has_bias = true;
  bool operator==(const Convolution&) const = default;
};

enum class PoolingType { kMax, kAverage, kL2 };
struct Pooling {
  PoolingType type = PoolingType::kMax;
  std::array<int, 2> kernel_size{2, 2};
  std::array<int, 2> stride{2, 2};
  Padding padding = Padding::kValid;
  SamePaddingMode same_mode = SamePaddingMode::kBottomRightHeavy;
  std::array<int, 4> padding_amounts{0, 0, 0, 0};  // valid padding: (top, bottom, left, right)
  // Valid padding whose output size rounds up (Core ML's includeLastPixel): a last, partial window
  // covers the pixels a rounded-down size would leave out.
  bool include_last_pixel = false;
  bool global = false;  // one output per channel over the whole plane
  bool average_excludes_padding = true;
  bool operator==(const Pooling&) const = default;
};

// Every nonlinearity of Core ML's ActivationParams. PReLU and parametric softplus keep their
// per-channel alpha (and beta) as parameter tensors of the layer.
enum class ActivationType {
  kLinear,             // alpha * x + beta
  kReLU,               // max(0, x)
  kLeakyReLU,          // x >= 0 ? x : alpha * x
  kThresholdedReLU,    // x > alpha ? x : 0
  kPReLU,              // x >= 0 ? x : alpha[c] * x
  kTanh,               //
  kScaledTanh,         // alpha * tanh(beta * x)
  kSigmoid,            //
  kSigmoidHard,        // min(max(alpha * x + beta, 0), 1)
  kELU,                // x >= 0 ? x : alpha * (exp(x) - 1)
  kSoftsign,           // x / (1 + |x|)
  kSoftplus,           // log(1 + exp(x))
  kParametricSoftplus  // alpha[c] * log(1 + exp(beta[c] * x))
};
struct Activation {
  ActivationType type = ActivationType::kReLU;
  float alpha = 0.0f, beta = 0.0f;  // scalar parameters where the type has them
  // PReLU and parametric softplus: channels of the per-channel parameters; 0: inferred.
  int channels = 0;
  bool operator==(const Activation&) const = default;
};
inline Activation ReLU() { return {ActivationType::kReLU}; }
inline Activation Sigmoid() { return {ActivationType::kSigmoid}; }
inline Activation Tanh() { return {ActivationType::kTanh}; }
inline Activation Linear(float alpha = 1.0f, float beta = 0.0f) {
  return {ActivationType::kLinear, alpha, beta};
}
inline Activation LeakyReLU(float alpha = 0.3f) { return {ActivationType::kLeakyReLU, alpha}; }

enum class FlattenOrder { kChannelFirst, kChannelLast };
// (C, H, W) → (C·H·W, 1, 1), in (C, H, W) order or, channel-last, in (H, W, C) order.
struct Flatten {
  FlattenOrder order = FlattenOrder::kChannelFirst;
  bool operator==(const Flatten&) const = default;
};

// Dense layer: weights (out, in) as Core ML stores them, bias (out). Over the last dimensions of
// the input (Core ML's rules for each rank), so a sample may hold several rows.
struct InnerProduct {
  int input_channels = 0;  // 0: inferred from the input when built
  int output_channels = 0;
  bool has_bias = true;
  bool operator==(const InnerProduct&) const = default;
};

// Softmax over the channel axis (-3) of (C, H, W).
struct Softmax {
  bool operator==(const Softmax&) const = default;
};

// Batch normalisation over the channel axis (-3) of (C, H, W), any leading dimensions more batch:
// y = gamma[c] * (x - mean[c]) / sqrt(variance[c] + epsilon) + beta[c]. Parameters gamma, beta
// (trainable) and, unless compute_mean_var, the running mean and variance (state: training an
// updatable batchnorm updates them with momentum 0.1, as PyTorch does).
struct Batchnorm {
  int channels = 0;  // 0: inferred from the input when built
  // Statistics from the input itself instead of the stored mean and variance (Core ML's
  // computeMeanVar): per sample and channel with instance_normalization, else over the batch.
  bool compute_mean_var = false;
  bool instance_normalization = false;
  float epsilon = 1e-5f;  // a file's 0 means 1e-5 (Core ML's default)
  bool operator==(const Batchnorm&) const = default;
};

// Table lookup (Core ML's `embedding`): each input value is an index in [0, input_dim), and the
// output is column `index` of the weights (output_channels, input_dim), plus the bias. The input
// is (1, 1, 1) per index, with any leading dimensions (a sequence) kept: (..., 1, 1, 1) →
// (..., output_channels, 1, 1). Indices carry no gradient; the weights do when updatable.
struct Embedding {
  int input_dim = 0;        // vocabulary size
  int output_channels = 0;  // length of each embedding vector
  bool has_bias = false;
  bool operator==(const Embedding&) const = default;
};

// The ND lookup (Core ML's `embeddingND`): (..., 1) of indices in [0, vocab_size) → (...,
// embedding_size); weights (embedding_size, vocab_size), bias (embedding_size).
struct EmbeddingND {
  int vocab_size = 0;
  int embedding_size = 0;
  bool has_bias = false;
  bool operator==(const EmbeddingND&) const = default;
};

// Matrix product over the last two dimensions (Core ML's `batchedMatmul`). With two inputs a, b:
// op(a) · op(b), where op transposes when transpose_a / transpose_b is set, the leading
// dimensions broadcast (NumPy's rules), a rank-1 a is (1, D) and a rank-1 b is (D, 1); the output
// has rank max(2, rank a, rank b). With one input: a (..., X1) · weights (X1, X2) + bias (X2) →
// (..., X2); Core ML stores the weights column-major, i.e. as a row-major (X2, X1) block, the
// layout of inner product's (out, in), and so does the parameter block.
struct BatchedMatmul {
  bool transpose_a = false, transpose_b = false;  // two inputs only
  int weight_rows = 0;     // X1 (one input): the input's last dimension; 0: inferred when built
  int weight_columns = 0;  // X2 (one input): the output's last dimension
  bool has_bias = false;   // one input only
  bool operator==(const BatchedMatmul&) const = default;
};

using LayerParams = std::variant<Convolution, Pooling, Activation, Flatten, InnerProduct, Softmax,
                                 Batchnorm, Embedding, EmbeddingND, BatchedMatmul>;

}  // namespace edgetrain
