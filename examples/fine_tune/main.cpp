// Fine-tuning a Core ML model made elsewhere: Apple's Keras converter's MNIST MLP (not updatable)
// is made updatable in its last two dense layers, then trained on a kind of input it has not seen:
// washed-out digits (grey background, half the contrast, as another camera might give), reading
// MNIST through a BatchProvider that changes each image. The result is saved as an updatable
// .mlmodel and read back.
//
//   fine_tune MODEL.mlmodel MNIST_FOLDER [OUTPUT.mlmodel]
//   e.g. fine_tune ../shared/coreml-models/mnist-mlp-multiarray.mlmodel ../shared/data/mnist
// Exits 1 unless fine-tuning raises the accuracy on washed-out test digits above 0.9.
#include <edgetrain/coreml.h>
#include <edgetrain/edgetrain.h>

#include <cstdio>
#include <string>

using namespace edgetrain;

// The same samples with every pixel v in [0, 1] replaced by 0.25 + v / 2.
class WashedOut : public BatchProvider {
 public:
  explicit WashedOut(const Dataset& data) : data_(data) {}
  size_t count() const override { return data_.count(); }
  size_t feature_size() const override { return data_.feature_size(); }
  void copy_features(size_t index, float* dst) const override {
    data_.copy_features(index, dst);
    for (size_t i = 0; i < feature_size(); ++i) dst[i] = 0.25f + 0.5f * dst[i];
  }
  int32_t label(size_t index) const override { return data_.label(index); }

 private:
  const Dataset& data_;
};

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fine_tune MODEL.mlmodel MNIST_FOLDER [OUTPUT.mlmodel]\n");
    return 2;
  }
  const std::string output = argc > 3 ? argv[3] : "fine_tuned.mlmodel";
  try {
    const Model original = read_mlmodel(argv[1]);
    Dataset train = read_idx_folder(argv[2], "train");
    Dataset test = read_idx_folder(argv[2], "t10k");
    train.truncate(10000);
    test.truncate(2000);
    const WashedOut washed_train(train), washed_test(test);
    std::printf("%s: accuracy %.3f on MNIST, %.3f on washed-out digits\n", argv[1],
                evaluate(original, test).accuracy, evaluate(original, washed_test).accuracy);

    // Which layers to train comes from the file: `edgetrain inspect MODEL` lists them.
    Model model = make_updatable(original, {.layers = {"dense_2", "dense_3"},
                                            .loss = LossType::kCategoricalCrossEntropy,
                                            .learning_rate = 1e-3,
                                            .batch_size = 32,
                                            .epochs = 2});
    UpdateTask task(model, washed_train, {.seed = 1});
    task.handlers.epoch_end = [](UpdateTask&, const EpochEnd& e) {
      std::printf("epoch %lld: loss %.4f, accuracy %.3f\n", (long long)e.epoch + 1, e.mean_loss,
                  e.accuracy.value_or(0.0));  // cross-entropy: always set
    };
    task.run();

    save_model(model, output);
    const Model reloaded = load_model(output);
    const double tuned = evaluate(reloaded, washed_test).accuracy;
    std::printf("fine-tuned (%s): accuracy %.3f on washed-out digits, %.3f on MNIST\n",
                output.c_str(), tuned, evaluate(reloaded, test).accuracy);
    return tuned > 0.9 ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "fine_tune: %s\n", e.what());
    return 1;
  }
}
