// FedAvg's rounds: which clients train, from which seed, and how their updates are averaged.
#include <algorithm>
#include <cmath>

#include "base/rng.h"
#include "edgetrain/error.h"
#include "edgetrain/fed.h"
#include "edgetrain/train.h"

namespace edgetrain::fed {
namespace {

constexpr uint64_t kSamplingSalt = 0x73616d70'6c696e67ull;  // "sampling"
constexpr uint64_t kLocalSalt = 0x6c6f6361'6c736565ull;     // "localsee"

// splitmix64's finaliser: spreads (seed, round, client) over all 64 bits.
uint64_t mix(uint64_t value) {
  value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ull;
  value = (value ^ (value >> 27)) * 0x94D049BB133111EBull;
  return value ^ (value >> 31);
}

}  // namespace

int clients_per_round(int available, double fraction) {
  if (available <= 0) return 0;
  if (!(fraction > 0 && fraction <= 1)) {
    throw Error("the fraction of clients per round must be in (0, 1], got " +
                std::to_string(fraction));
  }
  // The epsilon keeps 0.1 x 100 at 10 despite 0.1's binary rounding.
  const int count = int(std::floor(fraction * double(available) + 1e-9));
  return std::clamp(count, 1, available);
}

std::vector<int> sample_clients(int available, double fraction, int64_t round, uint64_t seed) {
  const int count = clients_per_round(available, fraction);
  std::vector<int> everyone(size_t(std::max(available, 0)));
  for (int i = 0; i < available; ++i) everyone[size_t(i)] = i;
  if (count == available) return everyone;
  // A partial Fisher-Yates: the first `count` positions end up a uniform sample.
  Rng rng(mix(seed ^ kSamplingSalt) ^ mix(uint64_t(round)));
  for (int i = 0; i < count; ++i) {
    const int j = i + int(rng.below(uint64_t(available - i)));
    std::swap(everyone[size_t(i)], everyone[size_t(j)]);
  }
  everyone.resize(size_t(count));
  std::sort(everyone.begin(), everyone.end());
  return everyone;
}

uint64_t local_training_seed(uint64_t seed, int64_t round, int64_t client) {
  return mix(mix(seed ^ kLocalSalt) ^ mix(uint64_t(round) * 0x100000001B3ull + uint64_t(client)));
}

LocalResult train_locally(Model& model, const BatchProvider& data, const LocalTraining& settings) {
  if (data.count() == 0) throw Error("local training: the client has no samples");
  UpdateConfig config;
  config.epochs = settings.epochs;
  config.batch_size = settings.batch_size;
  config.learning_rate = settings.learning_rate;
  config.seed = settings.seed;
  config.shuffle = true;
  config.threads = settings.threads;
  config.proximal_mu = settings.proximal_mu;
  UpdateTask task(model, data, config);
  const TrainingResult trained = task.run();
  return {int64_t(data.count()), trained.final_loss, trained.final_accuracy};
}

FederatedAverage::FederatedAverage(Shapes shapes) : shapes_(std::move(shapes)) {
  for (const std::vector<int64_t>& shape : shapes_) sums_.emplace_back(element_count(shape), 0.0);
}

void FederatedAverage::add(const Tensors& update, int64_t num_examples) {
  if (num_examples <= 0) {
    throw Error("an update must count a positive number of examples, got " +
                std::to_string(num_examples));
  }
  Shapes given;
  for (const Tensor& tensor : update) given.push_back(tensor.shape);
  if (std::string mismatch = shape_mismatch(shapes_, given); !mismatch.empty()) {
    throw Error("the update does not fit the model: " + mismatch);
  }
  for (size_t t = 0; t < update.size(); ++t) {
    if (update[t].values.size() != sums_[t].size()) {
      throw Error("tensor " + std::to_string(t) + " holds the wrong number of values");
    }
  }
  const double weight = double(num_examples);
  for (size_t t = 0; t < update.size(); ++t) {
    const float* values = update[t].values.data();
    double* sums = sums_[t].data();
    for (size_t i = 0; i < sums_[t].size(); ++i) sums[i] += weight * double(values[i]);
  }
  total_ += num_examples;
  ++updates_;
}

Tensors FederatedAverage::result() const {
  if (updates_ == 0) throw Error("no update to average");
  const double total = double(total_);
  Tensors average;
  for (size_t t = 0; t < shapes_.size(); ++t) {
    Tensor tensor{shapes_[t], std::vector<float>(sums_[t].size())};
    for (size_t i = 0; i < sums_[t].size(); ++i) tensor.values[i] = float(sums_[t][i] / total);
    average.push_back(std::move(tensor));
  }
  return average;
}

}  // namespace edgetrain::fed
