// Inference benchmarks on the seed's LeNet (lenet(), He-uniform weights; the values do not change
// the work) and on the second workload's small_resnet() (the *SmallResnet variants): single-image
// latency through a Predictor, and batched throughput of evaluate() over 1000 images.
// bench/side_by_side.py reads both (median of 5 repetitions) next to PyTorch's.
//
//   build/edgetrain_bench --benchmark_filter='Predict|Evaluate' --benchmark_repetitions=5
//
// The images are seeded uniform noise in [0, 1]: the work per image does not depend on the pixels,
// and the benchmark needs no data files.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "edgetrain/edgetrain.h"

namespace {

edgetrain::Dataset noise_images(size_t count, uint32_t seed) {  // 1x28x28, 10 classes
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  std::vector<float> pixels(count * 784);
  for (float& value : pixels) value = pixel(rng);
  std::vector<int32_t> labels(count);
  for (size_t i = 0; i < count; ++i) labels[i] = int32_t(i % 10);
  return edgetrain::Dataset::with_labels(std::move(pixels), std::move(labels),
                                         {.channels = 1, .height = 28, .width = 28}, 10, {},
                                         "uniform noise");
}

// One image per call through a Predictor created once, whose predictions `threads` threads share
// (BM_PredictSingleImage/threads:T); time per call.
void predict_single_image(benchmark::State& state, const edgetrain::Model& model) {
  const edgetrain::Dataset images = noise_images(64, 1);
  edgetrain::Predictor predictor(model, int(state.range(0)));
  size_t next = 0;
  for (auto _ : state) {
    edgetrain::Prediction prediction = predictor.predict(images.image(next));
    benchmark::DoNotOptimize(prediction.label);
    next = (next + 1) % images.count();
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
void BM_PredictSingleImage(benchmark::State& state) {
  predict_single_image(state, edgetrain::lenet());
}
void BM_PredictSingleImageSmallResnet(benchmark::State& state) {
  predict_single_image(state, edgetrain::small_resnet());
}
// Thread counts 1, 2, 4, ... up to every core, and every core itself, so that the side-by-side run
// can pick the count it gives PyTorch (BM_PredictSingleImage/threads:N, BM_EvaluateBatch/...).
void thread_counts(benchmark::internal::Benchmark* b) {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int threads = 1; threads < cores; threads *= 2) b->Arg(threads);
  b->Arg(cores);
}
// Real time: with helpers, the caller's CPU time is not the latency.
BENCHMARK(BM_PredictSingleImage)
    ->ArgName("threads")
    ->Apply(thread_counts)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_PredictSingleImageSmallResnet)
    ->ArgName("threads")
    ->Apply(thread_counts)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// evaluate() on 1000 images (forward, loss, accuracy, confusion matrix) with `threads` threads;
// items/s is images per second.
void evaluate_batch(benchmark::State& state, const edgetrain::Model& model) {
  const int threads = int(state.range(0));
  const edgetrain::Dataset images = noise_images(1000, 2);
  for (auto _ : state) {
    edgetrain::Evaluation result = edgetrain::evaluate(model, images, threads);
    benchmark::DoNotOptimize(result.accuracy);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(images.count()));
}
void BM_EvaluateBatch(benchmark::State& state) {
  evaluate_batch(state, edgetrain::lenet());
}
void BM_EvaluateBatchSmallResnet(benchmark::State& state) {
  evaluate_batch(state, edgetrain::small_resnet());
}
BENCHMARK(BM_EvaluateBatch)
    ->ArgName("threads")
    ->Apply(thread_counts)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_EvaluateBatchSmallResnet)
    ->ArgName("threads")
    ->Apply(thread_counts)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
