// The memory a training run, an evaluation or a predictor takes for its buffers, counted from the
// network's per-sample blob sizes before anything is allocated, and checked against what the
// machine can give (base/machine.h): a request that cannot fit is refused with the figure it needs.
#pragma once

#include <cstddef>

#include "edgetrain/train.h"
#include "nn/network.h"
#include "nn/loss_head.h"

namespace edgetrain {

// UpdateTask::run's buffers: per thread, a workspace and loss scratch for ceil(batch / threads)
// samples and a gradient block; the optimizer's moments; the sample order; and with checkpoints,
// the state's copy of the weights and the encoded file.
double training_bytes(const Model& model, const Network& network, const LossHead& head,
                      const ResolvedUpdate& settings, size_t samples, bool checkpointing);
// Throws Error naming the batch, the threads and the bytes when training_bytes cannot fit.
void check_training_fits(const Model& model, const Network& network, const LossHead& head,
                         const ResolvedUpdate& settings, size_t samples, bool checkpointing);

// evaluate()'s buffers: per thread, an inference workspace and scratch for `chunk` samples and a
// confusion matrix. Throws Error when they cannot fit.
void check_evaluation_fits(const Network& network, const LossHead& head, int threads, int chunk);
// A Predictor's one-sample inference workspace. Throws Error when it cannot fit.
void check_prediction_fits(const Network& network);

}  // namespace edgetrain
