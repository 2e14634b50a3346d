// The layer kinds: one parameter struct per kind, as Core ML's NeuralNetwork specification names
// them, and LayerParams, the one list of kinds. A model's Layer holds one of these plus its name,
// inputs, outputs and parameter tensors (model.h).
//
// Shapes are per sample (the batch is never part of them). Core ML's classic layers (convolution,
// pooling, batchnorm, softmax, concat, ...) read the last three dimensions as (C, H, W) and treat
// any leading ones as more batch; a rank-1 blob [C] is (C, 1, 1). The ND layers (spec 4+:
// concatND, reshapeStatic, squeeze, expandDims, flattenTo2D, embeddingND, batchedMatmul,
// softmaxND, sliceStatic, loadConstantND, the reduceSum family) work on the per-sample tensor as
// it is.
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
inline Activation ReLU() {
  return {ActivationType::kReLU};
}
inline Activation Sigmoid() {
  return {ActivationType::kSigmoid};
}
inline Activation Tanh() {
  return {ActivationType::kTanh};
}
inline Activation Linear(float alpha = 1.0f, float beta = 0.0f) {
  return {ActivationType::kLinear, alpha, beta};
}
inline Activation LeakyReLU(float alpha = 0.3f) {
  return {ActivationType::kLeakyReLU, alpha};
}

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

// ---- Layers that move data ----------------------------------------------------------------------
// Classic reshape (Core ML's `reshape`) of the (C, H, W) blocks of a blob whose leading dimensions
// are the sequence: a 3-value target [C, H, W] reshapes each block, a 4-value [Seq, C, H, W] the
// whole sample. Channel-first keeps the bytes; channel-last reads the blocks in (H, W, C) order and
// writes the new ones in (H, W, C) order too (Apple's ReshapeLayerParams).
enum class ReshapeOrder { kChannelFirst, kChannelLast };
struct Reshape {
  std::vector<int64_t> target_shape;  // [C, H, W] or [Seq, C, H, W], every size positive
  ReshapeOrder order = ReshapeOrder::kChannelFirst;
  bool operator==(const Reshape&) const = default;
};

// Core ML's permute: reorders the axes (Seq, C, H, W) of a blob; output axis k is input axis
// axes[k]. A per-sample (C, H, W) has Seq 1; an axis of 1 may move anywhere.
struct Permute {
  std::array<int, 4> axes{0, 1, 2, 3};  // a permutation of 0..3 over (Seq, C, H, W)
  bool operator==(const Permute&) const = default;
};

// Core ML's `padding` of the last two dimensions (H, W); leading ones are batch.
enum class PaddingType { kConstant, kReflection, kReplication };
struct Pad {
  PaddingType type = PaddingType::kConstant;
  float value = 0.0f;                      // kConstant: the value of the border
  std::array<int, 4> amounts{0, 0, 0, 0};  // (top, bottom, left, right), in values
  bool operator==(const Pad&) const = default;
};

// The ND layers below count axes as Core ML does, on the whole tensor: under the exact array
// mapping that is the per-sample shape; under the default rank-5 mapping a per-sample blob of
// rank r is Core ML's (Seq, Batch, ...) of rank r + 2, so non-negative axes are 2 more than the
// per-sample axis and may not name Seq or Batch (src/nn/layers/nd_axis.h). Negative axes count
// from the end. The layers keep the values as Core ML stores them; shape inference reads them.

// reshapeStatic: the whole tensor's new shape; one entry may be -1 (inferred from the count). Under
// the rank-5 mapping the first two entries (Seq, Batch) must be 1.
struct ReshapeStatic {
  std::vector<int64_t> target_shape;
  bool operator==(const ReshapeStatic&) const = default;
};

// flattenTo2D: (d0 ... d[axis-1], d[axis] ... d[r-1]) → (product before axis, product from axis).
struct FlattenTo2D {
  int64_t axis = 1;
  bool operator==(const FlattenTo2D&) const = default;
};

// squeeze: removes the named axes (each of size 1), or with squeeze_all every axis of size 1; a
// rank-1 result stays rank 1.
struct Squeeze {
  std::vector<int64_t> axes;
  bool squeeze_all = false;
  bool operator==(const Squeeze&) const = default;
};

// expandDims: inserts axes of size 1, at the named positions of the output.
struct ExpandDims {
  std::vector<int64_t> axes;
  bool operator==(const ExpandDims&) const = default;
};

// constantPad: pads every axis with `value`: pad_amounts holds (before, after) per axis of the
// whole tensor. pad_to_given_output_size: one of each pair is instead the size the axis grows to
// (before or after the values).
struct ConstantPad {
  float value = 0.0f;
  std::vector<int64_t> pad_amounts;  // 2 × Core ML's rank
  bool pad_to_given_output_size = false;
  bool operator==(const ConstantPad&) const = default;
};

// ---- Layers that merge several inputs ----------------------------------------------------------
// Concatenation along the channel axis (-3) of (C, H, W), leading dimensions as batch: inputs of
// the same rank (3 or more) that differ only in C (Core ML's `concat`; its sequenceConcat, along
// axis -5, is not supported).
struct Concat {
  bool operator==(const Concat&) const = default;
};

// Concatenation along any axis (Core ML's `concatND`). `axis` counts Core ML's axes: under the
// exact array mapping the per-sample tensor's; under the default rank-5 mapping a per-sample
// (C, H, W) is Core ML's (Seq, Batch, C, H, W), so axis 2 is C, and 0 and 1 are refused.
struct ConcatND {
  int axis = 0;             // negative counts from the last axis
  bool interleave = false;  // inputs of one shape, taken in turn along the axis (spec 5)
  bool operator==(const ConcatND&) const = default;
};

// Element-wise over inputs of one shape, with Core ML's limited broadcasting between inputs of rank
// 3 and up: add, multiply and average let C and the (H, W) plane of an input be 1 ([1, 1, 1],
// [C, 1, 1], [1, H, W] against [C, H, W]); max and min only the plane ([C, 1, 1] against
// [C, H, W]). The output has the broadcast shape.
struct Add {  // y = x1 + x2 + ...; one input: y = x + alpha
  float alpha = 0.0f;
  bool operator==(const Add&) const = default;
};
struct Multiply {  // y = x1 · x2 · ...; one input: y = alpha · x
  float alpha = 1.0f;
  bool operator==(const Multiply&) const = default;
};
struct Average {  // y = (x1 + x2 + ...) / inputs
  bool operator==(const Average&) const = default;
};
struct Max {  // y = max(x1, x2, ...); the gradient goes to the first input holding the maximum
  bool operator==(const Max&) const = default;
};
struct Min {  // y = min(x1, x2, ...); the gradient goes to the first input holding the minimum
  bool operator==(const Min&) const = default;
};

// ---- Normalisation, lookups and products ---------------------------------------------------
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

// ---- Element-wise functions, reductions, normalisations, resampling, slices, constants (#11) ----
// Core ML's `unary`: y = f(scale · x + shift), element-wise over any rank.
enum class UnaryOperation {
  kSqrt,      // sqrt(x)
  kRsqrt,     // 1 / sqrt(x + epsilon)
  kInverse,   // 1 / (x + epsilon)
  kPower,     // x ^ alpha
  kExp,       // e ^ x
  kLog,       // ln(x)
  kAbs,       // |x|
  kThreshold  // max(alpha, x)
};
struct UnaryFunction {
  UnaryOperation operation = UnaryOperation::kSqrt;
  float alpha = 0.0f;     // kPower: the exponent; kThreshold: the floor
  float epsilon = 1e-6f;  // kRsqrt, kInverse: added first; a file's 0 means 1e-6 (the default)
  float shift = 0.0f;
  float scale = 1.0f;  // a file's 0 means 1 (Core ML's default)
  bool operator==(const UnaryFunction&) const = default;
};

// Core ML's `clip`: y = min(max(x, min_value), max_value), element-wise; min_value <= max_value.
struct Clip {
  float min_value = 0.0f, max_value = 6.0f;  // defaults: ReLU6
  bool operator==(const Clip&) const = default;
};

// Core ML's classic `reduce` over the last axes: the output keeps the input's rank with 1 on the
// reduced axes (leading dimensions are batch). CHW needs rank 3 or more, HW and H rank 2.
enum class ReduceOperation {
  kSum,
  kAverage,
  kProduct,
  kLogSum,     // Σ ln(x + epsilon)
  kSumSquare,  // Σ x²
  kL1,
  kL2,
  kMax,
  kMin,
  kArgMax  // the index along the axis (C, H or W only), as a float; no gradient
};
enum class ReduceAxes { kCHW, kHW, kC, kH, kW };  // (-3, -2, -1), (-2, -1), -3, -2, -1
struct Reduce {
  ReduceOperation operation = ReduceOperation::kSum;
  ReduceAxes axes = ReduceAxes::kCHW;
  float epsilon = 1e-6f;  // kLogSum; a file's 0 means 1e-6 (Core ML's default)
  bool operator==(const Reduce&) const = default;
};

// The ND reductions (spec 4+), one Core ML layer type each: over `axes` (Core ML's, on the whole
// tensor: nd_axis.h) or every axis, keeping the reduced axes as 1 or removing them (a rank-1 [1]
// when none is left).
enum class ReduceNDOperation {
  kSum,
  kMean,
  kMax,
  kMin,
  kProduct,
  kL1,         // Σ |x|
  kL2,         // sqrt(Σ x²)
  kLogSum,     // ln(Σ x)
  kSumSquare,  // Σ x²
  kLogSumExp   // ln(Σ e^x)
};
template <ReduceNDOperation Operation>
struct ReduceND {
  static constexpr ReduceNDOperation operation = Operation;
  std::vector<int64_t> axes;  // negative counts from the end
  bool keep_dims = false;
  bool reduce_all = false;  // every axis; `axes` is then ignored
  bool operator==(const ReduceND&) const = default;
};
using ReduceSum = ReduceND<ReduceNDOperation::kSum>;
using ReduceMean = ReduceND<ReduceNDOperation::kMean>;
using ReduceMax = ReduceND<ReduceNDOperation::kMax>;
using ReduceMin = ReduceND<ReduceNDOperation::kMin>;
using ReduceProd = ReduceND<ReduceNDOperation::kProduct>;
using ReduceL1 = ReduceND<ReduceNDOperation::kL1>;
using ReduceL2 = ReduceND<ReduceNDOperation::kL2>;
using ReduceLogSum = ReduceND<ReduceNDOperation::kLogSum>;
using ReduceSumSquare = ReduceND<ReduceNDOperation::kSumSquare>;
using ReduceLogSumExp = ReduceND<ReduceNDOperation::kLogSumExp>;

// Softmax along any axis (Core ML's `softmaxND`; the axis is Core ML's, nd_axis.h).
struct SoftmaxND {
  int64_t axis = -1;
  bool operator==(const SoftmaxND&) const = default;
};

// Core ML's `l2normalize`: each (C, H, W) block divided by sqrt(Σ x² + epsilon) over the block.
struct L2Normalize {
  float epsilon = 1e-6f;  // a file's 0 means 1e-6 (Core ML's default)
  bool operator==(const L2Normalize&) const = default;
};

// Core ML's `lrn`, local response normalisation across channels (axis -3):
// y = x / (k + alpha / local_size · Σ x²)^beta, the sum over the local_size channels centred on
// each (local_size odd: the window every converter emits, 2r + 1).
struct LRN {
  float alpha = 1e-4f, beta = 0.75f;
  int local_size = 5;
  float k = 1.0f;  // a file's 0 means 1 (Core ML's default)
  bool operator==(const LRN&) const = default;
};

// Core ML's `upsample` of the (H, W) plane. Nearest neighbour repeats each value by whole factors;
// bilinear interpolates on the grid of linear_mode (Apple's LinearUpsampleMode formulas).
// Fractional factors (output size floor(size · factor), below 1 too) are Core ML's only with
// bilinear and aligned corners (true or false).
enum class UpsampleMode { kNearest, kBilinear };
enum class LinearUpsampleMode { kDefault, kAlignCornersTrue, kAlignCornersFalse };
struct Upsample {
  std::array<float, 2> scaling_factor{2.0f, 2.0f};  // (height, width); whole unless fractional
  bool fractional = false;  // written as fractionalScalingFactor instead of scalingFactor
  UpsampleMode mode = UpsampleMode::kNearest;
  LinearUpsampleMode linear_mode = LinearUpsampleMode::kDefault;  // bilinear only
  bool operator==(const Upsample&) const = default;
};

// Core ML's `crop` of the (H, W) plane. One input: the border amounts are cut off. Two inputs: a
// window of the second input's (H, W) at `offset` (the second input gives only its shape).
struct Crop {
  std::array<int, 4> amounts{0, 0, 0, 0};  // one input: (top, bottom, left, right)
  std::array<int, 2> offset{0, 0};         // two inputs: (height, width) of the window's corner
  bool operator==(const Crop&) const = default;
};

// Core ML's `split`: the channel axis (-3) cut into `outputs` equal parts, one per output blob.
struct Split {
  int outputs = 2;  // a file's 0 means one part per output blob
  bool operator==(const Split&) const = default;
};

// Core ML's classic `slice` along C (-3), H (-2) or W (-1): Python's [start:end:stride] (negative
// indices count from the end, ends beyond the axis are clamped; stride positive).
enum class SliceAxis { kChannel, kHeight, kWidth };
struct Slice {
  int64_t start_index = 0;
  int64_t end_index = int64_t(1) << 31;  // exclusive; the default is past any end
  int stride = 1;
  SliceAxis axis = SliceAxis::kChannel;
  bool operator==(const Slice&) const = default;
};

// Core ML's `sliceStatic`: Python's [begin:end:stride] on every axis of the whole tensor (one entry
// per Core ML axis: under the rank-5 mapping the first two take all of Seq and Batch). A masked
// begin or end is Python's empty bound; a squeezed axis takes only begin_ids and is removed.
struct SliceStatic {
  std::vector<int64_t> begin_ids, end_ids, strides;  // strides nonzero, negative too
  std::vector<bool> begin_masks, end_masks;
  std::vector<bool> squeeze_masks;  // empty: none
  bool operator==(const SliceStatic&) const = default;
};

// Core ML's `loadConstant`: no input; the parameter tensor "data" (C, H, W) as the output of every
// sample ([1, 1, C, H, W] under the exact mapping). Its values are fixed
// (ParameterRole::kConstant); the builder fills zeros, to be set through Model::data.
struct LoadConstant {
  std::array<int, 3> shape{1, 1, 1};  // (C, H, W)
  bool operator==(const LoadConstant&) const = default;
};

// Core ML's `loadConstantND` (spec 4+): the parameter tensor "data" of Core ML's `shape` (rank 1
// to 5; under the rank-5 mapping it starts with [1, 1] for Seq and Batch).
struct LoadConstantND {
  std::vector<int64_t> shape;
  bool operator==(const LoadConstantND&) const = default;
};

// The one list of kinds: each alternative's kind_for<T>() is in src/nn/layers/.
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
