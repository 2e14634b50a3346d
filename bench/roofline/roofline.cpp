// edgetrain_roofline: this core's limits and how close LeNet's training kernels come to them.
//
//   build/edgetrain_roofline [--threads T] [--seconds S] [--networks]
//
// 1. Peaks (peak.h): fp32 FMA per instruction set, bf16 vdpbf16ps where the CPU has AVX512-BF16,
//    triad bandwidth from DRAM (1 and 2 threads) and from L2.
// 2. Each kernel of one LeNet training step, run as the trainer runs it on one thread's share of
//    a 128-image mini-batch (64 images with 2 threads): thread CPU time per call (best of 5, so
//    other jobs on the machine count less), the FLOPs it
//    executes, GFLOP/s and the fraction of the widest fp32 peak. Sparse kernels also give their
//    dense-equivalent rate (the FLOPs the unfused layer would do), as bench/ and the README quote.
// 3. Where a training step goes: each layer's forward and backward and the optimizer, as shares
//    of the modelled step, the headroom to the fp32 peak, and the real step (UpdateTask on random
//    images, T threads) to show what the model misses (threading, the loss, copying the batch).
// 4. With --networks: every plan step of lenet() and small_resnet() timed through the executor
//    (roofline/network_steps.h), the second workload's layers beside LeNet's fused kernels.
// Speed depends on what else the machine runs: take final numbers on a quiet machine.
#include <edgetrain/edgetrain.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/rng.h"
#include "ops/gemm_internal.h"
#include "ops/ops.h"
#include "roofline/network_steps.h"
#include "roofline/peak.h"
#include "train/optimizer.h"

namespace edgetrain::bench {
namespace {

std::vector<float> random_vector(size_t size, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(size);
  for (float& x : v) x = scale * (2.0f * rng.uniform() - 1.0f);
  return v;
}

// One kernel of the step: what it computes and how it is counted.
struct KernelRun {
  std::string layer;       // conv1, conv2, hidden1, ...
  std::string phase;       // forward, backward, optimizer
  std::string kernel;      // which code runs
  double flops = 0;        // executed
  double dense_flops = 0;  // the unfused layer's (0: same as executed)
  std::function<void()> run;
  double seconds = 0;
};

// LeNet's layers, as the network runs them (src/nn/network.cpp): conv + ReLU + pool fused twice
// (the first writes channel-last, the second reads it; the flatten is free), then dense 1152 ->
// 500, ReLU, dense 500 -> 10, softmax with cross-entropy, and Adam over every parameter.
struct LenetStep {
  int batch;
  ops::ConvReluPoolShape conv1, conv2;
  std::vector<float> image, w1, b1, out1, w2, b2, out2, wh1, bh1, hidden1, wh2, bh2, logits;
  std::vector<float> d_out1, d_out2, d_hidden1, d_logits, dw1, db1, dw2, db2, dwh1, dbh1, dwh2,
      dbh2, probabilities, workspace1, workspace2;
  std::vector<uint8_t> argmax1, argmax2;
  std::vector<int32_t> labels;

  explicit LenetStep(int batch_size) : batch(batch_size) {
    conv1 = fused_shape(1, 28, 32, 3, false, true);
    conv2 = fused_shape(32, 13, 32, 2, true, true);
    image = random_vector(size_t(batch) * 784, 1, 0.5f);
    for (float& x : image) x += 0.5f;  // pixels in [0, 1]
    w1 = random_vector(32 * 9, 2, 0.4f), b1 = random_vector(32, 3, 0.05f);
    w2 = random_vector(32 * 32 * 4, 4, 0.15f), b2 = random_vector(32, 5, 0.05f);
    wh1 = random_vector(500 * 1152, 6, 0.05f), bh1 = random_vector(500, 7, 0.05f);
    wh2 = random_vector(10 * 500, 8, 0.1f), bh2 = random_vector(10, 9, 0.05f);
    out1.resize(size_t(batch) * 13 * 13 * 32), argmax1.resize(out1.size());
    out2.resize(size_t(batch) * 6 * 6 * 32), argmax2.resize(out2.size());
    hidden1.resize(size_t(batch) * 500), logits.resize(size_t(batch) * 10);
    probabilities.resize(logits.size()), d_logits.resize(logits.size());
    d_hidden1.resize(hidden1.size()), d_out2.resize(out2.size()), d_out1.resize(out1.size());
    dw1.resize(w1.size()), db1.resize(b1.size()), dw2.resize(w2.size()), db2.resize(b2.size());
    dwh1.resize(wh1.size()), dbh1.resize(bh1.size()), dwh2.resize(wh2.size());
    dbh2.resize(bh2.size());
    workspace1.resize(ops::conv_relu_pool_workspace_floats(conv1));
    workspace2.resize(ops::conv_relu_pool_workspace_floats(conv2));
    labels.resize(size_t(batch));
    for (int n = 0; n < batch; ++n) labels[size_t(n)] = n % 10;
    forward_all();  // argmax and activations for the backward kernels
  }

  ops::ConvReluPoolShape fused_shape(int in_channels, int size, int out_channels, int kernel,
                                     bool input_channel_last, bool output_channel_last) const {
    ops::ConvReluPoolShape s;
    s.conv.batch = batch;
    s.conv.in_channels = in_channels, s.conv.in_height = s.conv.in_width = size;
    s.conv.out_channels = out_channels, s.conv.kernel_height = s.conv.kernel_width = kernel;
    s.conv.out_height = s.conv.out_width = size - kernel + 1;
    s.pool_height = s.pool_width = 2;
    s.out_height = s.out_width = s.conv.out_height / 2;
    s.input_channel_last = input_channel_last, s.output_channel_last = output_channel_last;
    return s;
  }

  void conv1_forward() {
    ops::conv_relu_pool_forward(out1.data(), argmax1.data(), image.data(), w1.data(), b1.data(),
                                conv1, workspace1.data());
  }
  void conv2_forward() {
    ops::conv_relu_pool_forward(out2.data(), argmax2.data(), out1.data(), w2.data(), b2.data(),
                                conv2, workspace2.data());
  }
  void hidden1_forward() {
    ops::inner_product_forward(hidden1.data(), out2.data(), wh1.data(), bh1.data(), batch, 1152,
                               500);
    ops::relu_forward(hidden1.data(), hidden1.data(), hidden1.size());
  }
  void hidden2_forward() {
    ops::inner_product_forward(logits.data(), hidden1.data(), wh2.data(), bh2.data(), batch, 500,
                               10);
    ops::softmax_forward(probabilities.data(), logits.data(), batch, 10, 1);
  }
  void forward_all() { conv1_forward(), conv2_forward(), hidden1_forward(), hidden2_forward(); }
  void loss_backward() {  // softmax + cross-entropy: p - onehot, over the batch
    for (int n = 0; n < batch; ++n)
      for (int c = 0; c < 10; ++c)
        d_logits[size_t(n) * 10 + c] =
            (probabilities[size_t(n) * 10 + c] - (labels[size_t(n)] == c ? 1.0f : 0.0f)) / batch;
  }
  void hidden2_backward() {
    std::fill(d_hidden1.begin(), d_hidden1.end(), 0.0f);
    ops::inner_product_backward(d_hidden1.data(), dwh2.data(), dbh2.data(), d_logits.data(),
                                hidden1.data(), wh2.data(), batch, 500, 10);
  }
  void hidden1_backward() {
    ops::relu_backward_in_place(d_hidden1.data(), hidden1.data(), d_hidden1.size());
    std::fill(d_out2.begin(), d_out2.end(), 0.0f);
    ops::inner_product_backward(d_out2.data(), dwh1.data(), dbh1.data(), d_hidden1.data(),
                                out2.data(), wh1.data(), batch, 1152, 500);
  }
  void conv2_backward() {
    std::fill(d_out1.begin(), d_out1.end(), 0.0f);
    ops::conv_relu_pool_backward(d_out1.data(), dw2.data(), db2.data(), d_out2.data(),
                                 argmax2.data(), out1.data(), w2.data(), conv2, workspace2.data());
  }
  void conv1_backward() {
    ops::conv_relu_pool_backward(nullptr, dw1.data(), db1.data(), d_out1.data(), argmax1.data(),
                                 image.data(), w1.data(), conv1, workspace1.data());
  }
};

// (window, channel) cells whose max carries a gradient.
double hits(const std::vector<uint8_t>& argmax) {
  return double(std::count_if(argmax.begin(), argmax.end(),
                              [](uint8_t at) { return at != ops::kNoGradient; }));
}

std::vector<KernelRun> lenet_kernels(LenetStep& s, std::vector<float>& parameters,
                                     std::vector<float>& gradient0, std::vector<float>& gradient1,
                                     std::vector<float>& m, std::vector<float>& v) {
  const double n = s.batch;
  const double conv1_dense = 2.0 * n * 32 * 26 * 26 * 9;    // (N, 32, 26, 26), K = 9
  const double conv2_dense = 2.0 * n * 32 * 12 * 12 * 128;  // (N, 32, 12, 12), K = 128
  const double hidden1 = 2.0 * n * 500 * 1152, hidden2 = 2.0 * n * 10 * 500;
  // The sparse backward multiplies only the gradient-carrying cells, once into dW and once into
  // dinput: 2·K each per hit.
  const double conv2_sparse = 2.0 * 128 * 2 * hits(s.argmax2);
  std::vector<KernelRun> runs = {
      {"conv1", "forward", "fused direct (in registers)", conv1_dense, 0,
       [&] { s.conv1_forward(); }},
      {"conv2", "forward", "fused deep (in registers)", conv2_dense, 0, [&] { s.conv2_forward(); }},
      {"hidden1", "forward", "GEMM 64x500x1152 + ReLU", hidden1, 0, [&] { s.hidden1_forward(); }},
      {"hidden2", "forward", "GEMM + softmax", hidden2, 0, [&] { s.hidden2_forward(); }},
      {"loss", "backward", "softmax + cross-entropy", 0, 0, [&] { s.loss_backward(); }},
      {"hidden2", "backward", "2 GEMMs (dW, dinput)", 2 * hidden2, 0,
       [&] { s.hidden2_backward(); }},
      {"hidden1", "backward", "2 GEMMs (dW, dinput) + ReLU", 2 * hidden1, 0,
       [&] { s.hidden1_backward(); }},
      {"conv2", "backward", "fused sparse (dW, dinput)", conv2_sparse, 2 * conv2_dense,
       [&] { s.conv2_backward(); }},
      {"conv1", "backward", "fused direct (dW only)", conv1_dense, 0, [&] { s.conv1_backward(); }},
      // Adam's 14 FLOPs a parameter are not what limits it: it streams 7 floats (p, m, v, two
      // gradient parts read and zeroed).
      {"all", "optimizer", "Adam, 2 gradient parts", 14.0 * double(parameters.size()), 0,
       [&] {
         float* parts[2] = {gradient0.data(), gradient1.data()};
         adam_step(parameters.data(), {parts, 2}, m.data(), v.data(), parameters.size(), 1e-3, 0.9,
                   0.999, 1e-7, 10);
       }},
  };
  return runs;
}

// Random images with labels for the real-step measurement; features are made on request.
struct RandomImages : BatchProvider {
  size_t count() const override { return 128 * 40; }
  size_t feature_size() const override { return 784; }
  void copy_features(size_t index, float* dst) const override {
    Rng rng(index + 1);
    for (int i = 0; i < 784; ++i) dst[i] = rng.uniform();
  }
  int32_t label(size_t index) const override { return int32_t(index % 10); }
};

// The real trainer (lenet(), batch 128, `threads`) after 5 warm-up batches: the median wall time
// of a mini-batch, and the median process CPU time of one divided by the thread count (what the
// wall time would be with every thread busy and nothing else running).
struct RealStep {
  double wall_seconds = 0, cpu_seconds_per_thread = 0;
};
RealStep real_step(int threads) {
  Model model = lenet({.batch_size = 128, .epochs = 1});
  RandomImages data;
  UpdateTask task(model, data, {.epochs = 1, .threads = threads});
  std::vector<double> wall, cpu;
  auto process_seconds = [] {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return double(now.tv_sec) + 1e-9 * double(now.tv_nsec);
  };
  task.handlers.batch_end = [&](UpdateTask&, const BatchEnd& e) {
    wall.push_back(e.elapsed_seconds);
    cpu.push_back(process_seconds());
  };
  task.run();
  auto median_step = [](const std::vector<double>& at) {
    std::vector<double> steps;
    for (size_t i = 6; i < at.size(); ++i) steps.push_back(at[i] - at[i - 1]);
    std::sort(steps.begin(), steps.end());
    return steps.empty() ? 0.0 : steps[steps.size() / 2];
  };
  return {median_step(wall), median_step(cpu) / threads};
}

int main_roofline(int argc, char** argv) {
  int threads = 2;
  double seconds = 1.0;
  bool networks = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--networks") {
      networks = true;
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::max(0.05, std::atof(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: edgetrain_roofline [--threads T] [--seconds S] [--networks]\n");
      return 2;
    }
  }
  std::printf("# edgetrain roofline (%u hardware threads; GEMM kernel: %s)\n\n",
              std::thread::hardware_concurrency(),
              ops::gemm_internal::isa_name(ops::gemm_internal::best_isa()));

  std::printf("## Peaks, one core\n\n| what | GFLOP/s |\n|---|---|\n");
  const std::vector<PeakRate> peaks = measure_compute_peaks(seconds);
  double fp32_peak = 0;
  for (const PeakRate& p : peaks) {
    std::printf("| %s | %.1f |\n", p.name.c_str(), p.gflops);
    if (p.name.rfind("fp32", 0) == 0) fp32_peak = std::max(fp32_peak, p.gflops);
  }
  std::printf("\n| bandwidth | GB/s |\n|---|---|\n");
  const Bandwidth bandwidths[] = {
      measure_triad("triad, DRAM (3 x 256 MB), 1 thread", 256 << 20, 1),
      measure_triad("triad, DRAM (3 x 256 MB), 2 threads", 256 << 20, 2),
      measure_triad("triad, L2 (3 x 128 KB), 1 thread", 128 << 10, 1)};
  for (const Bandwidth& b : bandwidths)
    std::printf("| %s | %.1f |\n", b.name.c_str(), b.bytes_per_second * 1e-9);

  const int slice = 128 / threads;
  LenetStep step(slice);
  const size_t parameter_count = 585958;
  std::vector<float> parameters = random_vector(parameter_count, 11, 0.05f);
  std::vector<float> gradient0(parameter_count, 1e-3f), gradient1(parameter_count, 1e-3f);
  std::vector<float> m(parameter_count, 0.0f), v(parameter_count, 0.0f);
  std::vector<KernelRun> runs = lenet_kernels(step, parameters, gradient0, gradient1, m, v);
  for (KernelRun& r : runs) r.seconds = seconds_per_call(r.run, seconds);

  std::printf(
      "\n## LeNet kernels, %d images (one thread's share of a 128-image batch at %d threads)\n\n",
      slice, threads);
  std::printf(
      "| layer | phase | kernel | µs | GFLOP/s | of fp32 peak | dense-equivalent GFLOP/s |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const KernelRun& r : runs) {
    const double gflops = r.flops / r.seconds * 1e-9;
    std::string dense = "";
    if (r.dense_flops > 0) {
      char text[32];
      std::snprintf(text, sizeof text, "%.1f", r.dense_flops / r.seconds * 1e-9);
      dense = text;
    }
    if (r.phase == "optimizer") {
      const double bytes = 7.0 * 4 * double(parameter_count);
      std::printf("| %s | %s | %s | %.1f | %.1f | %.1f %% (memory: %.1f GB/s) | |\n",
                  r.layer.c_str(), r.phase.c_str(), r.kernel.c_str(), r.seconds * 1e6, gflops,
                  100.0 * gflops / fp32_peak, bytes / r.seconds * 1e-9);
    } else {
      std::printf("| %s | %s | %s | %.1f | %.1f | %.1f %% | %s |\n", r.layer.c_str(),
                  r.phase.c_str(), r.kernel.c_str(), r.seconds * 1e6, gflops,
                  100.0 * gflops / fp32_peak, dense.c_str());
    }
  }

  // The optimizer's passes are split over the threads like the batch (element-wise, any split).
  double modelled = 0, at_peak = 0;
  for (const KernelRun& r : runs) {
    const double share = r.phase == "optimizer" ? r.seconds / threads : r.seconds;
    modelled += share;
    at_peak += r.flops / (fp32_peak * 1e9) / (r.phase == "optimizer" ? threads : 1);
  }
  std::printf("\n## Where a training step goes (%d threads, batch 128)\n\n", threads);
  std::printf("| layer | phase | ms | share | ms at fp32 peak |\n|---|---|---|---|---|\n");
  for (const KernelRun& r : runs) {
    const double share = r.phase == "optimizer" ? r.seconds / threads : r.seconds;
    const double peak = r.flops / (fp32_peak * 1e9) / (r.phase == "optimizer" ? threads : 1);
    std::printf("| %s | %s | %.3f | %.1f %% | %.3f |\n", r.layer.c_str(), r.phase.c_str(),
                share * 1e3, 100.0 * share / modelled, peak * 1e3);
  }
  const RealStep real = real_step(threads);
  std::printf("| **kernels (modelled step)** | | **%.3f** | 100 %% | %.3f |\n", modelled * 1e3,
              at_peak * 1e3);
  std::printf(
      "\nReal step (UpdateTask, lenet(), random images, %d threads, median of 34 batches): "
      "%.3f ms wall; %.3f ms of CPU per thread, of which %.3f ms (%.1f %%) outside the "
      "kernels above (synchronisation, batch copy, loss, events).\n",
      threads, real.wall_seconds * 1e3, real.cpu_seconds_per_thread * 1e3,
      (real.cpu_seconds_per_thread - modelled) * 1e3,
      100.0 * (real.cpu_seconds_per_thread - modelled) / real.cpu_seconds_per_thread);
  std::printf(
      "Headroom: every kernel at the fp32 peak would take %.3f ms, %.1fx less than the "
      "kernels now.\n",
      at_peak * 1e3, modelled / at_peak);
  if (networks) {
    // The same share of a 128-image batch, through the executor: LeNet's fused steps next to
    // small_resnet()'s batch norm, residual block and same-padded convolutions.
    print_network_steps(lenet({.initializer = Initializer::kHeUniform}), "lenet()", slice, seconds,
                        fp32_peak);
    print_network_steps(small_resnet({.initializer = Initializer::kHeUniform}), "small_resnet()",
                        slice, seconds, fp32_peak);
  }
  return 0;
}

}  // namespace
}  // namespace edgetrain::bench

int main(int argc, char** argv) {
  return edgetrain::bench::main_roofline(argc, argv);
}
