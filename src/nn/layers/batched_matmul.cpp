// Batched matrix product (Core ML's `batchedMatmul`) over the last two dimensions of the
// per-sample tensors.
//   - Two inputs: op(a) · op(b), op transposing when transposeA / transposeB is set. A rank-1 a is
//     (1, D), a rank-1 b is (D, 1); the leading dimensions broadcast as NumPy's do; the output is
//     (broadcast leading dimensions..., M, N), rank max(2, rank a, rank b). Each sample's matrices
//     are multiplied with ops::gemm, one call per output matrix; backward adds into both inputs'
//     gradients (a broadcast matrix gathers the gradients of every product it took part in).
//   - One input: a (..., X1) · W (X1, X2) + bias (X2) → (..., X2). Core ML stores W
//     column-major, which is a row-major (X2, X1) block: inner product's (out, in) layout, so the
//     inner product's op runs it. transposeA / transposeB do not apply (Core ML ignores them).
// Forward keeps nothing: backward reads both inputs (and the weights).
#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/inner_product.h"
#include "ops/ops.h"

namespace edgetrain {
namespace {

using ops::Transpose;

// Two inputs: the matrices as stored, the product's sizes, and how the output's leading
// dimensions step through each input's matrices (stride 0 where that input broadcasts).
struct Product {
  static constexpr int kMaxBatchRank = Shape::kMaxRank - 2;
  int a_rows = 1, a_cols = 1, b_rows = 1, b_cols = 1;  // as stored, rank-1 inputs promoted
  int m = 1, n = 1, k = 1;                             // op(a) (m, k) · op(b) (k, n)
  bool transpose_a = false, transpose_b = false;
  std::vector<int64_t> batch;                                 // the output's leading dimensions
  std::array<int64_t, kMaxBatchRank> a_stride{}, b_stride{};  // in matrices, per batch axis
  int64_t matrices = 1;                                       // output matrices per sample
  int64_t a_size = 1, b_size = 1;                             // values per sample

  // Which of a's and b's matrices output matrix `o` (row-major over `batch`) multiplies.
  std::pair<int64_t, int64_t> operands(int64_t o) const {
    int64_t a = 0, b = 0;
    for (size_t axis = batch.size(); axis-- > 0;) {
      const int64_t at = o % batch[axis];
      o /= batch[axis];
      a += at * a_stride[axis];
      b += at * b_stride[axis];
    }
    return {a, b};
  }
};

std::vector<int64_t> promoted(const Shape& s, bool first) {
  std::vector<int64_t> dims = s.dims();
  if (dims.size() == 1) dims.insert(first ? dims.begin() : dims.end(), 1);
  return dims;
}

// The product of a and b, or the reason there is none. Allocates nothing beyond a few dimensions:
// shape inference runs it before the sizes are checked.
std::optional<std::string> plan_product(const Shape& a, const Shape& b, bool transpose_a,
                                        bool transpose_b, Product& p) {
  const std::vector<int64_t> ad = promoted(a, true), bd = promoted(b, false);
  p.transpose_a = transpose_a;
  p.transpose_b = transpose_b;
  p.a_rows = int(ad[ad.size() - 2]);
  p.a_cols = int(ad.back());
  p.b_rows = int(bd[bd.size() - 2]);
  p.b_cols = int(bd.back());
  p.m = transpose_a ? p.a_cols : p.a_rows;
  p.k = transpose_a ? p.a_rows : p.a_cols;
  const int k_b = transpose_b ? p.b_cols : p.b_rows;
  p.n = transpose_b ? p.b_rows : p.b_cols;
  if (p.k != k_b) {
    return "op(a) has " + std::to_string(p.k) + " columns but op(b) has " + std::to_string(k_b) +
           " rows";
  }
  // Leading dimensions, right-aligned; a missing one is 1.
  const size_t la = ad.size() - 2, lb = bd.size() - 2, lo = std::max(la, lb);
  std::vector<int64_t> a_dims(lo, 1), b_dims(lo, 1);
  for (size_t i = 0; i < la; ++i) a_dims[lo - la + i] = ad[i];
  for (size_t i = 0; i < lb; ++i) b_dims[lo - lb + i] = bd[i];
  p.batch.assign(lo, 1);
  int64_t a_matrices = 1, b_matrices = 1;
  for (size_t i = lo; i-- > 0;) {
    if (a_dims[i] != b_dims[i] && a_dims[i] != 1 && b_dims[i] != 1) {
      return "leading dimension " + std::to_string(i) + " is " + std::to_string(a_dims[i]) +
             " in a and " + std::to_string(b_dims[i]) + " in b, which do not broadcast";
    }
    p.batch[i] = std::max(a_dims[i], b_dims[i]);
    p.a_stride[i] = a_dims[i] == 1 ? 0 : a_matrices;
    p.b_stride[i] = b_dims[i] == 1 ? 0 : b_matrices;
    a_matrices *= a_dims[i];
    b_matrices *= b_dims[i];
  }
  p.matrices = 1;
  for (int64_t d : p.batch) p.matrices *= d;
  p.a_size = a.count();
  p.b_size = b.count();
  return std::nullopt;
}

class ProductOp : public Op {
 public:
  explicit ProductOp(Product p) : p_(std::move(p)) {}

  // out (n, matrices, m, n) = op(a) · op(b) per matrix.
  void forward(const OpArgs& args) const override {
    const int64_t a_matrix = int64_t(p_.a_rows) * p_.a_cols,
                  b_matrix = int64_t(p_.b_rows) * p_.b_cols;
    const int64_t out_matrix = int64_t(p_.m) * p_.n;
    for (int s = 0; s < args.n; ++s) {
      const float* a = args.in[0] + s * p_.a_size;
      const float* b = args.in[1] + s * p_.b_size;
      float* out = args.out[0] + s * p_.matrices * out_matrix;
      for (int64_t o = 0; o < p_.matrices; ++o) {
        const auto [ai, bi] = p_.operands(o);
        ops::gemm(out + o * out_matrix, a + ai * a_matrix, b + bi * b_matrix, p_.m, p_.n, p_.k,
                  op(p_.transpose_a), op(p_.transpose_b), 0.0f, p_.a_cols, p_.b_cols, p_.n);
      }
    }
  }

  void backward(const OpArgs& args) const override {
    float* da = args.din[0];
    float* db = args.din[1];
    if (!da && !db) return;
    const int64_t a_matrix = int64_t(p_.a_rows) * p_.a_cols,
                  b_matrix = int64_t(p_.b_rows) * p_.b_cols;
    const int64_t out_matrix = int64_t(p_.m) * p_.n;
    const int m = p_.m, n = p_.n, k = p_.k;
    const bool ta = p_.transpose_a, tb = p_.transpose_b;
    for (int s = 0; s < args.n; ++s) {
      for (int64_t o = 0; o < p_.matrices; ++o) {
        const auto [a_matrix_index, b_matrix_index] = p_.operands(o);
        const int64_t ai = s * p_.a_size + a_matrix_index * a_matrix;
        const int64_t bi = s * p_.b_size + b_matrix_index * b_matrix;
        const float* a = args.in[0] + ai;
        const float* b = args.in[1] + bi;
        const float* dout = args.dout[0] + (s * p_.matrices + o) * out_matrix;  // (m, n)
        if (da) {
          if (!ta) {  // da (m, k) += dout · op(b)ᵀ
            ops::gemm(da + ai, dout, b, m, k, n, Transpose::kNo, op(!tb), 1.0f, n, p_.b_cols,
                      p_.a_cols);
          } else {  // da (k, m) += op(b) · doutᵀ
            ops::gemm(da + ai, b, dout, k, m, n, op(tb), Transpose::kYes, 1.0f, p_.b_cols, n,
                      p_.a_cols);
          }
        }
        if (db) {
          if (!tb) {  // db (k, n) += op(a)ᵀ · dout
            ops::gemm(db + bi, a, dout, k, n, m, op(!ta), Transpose::kNo, 1.0f, p_.a_cols, n,
                      p_.b_cols);
          } else {  // db (n, k) += doutᵀ · op(a)
            ops::gemm(db + bi, dout, a, n, k, m, Transpose::kYes, op(ta), 1.0f, n, p_.a_cols,
                      p_.b_cols);
          }
        }
      }
    }
  }
  bool backward_reads_output() const override { return false; }

 private:
  static Transpose op(bool transpose) { return transpose ? Transpose::kYes : Transpose::kNo; }
  Product p_;
};

class BatchedMatmulKind : public LayerKind {
 public:
  const char* name() const override { return "batchedMatmul"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kBatchedMatmul; }
  int max_inputs() const override { return 2; }

  void complete(Layer& layer, const std::vector<Shape>& inputs, const Model&) const override {
    auto& product = std::get<BatchedMatmul>(layer.params);
    if (inputs.size() == 1 && product.weight_rows == 0) product.weight_rows = inputs[0].back();
  }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& product = std::get<BatchedMatmul>(context.layer.params);
    if (context.inputs.size() == 2) {
      Product p;
      if (auto error = plan_product(context.inputs[0], context.inputs[1], product.transpose_a,
                                    product.transpose_b, p)) {
        context.fail(context.input_text(0) + " and " + context.input_text(1) + ": " + *error);
      }
      std::vector<int64_t> dims = p.batch;
      dims.insert(dims.end(), {p.m, p.n});
      return {Shape(dims)};
    }
    if (product.weight_rows <= 0 || product.weight_columns <= 0) {
      context.fail(
          "with one input, weightMatrixFirstDimension and weightMatrixSecondDimension "
          "must be positive");
    }
    const Shape& in = context.inputs[0];
    if (in.back() != product.weight_rows) {
      context.fail(context.input_text(0) + " but the weights are (" +
                   std::to_string(product.weight_rows) + ", " +
                   std::to_string(product.weight_columns) + "): its last dimension must be " +
                   std::to_string(product.weight_rows));
    }
    Shape out = in;
    out[in.rank() - 1] = product.weight_columns;
    return {out};
  }

  std::vector<ParameterSpec> parameters(const Layer& layer) const override {
    if (layer.inputs.size() != 1) return {};
    const auto& product = std::get<BatchedMatmul>(layer.params);
    // (X2, X1): the column-major (X1, X2) matrix as Core ML stores it.
    std::vector<ParameterSpec> specs{{.name = "weights",
                                      .shape = {product.weight_columns, product.weight_rows},
                                      .random = true,
                                      .fan_in = product.weight_rows,
                                      .fan_out = product.weight_columns}};
    if (product.has_bias) specs.push_back({.name = "bias", .shape = {product.weight_columns}});
    return specs;
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& product = std::get<BatchedMatmul>(c.layer.params);
    if (c.inputs.size() == 2) {
      Product p;
      plan_product(c.inputs[0], c.inputs[1], product.transpose_a, product.transpose_b, p);
      return std::make_unique<ProductOp>(std::move(p));
    }
    const LayerParameter* bias = c.layer.parameter("bias");
    return make_inner_product_op(c.inputs[0].count() / product.weight_rows, product.weight_rows,
                                 product.weight_columns, c.layer.parameter("weights")->slice.offset,
                                 bias ? std::optional<size_t>(bias->slice.offset) : std::nullopt,
                                 c.trains_parameters, c.products);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::BatchedMatMulLayerParams& p = message.batchedmatmul();
    if (p.int8dynamicquantize()) reader.fail("int8DynamicQuantize is not supported");
    BatchedMatmul product;
    product.transpose_a = p.transposea();
    product.transpose_b = p.transposeb();
    product.weight_rows = reader.checked(p.weightmatrixfirstdimension(), LayerReader::kMaxChannels,
                                         "weightMatrixFirstDimension");
    product.weight_columns = reader.checked(
        p.weightmatrixseconddimension(), LayerReader::kMaxChannels, "weightMatrixSecondDimension");
    product.has_bias = p.hasbias();
    reader.layer().params = product;
    // Core ML ignores the weight fields of a product of two inputs; so does edgetrain.
    if (message.input_size() != 1) return;
    if (product.weight_rows == 0 || product.weight_columns == 0) {
      reader.fail(
          "with one input, weightMatrixFirstDimension and weightMatrixSecondDimension "
          "must be positive");
    }
    const uint64_t columns = uint64_t(product.weight_columns);
    reader.tensor("weights", p.weights(), uint64_t(product.weight_rows) * columns, columns);
    if (product.has_bias) {
      reader.tensor("bias", p.bias(), columns, columns);
    } else {
      reader.no_tensor(p.bias(), "bias (hasBias is false)");
    }
  }

  void write(const Model& model, const Layer& layer,
             spec::NeuralNetworkLayer& message) const override {
    const auto& product = std::get<BatchedMatmul>(layer.params);
    spec::BatchedMatMulLayerParams* p = message.mutable_batchedmatmul();
    p->set_transposea(product.transpose_a);
    p->set_transposeb(product.transpose_b);
    p->set_weightmatrixfirstdimension(uint64_t(product.weight_rows));
    p->set_weightmatrixseconddimension(uint64_t(product.weight_columns));
    p->set_hasbias(product.has_bias);
    write_tensor(model, layer, "weights", p->mutable_weights());
    write_tensor(model, layer, "bias", p->mutable_bias());
  }

  std::string notes() const override {
    return "two inputs (transposes, broadcast leading dimensions) or one with weights and bias; "
           "not int8DynamicQuantize";
  }
  std::string describe(const Layer& layer) const override {
    const auto& product = std::get<BatchedMatmul>(layer.params);
    if (layer.inputs.size() != 1) {
      return std::string(product.transpose_a ? "aT" : "a") + " x " +
             (product.transpose_b ? "bT" : "b");
    }
    return "x (" + std::to_string(product.weight_rows) + ", " +
           std::to_string(product.weight_columns) + ") weights" +
           (product.has_bias ? " + bias" : "");
  }
};

}  // namespace

template <>
const LayerKind& kind_for<BatchedMatmul>() {
  static const BatchedMatmulKind kind;
  return kind;
}

}  // namespace edgetrain
