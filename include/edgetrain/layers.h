/**
 * @file layers.h
 * @brief The layer kinds: one parameter struct per kind, as Core ML's NeuralNetwork specification
 * names them, and LayerParams, the one list of kinds.
 *
 * A model's Layer holds one of these plus its name, inputs, outputs and parameter tensors
 * (model.h).
 *
 * Shapes are per sample (the batch is never part of them). Core ML's classic layers (convolution,
 * pooling, batchnorm, softmax, concat, ...) read the last three dimensions as (C, H, W) and treat
 * any leading ones as more batch; a rank-1 blob [C] is (C, 1, 1). The ND layers (spec 4+:
 * concatND, reshapeStatic, squeeze, expandDims, flattenTo2D, embeddingND, batchedMatmul,
 * softmaxND, sliceStatic, loadConstantND, the reduceSum family) work on the per-sample tensor as
 * it is.
 *
 * Adding a kind: its struct here and one line in LayerParams, one file in src/nn/layers/ with its
 * whole contract (shape inference, parameters, forward, backward, Core ML read and write,
 * description), and its message in src/schema/coreml.proto. Nothing else switches on kinds.
 */
#pragma once

#include <array>
#include <cstdint>
#include <variant>
#include <vector>

namespace edgetrain {

/** How a convolution or pooling window meets the border. */
enum class Padding {
  kValid,  ///< No padding beyond padding_amounts: the output shrinks.
  kSame    ///< Padded so the output is ceil(input / stride).
};
/** Where same padding puts the odd pixel when the total is odd (Core ML's SamePaddingMode). */
enum class SamePaddingMode {
  kBottomRightHeavy,  ///< The extra row / column at the bottom / right.
  kTopLeftHeavy       ///< The extra row / column at the top / left.
};

/**
 * Convolution: weights (out, in / groups, kernel height, kernel width) as Core ML stores them;
 * bias (out).
 */
struct Convolution {
  int output_channels = 0;  ///< Output channels (filters).
  int kernel_channels = 0;  ///< Input channels / groups; 0: inferred from the input when built.
  int groups = 1;           ///< Channel groups; input and output channels divide by it.
  std::array<int, 2> kernel_size{3, 3};  ///< (height, width).
  std::array<int, 2> stride{1, 1};       ///< (height, width).
  std::array<int, 2> dilation{1, 1};     ///< (height, width): spacing of the kernel's taps.
  Padding padding = Padding::kValid;     ///< Valid or same.
  SamePaddingMode same_mode = SamePaddingMode::kBottomRightHeavy;  ///< Same padding only.
  /** Valid padding with explicit amounts (top, bottom, left, right), as Core ML's ValidPadding. */
  std::array<int, 4> padding_amounts{0, 0, 0, 0};
  bool has_bias = true;                                 ///< A bias (out) parameter.
  bool operator==(const Convolution&) const = default;  ///< Every setting equal.
};

/** What a pooling window computes. */
enum class PoolingType {
  kMax,      ///< The largest value.
  kAverage,  ///< The mean.
  kL2        ///< sqrt(Σ x²).
};
/** Pooling over windows of the (H, W) plane, per channel. */
struct Pooling {
  PoolingType type = PoolingType::kMax;                            ///< Max, average or L2.
  std::array<int, 2> kernel_size{2, 2};                            ///< (height, width).
  std::array<int, 2> stride{2, 2};                                 ///< (height, width).
  Padding padding = Padding::kValid;                               ///< Valid or same.
  SamePaddingMode same_mode = SamePaddingMode::kBottomRightHeavy;  ///< Same padding only.
  std::array<int, 4> padding_amounts{0, 0, 0, 0};  ///< Valid padding: (top, bottom, left, right).
  /**
   * Valid padding whose output size rounds up (Core ML's includeLastPixel): a last, partial window
   * covers the pixels a rounded-down size would leave out.
   */
  bool include_last_pixel = false;
  bool global = false;                   ///< One output per channel over the whole plane.
  bool average_excludes_padding = true;  ///< Average: count only values inside the input.
  bool operator==(const Pooling&) const = default;  ///< Every setting equal.
};

/**
 * Every nonlinearity of Core ML's ActivationParams. PReLU and parametric softplus keep their
 * per-channel alpha (and beta) as parameter tensors of the layer.
 */
enum class ActivationType {
  kLinear,             ///< alpha * x + beta
  kReLU,               ///< max(0, x)
  kLeakyReLU,          ///< x >= 0 ? x : alpha * x
  kThresholdedReLU,    ///< x > alpha ? x : 0
  kPReLU,              ///< x >= 0 ? x : alpha[c] * x
  kTanh,               ///< tanh(x)
  kScaledTanh,         ///< alpha * tanh(beta * x)
  kSigmoid,            ///< 1 / (1 + exp(-x))
  kSigmoidHard,        ///< min(max(alpha * x + beta, 0), 1)
  kELU,                ///< x >= 0 ? x : alpha * (exp(x) - 1)
  kSoftsign,           ///< x / (1 + |x|)
  kSoftplus,           ///< log(1 + exp(x))
  kParametricSoftplus  ///< alpha[c] * log(1 + exp(beta[c] * x))
};
/**
 * An element-wise nonlinearity (Core ML's `activation`); ReLU(), Sigmoid(), Tanh(), Linear() and
 * LeakyReLU() make the usual ones.
 */
struct Activation {
  ActivationType type = ActivationType::kReLU;  ///< The function.
  /** Scalar alpha where the type has one (see ActivationType). */
  float alpha = 0.0f, beta = 0.0f;  ///< Scalar beta where the type has one.
  /** PReLU and parametric softplus: channels of the per-channel parameters; 0: inferred. */
  int channels = 0;
  bool operator==(const Activation&) const = default;  ///< Every setting equal.
};
/** max(0, x). */
inline Activation ReLU() {
  return {ActivationType::kReLU};
}
/** 1 / (1 + exp(-x)). */
inline Activation Sigmoid() {
  return {ActivationType::kSigmoid};
}
/** tanh(x). */
inline Activation Tanh() {
  return {ActivationType::kTanh};
}
/** alpha * x + beta. */
inline Activation Linear(float alpha = 1.0f, float beta = 0.0f) {
  return {ActivationType::kLinear, alpha, beta};
}
/** x >= 0 ? x : alpha * x (Keras's default alpha). */
inline Activation LeakyReLU(float alpha = 0.3f) {
  return {ActivationType::kLeakyReLU, alpha};
}

/** The order Flatten reads a (C, H, W) block in. */
enum class FlattenOrder {
  kChannelFirst,  ///< (C, H, W): the bytes as they are.
  kChannelLast    ///< (H, W, C), as TensorFlow lays images out.
};
/** (C, H, W) → (C·H·W, 1, 1), in (C, H, W) order or, channel-last, in (H, W, C) order. */
struct Flatten {
  FlattenOrder order = FlattenOrder::kChannelFirst;  ///< Channel-first or channel-last.
  bool operator==(const Flatten&) const = default;   ///< Every setting equal.
};

/**
 * Dense layer: weights (out, in) as Core ML stores them, bias (out). Over the last dimensions of
 * the input (Core ML's rules for each rank), so a sample may hold several rows.
 */
struct InnerProduct {
  int input_channels = 0;   ///< in; 0: inferred from the input when built.
  int output_channels = 0;  ///< out.
  bool has_bias = true;     ///< A bias (out) parameter.
  bool operator==(const InnerProduct&) const = default;  ///< Every setting equal.
};

/** Softmax over the channel axis (-3) of (C, H, W). */
struct Softmax {
  bool operator==(const Softmax&) const = default;  ///< Always: no settings.
};

// ---- Layers that move data ----------------------------------------------------------------------
/** The order Reshape reads and writes (C, H, W) blocks in. */
enum class ReshapeOrder {
  kChannelFirst,  ///< (C, H, W): the bytes are kept.
  kChannelLast    ///< (H, W, C), both when reading and when writing.
};
/**
 * Classic reshape (Core ML's `reshape`) of the (C, H, W) blocks of a blob whose leading dimensions
 * are the sequence: a 3-value target [C, H, W] reshapes each block, a 4-value [Seq, C, H, W] the
 * whole sample. Channel-first keeps the bytes; channel-last reads the blocks in (H, W, C) order and
 * writes the new ones in (H, W, C) order too (Apple's ReshapeLayerParams).
 */
struct Reshape {
  std::vector<int64_t> target_shape;  ///< [C, H, W] or [Seq, C, H, W], every size positive.
  ReshapeOrder order = ReshapeOrder::kChannelFirst;  ///< Channel-first or channel-last.
  bool operator==(const Reshape&) const = default;   ///< Every setting equal.
};

/**
 * Core ML's permute: reorders the axes (Seq, C, H, W) of a blob; output axis k is input axis
 * axes[k]. A per-sample (C, H, W) has Seq 1; an axis of 1 may move anywhere.
 */
struct Permute {
  std::array<int, 4> axes{0, 1, 2, 3};              ///< A permutation of 0..3 over (Seq, C, H, W).
  bool operator==(const Permute&) const = default;  ///< Every setting equal.
};

/** What Pad fills the border with. */
enum class PaddingType {
  kConstant,    ///< Pad::value.
  kReflection,  ///< The values mirrored, the edge not repeated.
  kReplication  ///< The edge value repeated.
};
/** Core ML's `padding` of the last two dimensions (H, W); leading ones are batch. */
struct Pad {
  PaddingType type = PaddingType::kConstant;    ///< Constant, reflection or replication.
  float value = 0.0f;                           ///< kConstant: the value of the border.
  std::array<int, 4> amounts{0, 0, 0, 0};       ///< (top, bottom, left, right), in values.
  bool operator==(const Pad&) const = default;  ///< Every setting equal.
};

// The ND layers below count axes as Core ML does, on the whole tensor: under the exact array
// mapping that is the per-sample shape; under the default rank-5 mapping a per-sample blob of
// rank r is Core ML's (Seq, Batch, ...) of rank r + 2, so non-negative axes are 2 more than the
// per-sample axis and may not name Seq or Batch (src/nn/layers/nd_axis.h). Negative axes count
// from the end. The layers keep the values as Core ML stores them; shape inference reads them.

/**
 * reshapeStatic: the whole tensor's new shape; one entry may be -1 (inferred from the count). Under
 * the rank-5 mapping the first two entries (Seq, Batch) must be 1.
 */
struct ReshapeStatic {
  std::vector<int64_t> target_shape;                      ///< The new shape, Core ML's axes.
  bool operator==(const ReshapeStatic&) const = default;  ///< Every setting equal.
};

/**
 * flattenTo2D: (d0 ... d[axis-1], d[axis] ... d[r-1]) → (product before axis, product from axis).
 */
struct FlattenTo2D {
  int64_t axis = 1;  ///< The first axis of the second factor; negative counts from the end.
  bool operator==(const FlattenTo2D&) const = default;  ///< Every setting equal.
};

/**
 * squeeze: removes the named axes (each of size 1), or with squeeze_all every axis of size 1; a
 * rank-1 result stays rank 1.
 */
struct Squeeze {
  std::vector<int64_t> axes;  ///< Core ML's axes; negative counts from the end.
  bool squeeze_all = false;   ///< Every axis of size 1; `axes` is then ignored.
  bool operator==(const Squeeze&) const = default;  ///< Every setting equal.
};

/** expandDims: inserts axes of size 1, at the named positions of the output. */
struct ExpandDims {
  std::vector<int64_t> axes;  ///< Positions in the output; negative counts from the end.
  bool operator==(const ExpandDims&) const = default;  ///< Every setting equal.
};

/**
 * constantPad: pads every axis with `value`: pad_amounts holds (before, after) per axis of the
 * whole tensor. pad_to_given_output_size: one of each pair is instead the size the axis grows to
 * (before or after the values).
 */
struct ConstantPad {
  float value = 0.0f;                                   ///< The value of the padding.
  std::vector<int64_t> pad_amounts;                     ///< 2 × Core ML's rank.
  bool pad_to_given_output_size = false;                ///< Amounts give output sizes (see above).
  bool operator==(const ConstantPad&) const = default;  ///< Every setting equal.
};

// ---- Layers that merge several inputs ----------------------------------------------------------
/**
 * Concatenation along the channel axis (-3) of (C, H, W), leading dimensions as batch: inputs of
 * the same rank (3 or more) that differ only in C (Core ML's `concat`; its sequenceConcat, along
 * axis -5, is not supported).
 */
struct Concat {
  bool operator==(const Concat&) const = default;  ///< Always: no settings.
};

/**
 * Concatenation along any axis (Core ML's `concatND`). `axis` counts Core ML's axes: under the
 * exact array mapping the per-sample tensor's; under the default rank-5 mapping a per-sample
 * (C, H, W) is Core ML's (Seq, Batch, C, H, W), so axis 2 is C, and 0 and 1 are refused.
 */
struct ConcatND {
  int axis = 0;             ///< Negative counts from the last axis.
  bool interleave = false;  ///< Inputs of one shape, taken in turn along the axis (spec 5).
  bool operator==(const ConcatND&) const = default;  ///< Every setting equal.
};

/**
 * y = x1 + x2 + ...; one input: y = x + alpha.
 *
 * The merges Add, Multiply, Average, Max and Min work element-wise over inputs of one shape, with
 * Core ML's limited broadcasting between inputs of rank 3 and up: add, multiply and average let C
 * and the (H, W) plane of an input be 1 ([1, 1, 1], [C, 1, 1], [1, H, W] against [C, H, W]); max
 * and min only the plane ([C, 1, 1] against [C, H, W]). The output has the broadcast shape.
 */
struct Add {
  float alpha = 0.0f;                           ///< One input only.
  bool operator==(const Add&) const = default;  ///< Every setting equal.
};
/** y = x1 · x2 · ...; one input: y = alpha · x. Broadcasting as Add's. */
struct Multiply {
  float alpha = 1.0f;                                ///< One input only.
  bool operator==(const Multiply&) const = default;  ///< Every setting equal.
};
/** y = (x1 + x2 + ...) / inputs. Broadcasting as Add's. */
struct Average {
  bool operator==(const Average&) const = default;  ///< Always: no settings.
};
/** y = max(x1, x2, ...); the gradient goes to the first input holding the maximum. */
struct Max {
  bool operator==(const Max&) const = default;  ///< Always: no settings.
};
/** y = min(x1, x2, ...); the gradient goes to the first input holding the minimum. */
struct Min {
  bool operator==(const Min&) const = default;  ///< Always: no settings.
};

// ---- Normalisation, lookups and products ---------------------------------------------------
/**
 * Batch normalisation over the channel axis (-3) of (C, H, W), any leading dimensions more batch:
 * y = gamma[c] * (x - mean[c]) / sqrt(variance[c] + epsilon) + beta[c]. Parameters gamma, beta
 * (trainable) and, unless compute_mean_var, the running mean and variance (state: training an
 * updatable batchnorm updates them with momentum 0.1, as PyTorch does).
 */
struct Batchnorm {
  int channels = 0;  ///< C; 0: inferred from the input when built.
  /**
   * Statistics from the input itself instead of the stored mean and variance (Core ML's
   * computeMeanVar): per sample and channel with instance_normalization, else over the batch.
   */
  bool compute_mean_var = false;
  bool instance_normalization = false;  ///< compute_mean_var per sample (see above).
  float epsilon = 1e-5f;                ///< A file's 0 means 1e-5 (Core ML's default).
  bool operator==(const Batchnorm&) const = default;  ///< Every setting equal.
};

/**
 * Table lookup (Core ML's `embedding`): each input value is an index in [0, input_dim), and the
 * output is column `index` of the weights (output_channels, input_dim), plus the bias. The input
 * is (1, 1, 1) per index, with any leading dimensions (a sequence) kept: (..., 1, 1, 1) →
 * (..., output_channels, 1, 1). Indices carry no gradient; the weights do when updatable.
 */
struct Embedding {
  int input_dim = 0;                                  ///< Vocabulary size.
  int output_channels = 0;                            ///< Length of each embedding vector.
  bool has_bias = false;                              ///< A bias (output_channels) parameter.
  bool operator==(const Embedding&) const = default;  ///< Every setting equal.
};

/**
 * The ND lookup (Core ML's `embeddingND`): (..., 1) of indices in [0, vocab_size) → (...,
 * embedding_size); weights (embedding_size, vocab_size), bias (embedding_size).
 */
struct EmbeddingND {
  int vocab_size = 0;                                   ///< Indices the table holds.
  int embedding_size = 0;                               ///< Length of each embedding vector.
  bool has_bias = false;                                ///< A bias (embedding_size) parameter.
  bool operator==(const EmbeddingND&) const = default;  ///< Every setting equal.
};

/**
 * Matrix product over the last two dimensions (Core ML's `batchedMatmul`). With two inputs a, b:
 * op(a) · op(b), where op transposes when transpose_a / transpose_b is set, the leading
 * dimensions broadcast (NumPy's rules), a rank-1 a is (1, D) and a rank-1 b is (D, 1); the output
 * has rank max(2, rank a, rank b). With one input: a (..., X1) · weights (X1, X2) + bias (X2) →
 * (..., X2); Core ML stores the weights column-major, i.e. as a row-major (X2, X1) block, the
 * layout of inner product's (out, in), and so does the parameter block.
 */
struct BatchedMatmul {
  /** Transpose a's last two dimensions first (two inputs only). */
  bool transpose_a = false, transpose_b = false;  ///< The same for b.
  int weight_rows = 0;     ///< X1 (one input): the input's last dimension; 0: inferred when built.
  int weight_columns = 0;  ///< X2 (one input): the output's last dimension.
  bool has_bias = false;   ///< One input only.
  bool operator==(const BatchedMatmul&) const = default;  ///< Every setting equal.
};

// ---- Element-wise functions, reductions, normalisations, resampling, slices, constants (#11) ----
/** The f of UnaryFunction. */
enum class UnaryOperation {
  kSqrt,      ///< sqrt(x)
  kRsqrt,     ///< 1 / sqrt(x + epsilon)
  kInverse,   ///< 1 / (x + epsilon)
  kPower,     ///< x ^ alpha
  kExp,       ///< e ^ x
  kLog,       ///< ln(x)
  kAbs,       ///< |x|
  kThreshold  ///< max(alpha, x)
};
/** Core ML's `unary`: y = f(scale · x + shift), element-wise over any rank. */
struct UnaryFunction {
  UnaryOperation operation = UnaryOperation::kSqrt;  ///< f.
  float alpha = 0.0f;     ///< kPower: the exponent; kThreshold: the floor.
  float epsilon = 1e-6f;  ///< kRsqrt, kInverse: added first; a file's 0 means 1e-6 (the default).
  float shift = 0.0f;     ///< Added after scaling, before f.
  float scale = 1.0f;     ///< A file's 0 means 1 (Core ML's default).
  bool operator==(const UnaryFunction&) const = default;  ///< Every setting equal.
};

/**
 * Core ML's `clip`: y = min(max(x, min_value), max_value), element-wise; min_value <= max_value.
 */
struct Clip {
  /** The lower bound; the defaults make ReLU6. */
  float min_value = 0.0f, max_value = 6.0f;      ///< The upper bound.
  bool operator==(const Clip&) const = default;  ///< Every setting equal.
};

/** What Reduce computes over its axes. */
enum class ReduceOperation {
  kSum,        ///< Σ x
  kAverage,    ///< Σ x / n
  kProduct,    ///< Π x
  kLogSum,     ///< Σ ln(x + epsilon)
  kSumSquare,  ///< Σ x²
  kL1,         ///< Σ |x|
  kL2,         ///< sqrt(Σ x²)
  kMax,        ///< The largest value.
  kMin,        ///< The smallest value.
  kArgMax      ///< The index along the axis (C, H or W only), as a float; no gradient.
};
/** The axes Reduce reduces: (-3, -2, -1), (-2, -1), -3, -2, -1. */
enum class ReduceAxes {
  kCHW,  ///< (-3, -2, -1)
  kHW,   ///< (-2, -1)
  kC,    ///< -3
  kH,    ///< -2
  kW     ///< -1
};
/**
 * Core ML's classic `reduce` over the last axes: the output keeps the input's rank with 1 on the
 * reduced axes (leading dimensions are batch). CHW needs rank 3 or more, HW and H rank 2.
 */
struct Reduce {
  ReduceOperation operation = ReduceOperation::kSum;  ///< What it computes.
  ReduceAxes axes = ReduceAxes::kCHW;                 ///< Over which axes.
  float epsilon = 1e-6f;  ///< kLogSum; a file's 0 means 1e-6 (Core ML's default).
  bool operator==(const Reduce&) const = default;  ///< Every setting equal.
};

/** What a ReduceND computes; each is its own Core ML layer type (reduceSum, reduceMean, ...). */
enum class ReduceNDOperation {
  kSum,        ///< Σ x
  kMean,       ///< Σ x / n
  kMax,        ///< The largest value.
  kMin,        ///< The smallest value.
  kProduct,    ///< Π x
  kL1,         ///< Σ |x|
  kL2,         ///< sqrt(Σ x²)
  kLogSum,     ///< ln(Σ x)
  kSumSquare,  ///< Σ x²
  kLogSumExp   ///< ln(Σ e^x)
};
/**
 * The ND reductions (spec 4+), one Core ML layer type each: over `axes` (Core ML's, on the whole
 * tensor: nd_axis.h) or every axis, keeping the reduced axes as 1 or removing them (a rank-1 [1]
 * when none is left).
 */
template <ReduceNDOperation Operation>
struct ReduceND {
  static constexpr ReduceNDOperation operation = Operation;  ///< Fixed by the type.
  std::vector<int64_t> axes;                                 ///< Negative counts from the end.
  bool keep_dims = false;   ///< Keep the reduced axes as 1 instead of removing them.
  bool reduce_all = false;  ///< Every axis; `axes` is then ignored.
  bool operator==(const ReduceND&) const = default;  ///< Every setting equal.
};
using ReduceSum = ReduceND<ReduceNDOperation::kSum>;              ///< Core ML's `reduceSum`.
using ReduceMean = ReduceND<ReduceNDOperation::kMean>;            ///< Core ML's `reduceMean`.
using ReduceMax = ReduceND<ReduceNDOperation::kMax>;              ///< Core ML's `reduceMax`.
using ReduceMin = ReduceND<ReduceNDOperation::kMin>;              ///< Core ML's `reduceMin`.
using ReduceProd = ReduceND<ReduceNDOperation::kProduct>;         ///< Core ML's `reduceProd`.
using ReduceL1 = ReduceND<ReduceNDOperation::kL1>;                ///< Core ML's `reduceL1`.
using ReduceL2 = ReduceND<ReduceNDOperation::kL2>;                ///< Core ML's `reduceL2`.
using ReduceLogSum = ReduceND<ReduceNDOperation::kLogSum>;        ///< Core ML's `reduceLogSum`.
using ReduceSumSquare = ReduceND<ReduceNDOperation::kSumSquare>;  ///< Core ML's `reduceSumSquare`.
using ReduceLogSumExp = ReduceND<ReduceNDOperation::kLogSumExp>;  ///< Core ML's `reduceLogSumExp`.

/** Softmax along any axis (Core ML's `softmaxND`; the axis is Core ML's, nd_axis.h). */
struct SoftmaxND {
  int64_t axis = -1;                                  ///< Negative counts from the end.
  bool operator==(const SoftmaxND&) const = default;  ///< Every setting equal.
};

/** Core ML's `l2normalize`: each (C, H, W) block divided by sqrt(Σ x² + epsilon) over the block. */
struct L2Normalize {
  float epsilon = 1e-6f;  ///< A file's 0 means 1e-6 (Core ML's default).
  bool operator==(const L2Normalize&) const = default;  ///< Every setting equal.
};

/**
 * Core ML's `lrn`, local response normalisation across channels (axis -3):
 * y = x / (k + alpha / local_size · Σ x²)^beta, the sum over the local_size channels centred on
 * each (local_size odd: the window every converter emits, 2r + 1).
 */
struct LRN {
  /** The formula's scale. */
  float alpha = 1e-4f, beta = 0.75f;            ///< The formula's exponent.
  int local_size = 5;                           ///< Channels in the window, odd.
  float k = 1.0f;                               ///< A file's 0 means 1 (Core ML's default).
  bool operator==(const LRN&) const = default;  ///< Every setting equal.
};

/** How Upsample fills the new values. */
enum class UpsampleMode {
  kNearest,  ///< Each value repeated.
  kBilinear  ///< Interpolated on the grid of Upsample::linear_mode.
};
/** Bilinear upsampling's grid (Apple's LinearUpsampleMode). */
enum class LinearUpsampleMode {
  kDefault,           ///< Spacing (in − in / out) / (out − 1).
  kAlignCornersTrue,  ///< Spacing (in − 1) / (out − 1) (PyTorch's align_corners=True).
  kAlignCornersFalse  ///< Spacing in / out, half a pixel in (PyTorch's align_corners=False).
};
/**
 * Core ML's `upsample` of the (H, W) plane. Nearest neighbour repeats each value by whole factors;
 * bilinear interpolates on the grid of linear_mode (Apple's LinearUpsampleMode formulas).
 * Fractional factors (output size floor(size · factor), below 1 too) are Core ML's only with
 * bilinear and aligned corners (true or false).
 */
struct Upsample {
  std::array<float, 2> scaling_factor{2.0f, 2.0f};  ///< (height, width); whole unless fractional.
  bool fractional = false;  ///< Written as fractionalScalingFactor instead of scalingFactor.
  UpsampleMode mode = UpsampleMode::kNearest;                     ///< Nearest or bilinear.
  LinearUpsampleMode linear_mode = LinearUpsampleMode::kDefault;  ///< Bilinear only.
  bool operator==(const Upsample&) const = default;               ///< Every setting equal.
};

/**
 * Core ML's `crop` of the (H, W) plane. One input: the border amounts are cut off. Two inputs: a
 * window of the second input's (H, W) at `offset` (the second input gives only its shape).
 */
struct Crop {
  std::array<int, 4> amounts{0, 0, 0, 0};  ///< One input: (top, bottom, left, right).
  std::array<int, 2> offset{0, 0};         ///< Two inputs: (height, width) of the window's corner.
  bool operator==(const Crop&) const = default;  ///< Every setting equal.
};

/** Core ML's `split`: the channel axis (-3) cut into `outputs` equal parts, one per output blob. */
struct Split {
  int outputs = 2;                                ///< A file's 0 means one part per output blob.
  bool operator==(const Split&) const = default;  ///< Every setting equal.
};

/** The axis Slice cuts. */
enum class SliceAxis {
  kChannel,  ///< C (-3)
  kHeight,   ///< H (-2)
  kWidth     ///< W (-1)
};
/**
 * Core ML's classic `slice` along C (-3), H (-2) or W (-1): Python's [start:end:stride] (negative
 * indices count from the end, ends beyond the axis are clamped; stride positive).
 */
struct Slice {
  int64_t start_index = 0;                        ///< Inclusive; negative counts from the end.
  int64_t end_index = int64_t(1) << 31;           ///< Exclusive; the default is past any end.
  int stride = 1;                                 ///< Positive.
  SliceAxis axis = SliceAxis::kChannel;           ///< C, H or W.
  bool operator==(const Slice&) const = default;  ///< Every setting equal.
};

/**
 * Core ML's `sliceStatic`: Python's [begin:end:stride] on every axis of the whole tensor (one entry
 * per Core ML axis: under the rank-5 mapping the first two take all of Seq and Batch). A masked
 * begin or end is Python's empty bound; a squeezed axis takes only begin_ids and is removed.
 */
struct SliceStatic {
  /// Per axis: Python's begin, end and stride (strides nonzero, negative too).
  ///@{
  std::vector<int64_t> begin_ids, end_ids, strides;
  ///@}
  /** Per axis: true leaves begin out, as Python's `[:end]`. */
  std::vector<bool> begin_masks, end_masks;  ///< Per axis: true leaves end out, as `[begin:]`.
  /** Per axis: take begin_ids alone and remove the axis; empty: none. */
  std::vector<bool> squeeze_masks;
  bool operator==(const SliceStatic&) const = default;  ///< Every setting equal.
};

/**
 * Core ML's `loadConstant`: no input; the parameter tensor "data" (C, H, W) as the output of every
 * sample ([1, 1, C, H, W] under the exact mapping). Its values are fixed
 * (ParameterRole::kConstant); the builder fills zeros, to be set through Model::data.
 */
struct LoadConstant {
  std::array<int, 3> shape{1, 1, 1};                     ///< (C, H, W).
  bool operator==(const LoadConstant&) const = default;  ///< Every setting equal.
};

/**
 * Core ML's `loadConstantND` (spec 4+): the parameter tensor "data" of Core ML's `shape` (rank 1
 * to 5; under the rank-5 mapping it starts with [1, 1] for Seq and Batch).
 */
struct LoadConstantND {
  std::vector<int64_t> shape;                              ///< Core ML's shape of "data".
  bool operator==(const LoadConstantND&) const = default;  ///< Every setting equal.
};

/** The one list of kinds: each alternative's kind_for<T>() is in src/nn/layers/. */
using LayerParams =
    std::variant<Convolution, Pooling, Activation, Flatten, InnerProduct, Softmax,  // LeNet's
                 Reshape, Permute, Pad, ReshapeStatic, FlattenTo2D, Squeeze, ExpandDims,
                 ConstantPad,                                          // moving data
                 Concat, ConcatND, Add, Multiply, Average, Max, Min,   // merging inputs
                 Batchnorm, Embedding, EmbeddingND, BatchedMatmul,     // normalising, lookups
                 // functions, reductions, resampling, slices, constants (issue #11):
                 UnaryFunction, Clip, Reduce, ReduceSum, ReduceMean, ReduceMax, ReduceMin,
                 ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceSumSquare, ReduceLogSumExp,
                 SoftmaxND, L2Normalize, LRN, Upsample, Crop, Split, Slice, SliceStatic,
                 LoadConstant, LoadConstantND>;

}  // namespace edgetrain
