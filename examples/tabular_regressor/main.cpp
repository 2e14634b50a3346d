// A regressor on tabular data: inner-product layers and mean squared error, trained on rows of
// features with a real-valued target kept in memory by a Dataset (Dataset::with_targets).
//
//   tabular_regressor                  exits 1 unless training cuts the error by 5x
#include <edgetrain/edgetrain.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

using namespace edgetrain;

constexpr size_t kFeatures = 4;

// Rows of 4 features with one target each, as a Dataset: Dataset::with_targets checks the sizes
// (as many targets as rows) and that every value is finite.
Dataset make_rows(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> feature(-1.0f, 1.0f);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> features, prices;  // (N, 4), (N)
  for (size_t i = 0; i < count; ++i) {
    const std::array<float, kFeatures> x{feature(rng), feature(rng), feature(rng), feature(rng)};
    features.insert(features.end(), x.begin(), x.end());
    // A made-up price: a linear part, an interaction and noise.
    prices.push_back(1.5f * x[0] - 0.8f * x[1] + 0.6f * x[2] * x[3] + 0.3f + noise(rng));
  }
  return Dataset::with_targets(std::move(features), std::move(prices), {.channels = int(kFeatures)},
                               1, "made-up prices");
}

int main() {
  try {
    Model model =
        ModelBuilder()
            .metadata({.specification_version = 4, .short_description = "price"})
            .input("features", {4})
            .output("price", {1})
            .training_input("features", {4})
            .training_input("price_true", {1})
            .loss(MeanSquaredError{.name = "loss", .input = "price", .target = "price_true"})
            .optimizer(Adam{.learning_rate = {0.01, {{0.0, 1.0}}},
                            .mini_batch_size = {32, std::nullopt, {32}}})
            .epochs({60, {{1, 500}}})
            .shuffle(true)
            .layers({
                {"hidden1", "features", "h1",
                 InnerProduct{.input_channels = 4, .output_channels = 32}, kUpdatable},
                {"tanh1", "h1", "t1", Tanh()},
                {"hidden2", "t1", "h2", InnerProduct{.input_channels = 32, .output_channels = 16},
                 kUpdatable},
                {"tanh2", "h2", "t2", Tanh()},
                {"out", "t2", "price", InnerProduct{.input_channels = 16, .output_channels = 1},
                 kUpdatable},
            })
            .initializer(Initializer::kGlorotUniform, 3)
            .build();
    const Dataset train = make_rows(2000, 1), test = make_rows(500, 2);

    const double before = std::sqrt(evaluate(model, test).loss);
    UpdateTask task(model, train, {.seed = 1});
    task.handlers.epoch_end = [](UpdateTask&, const EpochEnd& e) {
      if ((e.epoch + 1) % 10 == 0) {
        std::printf("epoch %lld: training RMSE %.4f\n", (long long)e.epoch + 1,
                    std::sqrt(e.mean_loss));
      }
    };
    task.run();
    const double after = std::sqrt(evaluate(model, test).loss);
    std::printf("test RMSE: %.4f before training, %.4f after (the noise alone is 0.05)\n", before,
                after);

    Predictor predictor(model);
    float row[kFeatures], price = 0;
    test.copy_features(0, row);
    test.copy_target(0, &price, 1);
    std::printf("first test row: predicted %.3f, true %.3f\n",
                predictor.predict(row).outputs.at(0).values.at(0), price);
    return after < before / 5 ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "tabular_regressor: %s\n", e.what());
    return 1;
  }
}
