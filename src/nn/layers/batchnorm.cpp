// Batch normalisation (Core ML's `batchnorm`) over the channel axis of (C, H, W), leading
// dimensions folded into the batch. Which statistics normalise decides everything:
//   - running: the stored mean and variance (Core ML's inference; a frozen layer in training too);
//   - instance: each sample's own, per leading index and channel (computeMeanVar with
//     instanceNormalization);
//   - batch: the whole mini-batch's (computeMeanVar without instanceNormalization; and an
//     updatable layer in training, an edgetrain extension: Core ML trains only convolution and
//     innerProduct). The trainer splits a mini-batch over threads, so each thread sums its part
//     in double and BatchSync adds the parts in thread order: every thread gets the same bits
//     for a given thread count. Backward through batch statistics sums over the batch the same
//     way.
// Forward keeps the mean and 1/sqrt(variance + ε) it used (per channel; per sample and leading
// index for instance statistics) for backward, which reads them with the forward input.
// Training an updatable layer updates the running statistics from thread 0 (args.state), as
// PyTorch's BatchNorm does: running = (1 − m)·running + m·batch with m = 0.1 and the batch's
// unbiased variance (count / (count − 1) times the biased one). Unbiased, so that a model
// trained here and one trained by PyTorch from the same start keep the same running statistics,
// and inference on a small batch is not biased low.
#include "ops/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "nn/layer_io.h"
#include "nn/layer_kind.h"
#include "nn/layers/classic.h"
#include "nn/shapes.h"

namespace edgetrain {
namespace {

constexpr double kMomentum = 0.1;  // PyTorch's default

enum class Statistics { kRunning, kInstance, kBatch };

struct BatchnormConfig {
  Chw view;
  float epsilon = 1e-5f;
  size_t gamma = 0, beta = 0;
  std::optional<size_t> mean, variance;  // absent with computeMeanVar
  bool instance = false;                 // computeMeanVar with instanceNormalization
  bool updatable = false;                // batch statistics in training
  bool trains = false;                   // gamma and beta get gradients
};

class BatchnormOp : public Op {
 public:
  explicit BatchnormOp(BatchnormConfig config) : c_(config) {}

  Statistics statistics(Mode mode) const {
    if (!c_.mean) return c_.instance ? Statistics::kInstance : Statistics::kBatch;
    return mode == Mode::kTraining && c_.updatable ? Statistics::kBatch : Statistics::kRunning;
  }
  bool couples_batch(Mode mode) const override { return statistics(mode) == Statistics::kBatch; }
  bool backward_reads_output() const override { return false; }

  // Scratch: partial and total sums (2·C + 1 doubles each, the last the value count), then the
  // running statistics' mean and inv_std (C floats each).
  size_t scratch_floats() const override { return 4 * sums_size() + 2 * size_t(c_.view.c); }
  size_t saved_bytes_per_sample() const override {
    if (statistics(Mode::kTraining) == Statistics::kRunning) return 0;
    // Batch statistics live once, in the first sample's slot (every workspace has one).
    const size_t sets =
        statistics(Mode::kTraining) == Statistics::kInstance ? size_t(c_.view.outer) : 1;
    return sets * 2 * size_t(c_.view.c) * sizeof(float);
  }

  void forward(const OpArgs& a) const override {
    const int channels = c_.view.c, plane = int(c_.view.plane());
    const int64_t rows = this->rows(a);
    const float* gamma = a.parameters + c_.gamma;
    const float* beta = a.parameters + c_.beta;
    switch (statistics(a.mode)) {
      case Statistics::kRunning: {
        float *mean = running_mean(a), *inv_std = mean + channels;
        running_statistics(a, mean, inv_std);
        ops::batchnorm_forward(a.out[0], a.in[0], mean, inv_std, gamma, beta, rows, channels,
                               plane);
        return;
      }
      case Statistics::kInstance:
        for (int64_t r = 0; r < rows; ++r) {
          const size_t at = size_t(r) * channels * plane;
          float *mean = saved(a) + size_t(r) * 2 * channels, *inv_std = mean + channels;
          double* sums = partial(a);
          ops::batchnorm_sums(sums, a.in[0] + at, 1, channels, plane);
          ops::batchnorm_statistics(mean, inv_std, nullptr, sums, plane, channels, c_.epsilon);
          ops::batchnorm_forward(a.out[0] + at, a.in[0] + at, mean, inv_std, gamma, beta, 1,
                                 channels, plane);
        }
        return;
      case Statistics::kBatch: {
        double *sums = partial(a), *totals = total(a);
        ops::batchnorm_sums(sums, a.in[0], rows, channels, plane);
        sums[2 * channels] = double(rows) * plane;
        reduce(a, sums, totals);
        const double count = totals[2 * channels];
        float *mean = saved(a), *inv_std = mean + channels;
        double* variance = sums;  // the partial sums are spent; reuse them
        ops::batchnorm_statistics(mean, inv_std, variance, totals, count, channels, c_.epsilon);
        ops::batchnorm_forward(a.out[0], a.in[0], mean, inv_std, gamma, beta, rows, channels,
                               plane);
        if (a.mode == Mode::kTraining && a.state && c_.mean) {
          update_running(a.state + *c_.mean, a.state + *c_.variance, mean, variance, count);
        }
        return;
      }
    }
  }

  void backward(const OpArgs& a) const override {
    const int channels = c_.view.c, plane = int(c_.view.plane());
    const int64_t rows = this->rows(a);
    const float* gamma = a.parameters + c_.gamma;
    float* dgamma = c_.trains && a.dparameters ? a.dparameters + c_.gamma : nullptr;
    float* dbeta = c_.trains && a.dparameters ? a.dparameters + c_.beta : nullptr;
    float* dinput = a.din[0];
    double* sums = partial(a);
    // dgamma and dbeta: this thread's part (the trainer adds the threads' gradient blocks).
    auto add_parameter_gradients = [&] {
      for (int c = 0; c < channels; ++c) {
        if (dbeta) dbeta[c] += float(sums[c]);
        if (dgamma) dgamma[c] += float(sums[channels + c]);
      }
    };
    switch (statistics(a.mode)) {
      case Statistics::kRunning: {
        float *mean = running_mean(a), *inv_std = mean + channels;
        running_statistics(a, mean, inv_std);
        if (dinput) {
          ops::batchnorm_backward_fixed(dinput, a.dout[0], gamma, inv_std, rows, channels, plane);
        }
        ops::batchnorm_backward_sums(sums, a.dout[0], a.in[0], mean, inv_std, rows, channels,
                                     plane);
        add_parameter_gradients();
        return;
      }
      case Statistics::kInstance:
        for (int64_t r = 0; r < rows; ++r) {
          const size_t at = size_t(r) * channels * plane;
          const float *mean = saved(a) + size_t(r) * 2 * channels, *inv_std = mean + channels;
          ops::batchnorm_backward_sums(sums, a.dout[0] + at, a.in[0] + at, mean, inv_std, 1,
                                       channels, plane);
          add_parameter_gradients();
          if (dinput) {
            ops::batchnorm_backward_statistics(dinput + at, a.dout[0] + at, a.in[0] + at, mean,
                                               inv_std, gamma, sums, plane, 1, channels, plane);
          }
        }
        return;
      case Statistics::kBatch: {
        const float *mean = saved(a), *inv_std = mean + channels;
        ops::batchnorm_backward_sums(sums, a.dout[0], a.in[0], mean, inv_std, rows, channels,
                                     plane);
        add_parameter_gradients();
        // Every thread of the plan has the same dinput wish, so all of them meet here or none.
        if (!dinput) return;
        sums[2 * channels] = double(rows) * plane;
        double* totals = total(a);
        reduce(a, sums, totals);
        ops::batchnorm_backward_statistics(dinput, a.dout[0], a.in[0], mean, inv_std, gamma, totals,
                                           totals[2 * channels], rows, channels, plane);
        return;
      }
    }
  }

 private:
  int64_t rows(const OpArgs& a) const { return a.n * c_.view.outer; }
  size_t sums_size() const { return 2 * size_t(c_.view.c) + 1; }
  // Scratch starts 16-byte aligned (a std::vector's storage), so doubles fit at its start.
  double* partial(const OpArgs& a) const { return reinterpret_cast<double*>(a.scratch); }
  double* total(const OpArgs& a) const { return partial(a) + sums_size(); }
  float* running_mean(const OpArgs& a) const { return a.scratch + 4 * sums_size(); }
  float* saved(const OpArgs& a) const { return reinterpret_cast<float*>(a.saved); }

  void running_statistics(const OpArgs& a, float* mean, float* inv_std) const {
    const float* stored_mean = a.parameters + *c_.mean;
    const float* stored_variance = a.parameters + *c_.variance;
    for (int c = 0; c < c_.view.c; ++c) {
      mean[c] = stored_mean[c];
      inv_std[c] = float(1.0 / std::sqrt(double(stored_variance[c]) + double(c_.epsilon)));
    }
  }

  // Sums over every thread's part of the batch, added in thread order (one thread: its own).
  void reduce(const OpArgs& a, const double* local, double* totals) const {
    if (a.sync) {
      a.sync->all_reduce(a.thread, local, totals, sums_size());
    } else {
      std::copy_n(local, sums_size(), totals);
    }
  }

  void update_running(float* running_mean, float* running_variance, const float* mean,
                      const double* variance, double count) const {
    const double unbiased = count > 1 ? count / (count - 1) : 1.0;
    for (int c = 0; c < c_.view.c; ++c) {
      running_mean[c] = float((1 - kMomentum) * running_mean[c] + kMomentum * mean[c]);
      running_variance[c] =
          float((1 - kMomentum) * running_variance[c] + kMomentum * variance[c] * unbiased);
    }
  }

  BatchnormConfig c_;
};

class BatchnormKind : public LayerKind {
 public:
  const char* name() const override { return "batchnorm"; }
  int coreml_field() const override { return spec::NeuralNetworkLayer::kBatchnorm; }
  bool coreml_backprop(const Layer&) const override { return true; }

  void complete(Layer& layer, const std::vector<Shape>& inputs, const Model&) const override {
    auto& norm = std::get<Batchnorm>(layer.params);
    if (norm.channels == 0 && inputs.size() == 1 && inputs[0].rank() != 2) {
      norm.channels = classic_view(inputs[0]).c;
    }
  }

  std::vector<Shape> infer(const LayerContext& context) const override {
    const auto& norm = std::get<Batchnorm>(context.layer.params);
    const Chw in = classic_view(context);
    if (norm.channels != in.c) {
      context.fail(context.input_text(0) + " but its parameters are for " +
                   std::to_string(norm.channels) + " channels (axis -3)");
    }
    if (!(norm.epsilon > 0.0f) || !std::isfinite(norm.epsilon)) {
      context.fail("epsilon " + number(norm.epsilon) + " must be positive");
    }
    return {context.inputs[0]};
  }

  std::vector<ParameterSpec> parameters(const Layer& layer) const override {
    const auto& norm = std::get<Batchnorm>(layer.params);
    std::vector<ParameterSpec> specs{{.name = "gamma", .shape = {norm.channels}, .value = 1.0f},
                                     {.name = "beta", .shape = {norm.channels}}};
    if (!norm.compute_mean_var) {
      specs.push_back({.name = "mean", .shape = {norm.channels}, .role = ParameterRole::kState});
      specs.push_back({.name = "variance",
                       .shape = {norm.channels},
                       .role = ParameterRole::kState,
                       .value = 1.0f});
    }
    return specs;
  }

  std::unique_ptr<Op> compile(const CompileContext& c) const override {
    const auto& norm = std::get<Batchnorm>(c.layer.params);
    BatchnormConfig config{.view = classic_view(c.inputs[0]),
                           .epsilon = norm.epsilon,
                           .gamma = c.layer.parameter("gamma")->slice.offset,
                           .beta = c.layer.parameter("beta")->slice.offset,
                           .instance = norm.compute_mean_var && norm.instance_normalization,
                           .updatable = c.layer.updatable,
                           .trains = c.trains_parameters};
    if (const LayerParameter* mean = c.layer.parameter("mean")) {
      config.mean = mean->slice.offset;
      config.variance = c.layer.parameter("variance")->slice.offset;
    }
    return std::make_unique<BatchnormOp>(config);
  }

  void read(const spec::NeuralNetworkLayer& message, LayerReader& reader) const override {
    const spec::BatchnormLayerParams& b = message.batchnorm();
    Batchnorm norm;
    norm.channels = reader.checked(b.channels(), LayerReader::kMaxChannels, "channels");
    if (norm.channels == 0) reader.fail("channels must be positive");
    norm.compute_mean_var = b.computemeanvar();
    norm.instance_normalization = b.instancenormalization();
    if (b.epsilon() != 0.0f) norm.epsilon = b.epsilon();
    if (!(norm.epsilon > 0.0f) || !std::isfinite(norm.epsilon)) {
      reader.fail("epsilon " + number(norm.epsilon) + " must be positive");
    }
    reader.layer().params = norm;
    const uint64_t channels = uint64_t(norm.channels);
    reader.tensor("gamma", b.gamma(), channels, channels);
    reader.tensor("beta", b.beta(), channels, channels);
    // With computeMeanVar Core ML ignores a stored mean and variance (coremltools writes none);
    // edgetrain keeps none either.
    if (!norm.compute_mean_var) {
      reader.tensor("mean", b.mean(), channels, channels);
      reader.tensor("variance", b.variance(), channels, channels);
    }
  }

  void write(const Model& model, const Layer& layer,
             spec::NeuralNetworkLayer& message) const override {
    const auto& norm = std::get<Batchnorm>(layer.params);
    spec::BatchnormLayerParams* b = message.mutable_batchnorm();
    b->set_channels(uint64_t(norm.channels));
    b->set_computemeanvar(norm.compute_mean_var);
    b->set_instancenormalization(norm.instance_normalization);
    b->set_epsilon(norm.epsilon);
    write_tensor(model, layer, "gamma", b->mutable_gamma());
    write_tensor(model, layer, "beta", b->mutable_beta());
    if (!norm.compute_mean_var) {  // else none, as coremltools writes it
      write_tensor(model, layer, "mean", b->mutable_mean());
      write_tensor(model, layer, "variance", b->mutable_variance());
    }
  }

  std::string notes() const override {
    return "stored statistics, or computeMeanVar per sample (instanceNormalization) or per batch; "
           "updatable (an edgetrain extension): training normalises with the whole mini-batch's "
           "statistics and updates the running ones (momentum 0.1, as PyTorch)";
  }
  std::string describe(const Layer& layer) const override {
    const auto& norm = std::get<Batchnorm>(layer.params);
    std::string text = std::to_string(norm.channels) + " channels, epsilon " + number(norm.epsilon);
    if (norm.compute_mean_var) {
      text += norm.instance_normalization ? ", statistics of each sample" : ", batch statistics";
    } else if (layer.updatable) {
      text += ", batch statistics in training";
    }
    return text;
  }

 private:
  static std::string number(float value) { return number_text(double(value)); }
};

}  // namespace

template <>
const LayerKind& kind_for<Batchnorm>() {
  static const BatchnormKind kind;
  return kind;
}

}  // namespace edgetrain
