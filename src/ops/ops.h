// CPU kernels: forward and backward of every op family, plus GEMM.
//
// Conventions (written once, used everywhere):
// - Tensors are dense float arrays, row-major, batch first: images are (N, C, H, W).
// - Signatures: outputs first, then inputs and parameters, then sizes.
// - Gradients have a `d` prefix. Backward ADDS (+=) into dinput, dweight and dbias; callers zero
//   them explicitly. A null dinput / dweight / dbias means "not needed" and is skipped.
// - Matrix multiply: C = op(A) · op(B), row-major, C is (M, N), op(A) is (M, K), op(B) is (K, N).
// - Every optimised kernel has a plain `_reference` twin; tests compare the two.
// - Kernels only assert their preconditions; shapes are validated when the graph is built.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgetrain::ops {

// ---- Parts of one sample ------------------------------------------------------------------------
// Single-image prediction on several threads splits one sample's outputs: ops that can take a
// `part` compute only its share of each sample's outputs, disjoint from the other parts', and the
// parts together write exactly what one call writes, bit for bit (every output value is summed
// in the same order whichever part computes it). Each part needs its own workspace.
struct Part {
  int index = 0, count = 1;
};
struct Range {
  int begin = 0, end = 0;
};
// The part's share of `count` items: contiguous, in multiples of `granule` but for the last, as
// even as that allows (a part may get nothing).
inline Range part_range(int count, Part part, int granule = 1) {
  const int granules = (count + granule - 1) / granule;
  const int begin = granules * part.index / part.count * granule;
  const int end = granules * (part.index + 1) / part.count * granule;
  return {begin < count ? begin : count, end < count ? end : count};
}

// ---- GEMM (gemm.cpp) ----------------------------------------------------------------------------
enum class Transpose { kNo, kYes };

// C(M,N) = beta * C + op(A) · op(B). beta is 0 (overwrite; C may hold garbage/NaN) or 1 (accumulate).
// lda/ldb/ldc are row strides of A, B, C as stored (A stored (M,K) when kNo, (K,M) when kYes).
void gemm(float* c, const float* a, const float* b, int m, int n, int k, Transpose transpose_a,
          Transpose transpose_b, float beta, int lda, int ldb, int ldc);
void gemm_reference(float* c, const float* a, const float* b, int m, int n, int k,
                    Transpose transpose_a, Transpose transpose_b, float beta, int lda, int ldb,
                    int ldc);

// How a layer's products multiply: fp32 throughout, or (issue #14's mixed precision) every operand
// rounded to bf16 and the products summed in fp32 (gemm_bf16.h; only where bf16_supported():
// callers check first, the kernels throw Error elsewhere). Biases and their gradients stay fp32.
enum class Products { kFloat32, kBfloat16 };

// ---- Convolution (conv.cpp) ---------------------------------------------------------------------
// Weights are stored as Core ML stores them: (out_channels, in_channels / groups, kernel_h, kernel_w).
struct Conv2dShape {
  int batch = 1;
  int in_channels = 1, in_height = 1, in_width = 1;
  int out_channels = 1, out_height = 1, out_width = 1;
  int kernel_height = 1, kernel_width = 1;
  int stride_height = 1, stride_width = 1;
  int dilation_height = 1, dilation_width = 1;
  int pad_top = 0, pad_left = 0;  // bottom/right padding is implied by the output size
  int groups = 1;
};
// Scratch floats the optimised conv needs (im2col buffer for one sample).
size_t conv2d_workspace_floats(const Conv2dShape& shape);
// out (N, OC, OH, OW); in (N, IC, IH, IW); weight (OC, IC/G, KH, KW); bias (OC) or null.
void conv2d_forward(float* out, const float* in, const float* weight, const float* bias,
                    const Conv2dShape& shape, float* workspace);
// Keeps nothing from forward: backward needs the forward input `in` and `weight`.
void conv2d_backward(float* dinput, float* dweight, float* dbias, const float* dout,
                     const float* in, const float* weight, const Conv2dShape& shape,
                     float* workspace);
void conv2d_forward_reference(float* out, const float* in, const float* weight, const float* bias,
                              const Conv2dShape& shape);
void conv2d_backward_reference(float* dinput, float* dweight, float* dbias, const float* dout,
                               const float* in, const float* weight, const Conv2dShape& shape);

// ---- Convolution + ReLU + max-pool, fused (conv_relu_pool.cpp) ---------------------------------
// pool(relu(conv(in))) for a stride-1, undilated, unpadded, ungrouped convolution and a max-pool
// whose window equals its stride (no padding, windows wholly inside). Forward keeps `argmax`
// (N, PH·PW, OC): the max's position in its window, row-major, or kNoGradient where the pooled
// value is 0; backward touches only those positions. Same weight layout as conv2d.
struct ConvReluPoolShape {
  Conv2dShape conv;                 // the convolution, batch included
  int pool_height = 2, pool_width = 2;  // window = stride
  int out_height = 1, out_width = 1;    // pooled output: (N, OC, out_height, out_width)
  // Blobs stored channel-last, (N, H, W, C), when only fused ops read them: this op's input (and
  // dinput), or its output (and dout). Spares a transpose per sample between two fused layers.
  bool input_channel_last = false, output_channel_last = false;
  // kAuto picks by shape (below); the others force a kernel, for tests and benchmarks. A forced
  // kDirect the shape cannot run (or, in backward, with an input gradient wanted) falls back.
  enum class Kernel { kAuto, kDirect, kSparse, kDense } kernel = Kernel::kAuto;
  // For tests and benchmarks: which set of in-register kernels runs, 0 to
  // conv_relu_pool_kernel_set_count() - 1. 0 (the default) is the best this CPU runs, the last
  // the portable one written with simd.h's 16-float vectors; between them the architecture's
  // others (x86-64 with AVX-512: AVX-512, then AVX2).
  int kernel_set = 0;
  // Forward's products: kBfloat16 runs the deep kernel in bf16 (deep patches, IC even) or the
  // im2col path's GEMM as gemm_bf16; conv1-like direct patches (K <= kDirectMaxDepth) and
  // backward stay fp32.
  Products products = Products::kFloat32;
};
// The in-register kernel sets this build runs on this CPU (at least 1: the portable set), and each
// one's name: aarch64 "neon"; x86-64 "avx512" and / or "avx2" by CPU features; "generic vectors".
int conv_relu_pool_kernel_set_count();
const char* conv_relu_pool_kernel_set_name(int set);
constexpr uint8_t kNoGradient = 255;
constexpr int kMaxPooledChannels = 1024;
// Backward visits only the gradient-carrying positions (sparse) when the patch depth
// K = KH·KW·IC reaches this and a patch row KW·IC is whole 16-float vectors; otherwise one dense
// GEMM over the expanded gradient wins (measured with BM_ConvReluPoolBackward on LeNet's layers:
// K = 128 sparse 13.6 µs vs dense 35 µs per sample; K = 9 runs the direct kernel instead).
constexpr int kSparseBackwardMinDepth = 32;
bool conv_relu_pool_supported(const ConvReluPoolShape& shape);
bool conv_relu_pool_backward_is_sparse(const ConvReluPoolShape& shape);
// Patches of at most this depth, with output channels in multiples of 16, run the direct kernel:
// forward always, backward when no input gradient is wanted (a first layer). Else im2col + GEMM.
constexpr int kDirectMaxDepth = 16;
bool conv_relu_pool_is_direct(const ConvReluPoolShape& shape);
// Deeper patches with output channels in multiples of 32 also run forward in registers (no im2col
// or GEMM); kDirect or kAuto picks it, any other kernel forces im2col + GEMM.
bool conv_relu_pool_forward_is_deep(const ConvReluPoolShape& shape);
// Floats of workspace forward, forward_prepared and backward take (with the prepared block
// conv_relu_pool_forward makes in it).
size_t conv_relu_pool_workspace_floats(const ConvReluPoolShape& shape);
// Forward's in-register paths (direct or deep) can split a sample's pooled windows into parts
// (`part` below; the direct kernel by whole pooled rows). The im2col path cannot.
bool conv_relu_pool_forward_splits(const ConvReluPoolShape& shape);
// Forward in two halves: prepare() derives from the weights and bias alone what forward needs
// (the weights in its kernel's layout, the bias or zeros, the pooling windows' input offsets, bf16
// weight pairs), so a caller whose parameters stay put (a Predictor) prepares once per weights.
// conv_relu_pool_forward() does both, the prepared block in its workspace.
size_t conv_relu_pool_prepared_floats(const ConvReluPoolShape& shape);
void conv_relu_pool_prepare(float* prepared, const float* weight, const float* bias,
                            const ConvReluPoolShape& shape);
void conv_relu_pool_forward_prepared(float* out, uint8_t* argmax, const float* in,
                                     const float* prepared, const ConvReluPoolShape& shape,
                                     float* workspace, Part part = {});
void conv_relu_pool_forward(float* out, uint8_t* argmax, const float* in, const float* weight,
                            const float* bias, const ConvReluPoolShape& shape, float* workspace,
                            Part part = {});
void conv_relu_pool_backward(float* dinput, float* dweight, float* dbias, const float* dout,
                             const uint8_t* argmax, const float* in, const float* weight,
                             const ConvReluPoolShape& shape, float* workspace);

// ---- Pooling (pool.cpp) -------------------------------------------------------------------------
// Padded positions are never the max; average pooling divides by the window size, or by the count of
// non-padded positions when exclude_padding is true (Core ML's avgPoolExcludePadding).
struct Pool2dShape {
  int batch = 1, channels = 1;
  int in_height = 1, in_width = 1, out_height = 1, out_width = 1;
  int kernel_height = 1, kernel_width = 1;
  int stride_height = 1, stride_width = 1;
  int pad_top = 0, pad_left = 0;
};
// Forward keeps `argmax` (N, C, OH, OW): the flat index into the (IH*IW) plane of each max.
void maxpool2d_forward(float* out, int32_t* argmax, const float* in, const Pool2dShape& shape);
void maxpool2d_backward(float* dinput, const float* dout, const int32_t* argmax,
                        const Pool2dShape& shape);
void avgpool2d_forward(float* out, const float* in, const Pool2dShape& shape, bool exclude_padding);
void avgpool2d_backward(float* dinput, const float* dout, const Pool2dShape& shape,
                        bool exclude_padding);
// L2 pooling: out = sqrt(Σ window²); backward reads the forward input and output.
void l2pool2d_forward(float* out, const float* in, const Pool2dShape& shape);
void l2pool2d_backward(float* dinput, const float* dout, const float* in, const float* out,
                       const Pool2dShape& shape);

// ---- Activations (activation.cpp), element-wise over n values -----------------------------------
// Backward of relu uses the forward output (out > 0 ⇔ in > 0); sigmoid and tanh use the output too.
void relu_forward(float* out, const float* in, size_t n);
void relu_backward(float* dinput, const float* dout, const float* out, size_t n);
// For a ReLU run in place (its output and input share a buffer, so do their gradients):
// grad = out > 0 ? grad : 0, which is relu_backward into a zeroed buffer.
void relu_backward_in_place(float* grad, const float* out, size_t n);
void sigmoid_forward(float* out, const float* in, size_t n);
void sigmoid_backward(float* dinput, const float* dout, const float* out, size_t n);
void tanh_forward(float* out, const float* in, size_t n);
void tanh_backward(float* dinput, const float* dout, const float* out, size_t n);
// y = alpha * x + beta (Core ML's ActivationLinear).
void linear_forward(float* out, const float* in, size_t n, float alpha, float beta);
void linear_backward(float* dinput, const float* dout, size_t n, float alpha);

// ---- Inner product (dense.cpp) ------------------------------------------------------------------
// out (N, O) = in (N, I) · weightᵀ + bias; weight (O, I) as Core ML stores it; bias (O) or null.
// With a `part`, only that part's outputs (in multiples of 4: whole four-row dots) of every row.
// Backward adds into dinput, dweight and dbias; with dweight_zero (dweight holds zeros) the weight
// gradient's product overwrites it instead, not reading it: the same bits, less memory traffic.
void inner_product_forward(float* out, const float* in, const float* weight, const float* bias,
                           int batch, int in_features, int out_features,
                           Products products = Products::kFloat32, Part part = {});
void inner_product_backward(float* dinput, float* dweight, float* dbias, const float* dout,
                            const float* in, const float* weight, int batch, int in_features,
                            int out_features, Products products = Products::kFloat32,
                            bool dweight_zero = false);
// One thread's share of a mini-batch, for a weight gradient summed over all of them.
struct DenseBatchPart {
  const float* dout = nullptr;  // (batch, O)
  const float* in = nullptr;    // (batch, I)
  int batch = 0;
};
// The weight gradient over every part of a batch, for the part of its rows `rows` names (in
// multiples of 8, the micro-kernels' row tile), so threads sharing one dweight (O, I) each write
// their own rows:  dweight[rows] (+)= Σ_p dout_pᵀ[rows] · in_p, the parts added in order. Each
// value gets the bits the per-part products added in part order would give (when a part's batch is
// within one depth block of the GEMM, 256).
void inner_product_weight_gradient(float* dweight, const DenseBatchPart* parts, int part_count,
                                   int in_features, int out_features, Products products,
                                   bool dweight_zero, Part rows);

// ---- Flatten and layout transposes (flatten.cpp) ------------------------------------------------
// to (cols, rows) = from (rows, cols) transposed, or added into `to` when accumulate is true.
void transpose_matrix(float* to, const float* from, int rows, int cols, bool accumulate);
// Channel-first: (N, C, H, W) → (N, C*H*W) is a plain copy. Channel-last: each sample is transposed to
// (H, W, C) first, so out[n][(h*W + w)*C + c] = in[n][c][h][w] (Core ML's FlattenOrder CHANNEL_LAST).
void flatten_forward(float* out, const float* in, int batch, int channels, int height, int width,
                     bool channel_last);
void flatten_backward(float* dinput, const float* dout, int batch, int channels, int height,
                      int width, bool channel_last);

// ---- Softmax (softmax.cpp) ----------------------------------------------------------------------
// Softmax over the channel axis of (N, C, inner) where inner = H*W (Core ML's softmax on C).
// Backward uses the forward output.
void softmax_forward(float* out, const float* in, int batch, int channels, int inner);
void softmax_backward(float* dinput, const float* dout, const float* out, int batch, int channels,
                      int inner);

// ---- Losses (loss.cpp) --------------------------------------------------------------------------
// Categorical cross-entropy on probabilities (N, C) with class-index targets (N), mean over the batch:
// returns Σ_n -log(max(p[n][t_n], 1e-12)) / scale_count. `scale_count` is the N the mean divides by,
// so a sub-batch contributes its share of the whole mini-batch's mean. Targets are validated by
// callers; kernels assert 0 <= t < C.
double cross_entropy_forward(const float* probabilities, const int32_t* targets, int batch,
                             int classes, int scale_count);
void cross_entropy_backward(float* dprobabilities, const float* probabilities,
                            const int32_t* targets, int batch, int classes, int scale_count);
// Fused softmax + cross-entropy backward: dlogits += (p - onehot(t)) / scale_count.
void softmax_cross_entropy_backward(float* dlogits, const float* probabilities,
                                    const int32_t* targets, int batch, int classes,
                                    int scale_count);
// Mean squared error over all N*size values: Σ (pred - target)² / (scale_count * size).
double mse_forward(const float* prediction, const float* target, int batch, int size,
                   int scale_count);
void mse_backward(float* dprediction, const float* prediction, const float* target, int batch,
                  int size, int scale_count);

}  // namespace edgetrain::ops
