// A custom CNN declared with ModelBuilder, trained on images made in code (12x12 bars: horizontal,
// vertical or diagonal, anywhere, with noise), scored on images it has not seen, saved as an
// updatable Core ML model and read back.
//
//   custom_cnn [OUTPUT.mlmodel]        exits 1 when the test accuracy stays below 0.9
#include <edgetrain/edgetrain.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

using namespace edgetrain;

// `count` 1x12x12 images, pixels in [0, 1] (N, C, H, W); label 0 horizontal, 1 vertical, 2
// diagonal.
Dataset make_bars(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> position(1, 10);
  std::uniform_real_distribution<float> noise(0.0f, 0.3f);
  std::vector<float> pixels(count * 144);
  std::vector<int32_t> labels(count);
  for (size_t i = 0; i < count; ++i) {
    float* image = pixels.data() + i * 144;
    for (int p = 0; p < 144; ++p) image[p] = noise(rng);
    const int label = int(i % 3), row = position(rng), column = position(rng);
    for (int k = -4; k <= 4; ++k) {
      int y = row, x = column;
      if (label == 0) x += k;
      if (label == 1) y += k;
      if (label == 2) y += k, x += k;
      if (y >= 0 && y < 12 && x >= 0 && x < 12) image[y * 12 + x] = 1.0f;
    }
    labels[i] = label;
  }
  // Checked when made: as many labels as images, each in 0..2.
  return Dataset::with_labels(std::move(pixels), std::move(labels),
                              {.channels = 1, .height = 12, .width = 12}, 3, {},
                              "bars (made in code)");
}

int main(int argc, char** argv) {
  const std::string output = argc > 1 ? argv[1] : "custom_cnn.mlmodel";
  try {
    // 12x12 -> conv 3x3 -> 10x10 -> pool -> 5x5 -> conv 3x3 -> 3x3 -> pool -> 1x1 (x16) -> 3
    Model model =
        ModelBuilder()
            .metadata({.specification_version = 4, .short_description = "bars: which way?"})
            .input("image", {1, 12, 12})
            .output("probabilities", {3})
            .training_input("image", {1, 12, 12})
            .training_input("label", {1}, FeatureType::kInt32)
            .loss(CategoricalCrossEntropy{
                .name = "loss", .input = "probabilities", .target = "label"})
            .optimizer(Adam{.learning_rate = {0.01, {{0.0, 1.0}}},
                            .mini_batch_size = {32, std::nullopt, {32}}})
            .epochs({8, {{1, 100}}})
            .shuffle(true)
            .layers({
                {"conv1", "image", "c1",
                 Convolution{.output_channels = 8, .kernel_channels = 1, .kernel_size = {3, 3}},
                 kUpdatable},
                {"relu1", "c1", "r1", ReLU()},
                {"pool1", "r1", "p1", Pooling{}},
                {"conv2", "p1", "c2",
                 Convolution{.output_channels = 16, .kernel_channels = 8, .kernel_size = {3, 3}},
                 kUpdatable},
                {"relu2", "c2", "r2", ReLU()},
                {"pool2", "r2", "p2", Pooling{}},
                {"flatten", "p2", "f", Flatten{}},
                {"dense", "f", "logits", InnerProduct{.input_channels = 16, .output_channels = 3},
                 kUpdatable},
                {"softmax", "logits", "probabilities", Softmax{}},
            })
            .build();
    std::printf("edgetrain %s: a CNN of %zu parameters\n", version(), model.parameter_count());

    const Dataset train = make_bars(900, 1), test = make_bars(300, 2);
    UpdateTask task(model, train, {.seed = 7});
    task.handlers.epoch_end = [](UpdateTask&, const EpochEnd& e) {
      std::printf("epoch %lld: loss %.4f, accuracy %.3f\n", (long long)e.epoch + 1, e.mean_loss,
                  e.accuracy.value_or(0.0));  // cross-entropy: always set
    };
    task.run();

    const Evaluation result = evaluate(model, test);
    std::printf("test: accuracy %.3f, loss %.4f on %zu images\n", result.accuracy, result.loss,
                result.samples);

    save_model(model, output);
    Model again = load_model(output);
    Predictor original(model), reloaded(again);
    const bool same = original.predict(test.image(0)).probabilities ==
                      reloaded.predict(test.image(0)).probabilities;
    std::printf("saved %s; read back: %s predictions\n", output.c_str(),
                same ? "the same" : "DIFFERENT");
    return result.accuracy >= 0.9 && same ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "custom_cnn: %s\n", e.what());
    return 1;
  }
}
