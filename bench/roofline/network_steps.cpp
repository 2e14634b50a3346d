#include "roofline/network_steps.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

#include "base/rng.h"
#include "nn/loss_head.h"
#include "nn/network.h"
#include "roofline/peak.h"

namespace edgetrain::bench {
namespace {

// Dense multiply-add FLOPs of one sample's forward pass through a convolution or inner product
// (0 for other kinds): 2 · outputs · (input channels / groups) · kernel area, 2 · inputs · outputs.
double forward_flops_per_sample(const Layer& layer, const BlobShapes& shapes) {
  if (const auto* conv = std::get_if<Convolution>(&layer.params)) {
    const Shape& in = shapes.at(layer.inputs[0]);
    const Shape& out = shapes.at(layer.outputs[0]);
    const double kernel =
        double(in[in.rank() - 3]) / conv->groups * conv->kernel_size[0] * conv->kernel_size[1];
    return 2.0 * double(out.count()) * kernel;
  }
  if (const auto* dense = std::get_if<InnerProduct>(&layer.params)) {
    const Shape& out = shapes.at(layer.outputs[0]);
    const double rows = double(out.count()) / dense->output_channels;
    return 2.0 * rows * double(dense->input_channels) * dense->output_channels;
  }
  return 0.0;
}

// Seeded images in [0, 1] with labels 0..9: the work does not depend on the values.
Dataset random_images(int count, const Shape& input) {
  const SampleShape shape{.channels = int(input[0]), .height = int(input[1]), .width = int(input[2])};
  Rng rng(17);
  std::vector<float> pixels(size_t(count) * shape.size());
  for (float& pixel : pixels) pixel = rng.uniform();
  std::vector<int32_t> labels;
  for (int i = 0; i < count; ++i) labels.push_back(i % 10);
  return Dataset::with_labels(std::move(pixels), std::move(labels), shape, 10);
}

}  // namespace

double print_network_steps(const Model& source, const std::string& name, int images, double seconds,
                           double fp32_peak) {
  Model model = source;
  const Network network(model, {.train = true});
  const LossHead head(model, network);
  const BlobShapes shapes = infer_shapes(model);
  const Dataset data = random_images(images, network.blob_shape(network.input_blobs()[0]));
  Workspace ws = network.make_workspace(images);
  LossHead::Scratch scratch = head.make_scratch(images);
  std::vector<size_t> indices(static_cast<size_t>(images));
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  head.load_batch(ws, scratch, data, indices.data(), images);
  std::vector<float> dparameters(model.parameters.size());
  BatchSync sync(1);
  const Pass pass{.mode = Mode::kTraining, .state = model.parameters.data(), .sync = &sync};
  // One whole pass first, so every step's inputs, saved values and gradients exist.
  network.forward(ws, model, images, pass);
  network.zero_grads(ws, images);
  head.loss_and_seed(ws, scratch, images, images);
  network.backward(ws, model, dparameters.data(), images);

  std::printf("\n## %s: each step of a training pass, %d images, one thread\n\n", name.c_str(),
              images);
  std::printf(
      "| step | forward µs | GFLOP/s | backward µs | GFLOP/s | of fp32 peak (fwd / bwd) | "
      "share of the pass |\n|---|---|---|---|---|---|---|\n");
  struct Row {
    Network::StepInfo info;
    double forward = 0, backward = 0, forward_flops = 0, backward_flops = 0;
  };
  std::vector<Row> rows;
  double total = 0;
  for (size_t s = 0; s < network.step_count(); ++s) {
    Row row{network.step_info(s)};
    row.forward =
        seconds_per_call([&] { network.forward_step(ws, model, images, s, pass); }, seconds);
    if (row.info.backward) {
      row.backward = seconds_per_call(
          [&] { network.backward_step(ws, model, dparameters.data(), images, s); }, seconds);
    }
    if (row.info.layer >= 0) {
      const double per_sample =
          forward_flops_per_sample(model.layers[size_t(row.info.layer)], shapes) * images;
      row.forward_flops = per_sample;
      // Backward: the weight gradient, and the input gradient when one is needed.
      if (row.info.backward) row.backward_flops = per_sample * (row.info.input_gradient ? 2 : 1);
    }
    total += row.forward + row.backward;
    rows.push_back(row);
  }
  for (const Row& row : rows) {
    auto rate = [](double flops, double s) { return flops > 0 && s > 0 ? flops / s * 1e-9 : 0.0; };
    const double forward_rate = rate(row.forward_flops, row.forward);
    const double backward_rate = rate(row.backward_flops, row.backward);
    char forward_text[32] = "", backward_text[32] = "", peak_text[48] = "";
    if (forward_rate > 0) std::snprintf(forward_text, sizeof forward_text, "%.1f", forward_rate);
    if (backward_rate > 0)
      std::snprintf(backward_text, sizeof backward_text, "%.1f", backward_rate);
    if (forward_rate > 0) {
      std::snprintf(peak_text, sizeof peak_text, "%.0f %% / %.0f %%",
                    100.0 * forward_rate / fp32_peak, 100.0 * backward_rate / fp32_peak);
    }
    std::printf("| %s | %.1f | %s | %.1f | %s | %s | %.1f %% |\n", row.info.label.c_str(),
                row.forward * 1e6, forward_text, row.backward * 1e6, backward_text, peak_text,
                100.0 * (row.forward + row.backward) / total);
  }
  std::printf("| **all steps** | | | | | | **%.3f ms** |\n", total * 1e3);
  return total * 1e6;
}

}  // namespace edgetrain::bench
