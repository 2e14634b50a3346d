// Each step of a network's training pass timed through the executor (Network::forward_step /
// backward_step, as UpdateTask runs them), so any model's layers can be compared with the fp32 peak
// and with each other: LeNet's fused kernels against small_resnet()'s batch norm, residual block
// and unfused same-padded convolutions.
#pragma once

#include <string>

#include "edgetrain/model.h"

namespace edgetrain::bench {

// Prints a table: per plan step, forward and backward µs (this thread's CPU time per call, best of
// five) on `images` samples, the dense FLOPs of its convolution or inner product and their
// GFLOP/s and fraction of `fp32_peak`; the other steps (batch norm, add, ReLU, ...) are memory
// bound and show their time and share of the step alone. Returns the summed µs of all steps.
double print_network_steps(const Model& model, const std::string& name, int images, double seconds,
                           double fp32_peak);

}  // namespace edgetrain::bench
