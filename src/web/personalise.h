// Personalisation: fine-tuning the model's updatable layers on the person's own samples, mixed with
// a share of the original training data so it does not forget the rest, and measuring the
// accuracy on held-out samples and on the test set before and after.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "edgetrain/data.h"
#include "edgetrain/train.h"
#include "web/samples.h"
#include "web/training.h"

namespace edgetrain::web {

// What a fine-tuning trains on in each epoch: every personal sample `repeat` times, then the
// chosen original images (indices into `original`).
class MixedSamples : public BatchProvider {
 public:
  MixedSamples(const Dataset& personal, size_t repeat, const BatchProvider& original,
               std::vector<size_t> original_indices);
  size_t count() const override;
  size_t feature_size() const override { return personal_.feature_size(); }
  void copy_features(size_t index, float* dst) const override;
  int32_t label(size_t index) const override;

 private:
  const Dataset& personal_;
  size_t repeat_;
  const BatchProvider& original_;
  std::vector<size_t> original_indices_;
};

// Samples split per label: with two or more of a label, the newest quarter (at least one) is held
// out to measure the accuracy on; the rest train.
struct SampleSplit {
  std::vector<LoadedSample> train, held_out;
};
SampleSplit split_samples(std::vector<LoadedSample> samples);

struct PersonaliseRequest {
  UpdateConfig config;          // epochs, learning rate, ... (the model's defaults when unset)
  double original_share = 0.8;  // of each epoch's samples, the share of original training images
};

// The job body: runs on the training thread, from the model current when the job started.
// Returns {"samples": {...before, after...}, "test": {...}, ...}; throws Error.
nlohmann::json personalise(Trainer::Job& job, const ModelSnapshot& start,
                           const std::string& description, std::vector<LoadedSample> samples,
                           const cli::LoadedData& data, size_t train_limit, size_t test_limit,
                           const PersonaliseRequest& request);

}  // namespace edgetrain::web
