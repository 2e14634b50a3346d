#include "web/personalise.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "edgetrain/error.h"
#include "edgetrain/inference.h"

namespace edgetrain::web {
namespace {

// Personal copies per epoch are at least one mini-batch, however few samples there are; no sample
// is repeated more than this.
constexpr size_t kMaxRepeat = 64;
// The original images are drawn with a fixed seed: the same samples give the same fine-tuning.
constexpr uint64_t kOriginalSeed = 1;

Dataset as_dataset(const std::vector<LoadedSample>& samples, size_t feature_size, int classes) {
  Dataset data;
  data.source = "personal samples";
  data.num_classes = classes;
  const int side = int(std::lround(std::sqrt(double(feature_size))));
  data.height = data.width = side;
  for (const LoadedSample& sample : samples) {
    if (sample.features.size() != feature_size) {
      throw Error("sample " + std::to_string(sample.sample.label) + "/" + sample.sample.name +
                  " has " + std::to_string(sample.features.size()) + " pixels, the model takes " +
                  std::to_string(feature_size));
    }
    data.pixels.insert(data.pixels.end(), sample.features.begin(), sample.features.end());
    data.labels.push_back(sample.sample.label);
  }
  return data;
}

// `count` distinct indices below `total`, a seeded partial shuffle.
std::vector<size_t> choose(size_t total, size_t count) {
  std::vector<size_t> indices(total);
  for (size_t i = 0; i < total; ++i) indices[i] = i;
  std::mt19937_64 rng(kOriginalSeed);
  count = std::min(count, total);
  for (size_t i = 0; i < count; ++i) {
    std::uniform_int_distribution<size_t> pick(i, total - 1);
    std::swap(indices[i], indices[pick(rng)]);
  }
  indices.resize(count);
  return indices;
}

struct Measure {
  nlohmann::json samples_accuracy;  // null without held-out samples
  std::vector<int> sample_labels;   // the predicted label of each held-out sample
  nlohmann::json test_accuracy;     // null without a test set, or when the job was cancelled
};

// The held-out samples (a few) always; the test set (thousands) unless the job is cancelled, so
// a server stopping does not wait for it.
Measure measure(const Model& model, const Dataset& held_out, const BatchProvider& test,
                const Trainer::Job& job) {
  Measure result;
  result.samples_accuracy = nullptr;
  result.test_accuracy = nullptr;
  if (held_out.count() > 0) {
    Predictor predictor(model);
    size_t correct = 0;
    for (size_t i = 0; i < held_out.count(); ++i) {
      const int label = predictor.predict(held_out.image(i)).label;
      result.sample_labels.push_back(label);
      correct += label == held_out.labels[i];
    }
    result.samples_accuracy = double(correct) / double(held_out.count());
  }
  if (test.count() > 0 && !job.cancelled()) {
    result.test_accuracy = evaluate(model, test, job.threads()).accuracy;
  }
  return result;
}

}  // namespace

MixedSamples::MixedSamples(const Dataset& personal, size_t repeat, const BatchProvider& original,
                           std::vector<size_t> original_indices)
    : personal_(personal),
      repeat_(repeat),
      original_(original),
      original_indices_(std::move(original_indices)) {
  if (original_.count() > 0 && original_.feature_size() != personal_.feature_size()) {
    throw Error("the training images have " + std::to_string(original_.feature_size()) +
                " pixels but the samples " + std::to_string(personal_.feature_size()));
  }
}

size_t MixedSamples::count() const {
  return personal_.count() * repeat_ + original_indices_.size();
}

void MixedSamples::copy_features(size_t index, float* dst) const {
  const size_t personal = personal_.count() * repeat_;
  if (index < personal) return personal_.copy_features(index % personal_.count(), dst);
  original_.copy_features(original_indices_[index - personal], dst);
}

int32_t MixedSamples::label(size_t index) const {
  const size_t personal = personal_.count() * repeat_;
  if (index < personal) return personal_.label(index % personal_.count());
  return original_.label(original_indices_[index - personal]);
}

SampleSplit split_samples(std::vector<LoadedSample> samples) {
  std::map<int, std::vector<LoadedSample>> by_label;
  for (LoadedSample& sample : samples) by_label[sample.sample.label].push_back(std::move(sample));
  SampleSplit split;
  for (auto& [label, group] : by_label) {
    // Names are time-ordered: the newest come last.
    std::sort(group.begin(), group.end(), [](const LoadedSample& a, const LoadedSample& b) {
      return a.sample.name < b.sample.name;
    });
    const size_t held = group.size() >= 2 ? std::max<size_t>(1, group.size() / 4) : 0;
    for (size_t i = 0; i < group.size(); ++i) {
      (i + held < group.size() ? split.train : split.held_out).push_back(std::move(group[i]));
    }
  }
  return split;
}

nlohmann::json personalise(Trainer::Job& job, const ModelSnapshot& start,
                           const std::string& description, std::vector<LoadedSample> samples,
                           const cli::LoadedData& data, size_t train_limit, size_t test_limit,
                           const PersonaliseRequest& request) {
  const SampleSplit split = split_samples(std::move(samples));
  if (split.train.empty()) throw Error("there are no samples to fine-tune on: draw and add some");
  Model model = start.model();
  const size_t feature_size = start.input_size();
  const int classes = int(start.output_size());
  const Dataset personal = as_dataset(split.train, feature_size, classes);
  const Dataset held_out = as_dataset(split.held_out, feature_size, classes);
  const FirstSamples original(data.train, train_limit), test(data.test, test_limit);

  const int64_t batch_size = resolve_update(model, request.config).batch_size;
  const size_t repeat = std::clamp<size_t>(
      (size_t(batch_size) + personal.count() - 1) / personal.count(), 1, kMaxRepeat);
  const double share = std::clamp(request.original_share, 0.0, 0.95);
  const size_t originals =
      size_t(std::lround(double(personal.count() * repeat) * share / (1.0 - share)));
  const MixedSamples mixed(personal, repeat, original, choose(original.count(), originals));

  job.phase("measuring the model before fine-tuning");
  const Measure before = measure(model, held_out, test, job);
  job.phase("fine-tuning on " + std::to_string(personal.count()) + " samples");
  const TrainingResult trained = job.train(model, mixed, request.config, description);
  job.phase("measuring the model after fine-tuning");
  const Measure after = measure(model, held_out, test, job);

  nlohmann::json held = nlohmann::json::array();
  for (size_t i = 0; i < split.held_out.size(); ++i) {
    held.push_back({{"label", split.held_out[i].sample.label},
                    {"name", split.held_out[i].sample.name},
                    {"before", before.sample_labels[i]},
                    {"after", after.sample_labels[i]}});
  }
  return {{"samples",
           {{"train", personal.count()},
            {"held_out", held_out.count()},
            {"before", before.samples_accuracy},
            {"after", after.samples_accuracy},
            {"held_out_predictions", held}}},
          {"test",
           {{"samples", test.count()},
            {"before", before.test_accuracy},
            {"after", after.test_accuracy}}},
          {"repeat", repeat},
          {"original_images", mixed.count() - personal.count() * repeat},
          {"epochs", trained.epochs_completed},
          {"cancelled", trained.cancelled}};
}

}  // namespace edgetrain::web
