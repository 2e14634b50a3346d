// Checkpoints of a training run: everything needed to continue it bit-exactly — the weights, the
// optimizer moments and step, the shuffling RNG and order, the position in the epoch, and the
// state of the training options (plateau and early-stopping counters, the rate's reductions, the
// best weights). The learning-rate schedule's position is the step.
// File: "EDGETRAIN-CHECKPOINT\n", then little-endian fields, then a CRC-32 of everything before it,
// written atomically (temporary file, fsync, rename), so a crash leaves the previous checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/epoch_rules.h"

namespace edgetrain {

struct TrainingState {
  std::string signature;   // what the run was started with; a resume must match it
  int64_t epoch = 0;       // the epoch in progress
  int64_t batch = 0;       // the next mini-batch of that epoch
  int64_t step = 0;        // optimizer steps taken
  uint64_t rng_state = 0;  // the shuffling RNG after this epoch's shuffle
  bool order_ready = false;  // this epoch's order has been drawn
  std::vector<uint64_t> order;  // this epoch's sample order
  double epoch_loss = 0;        // sums over the epoch so far, for its report
  uint64_t epoch_correct = 0, epoch_samples = 0, samples_seen = 0;
  double elapsed_seconds = 0;
  std::vector<float> parameters, moment1, moment2;
  // The training options' state (version 2; a version-1 file had none): the epoch-end rules, the
  // reason the run stopped early (StopReason; kCompleted while it runs on), and the best epoch's
  // weights when early stopping restores them.
  EarlyStoppingState early_stopping;
  PlateauState plateau;
  StopReason stop_reason = StopReason::kCompleted;
  std::vector<float> best_parameters;
};

void save_checkpoint(const TrainingState& state, const std::string& path);
// Throws Error naming the file when it is missing, truncated, corrupt (CRC) or not a checkpoint.
TrainingState load_checkpoint(const std::string& path);

}  // namespace edgetrain
