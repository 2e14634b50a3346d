// edgetrain: build, train and run small neural networks entirely on the device's CPU.
//
// A five-minute tour (the same steps `edgetrain train` takes):
//
//   #include <edgetrain/edgetrain.h>
//   using namespace edgetrain;
//
//   // 1. Describe a network. lenet() is the seed's MNIST CNN; ModelBuilder (model.h) declares any
//   //    other from convolution, pooling, activation, flatten, inner-product and softmax layers.
//   Model model = lenet({.learning_rate = 1e-3, .batch_size = 128, .epochs = 10});
//
//   // 2. Read data: MNIST IDX files (raw or .gz) or the seed's CSV; pixels become [0, 1].
//   Dataset train = read_idx_folder("data/mnist", "train");
//   Dataset test = read_idx_folder("data/mnist", "t10k");
//
//   // 3. Train the updatable layers, watching progress (train.h). Overrides are checked against
//   //    what the model allows; the same seed and thread count give bit-identical weights.
//   UpdateTask task(model, train, {.seed = 7});
//   task.handlers.epoch_end = [](UpdateTask&, const EpochEnd& e) {
//     std::printf("epoch %lld: loss %.4f, accuracy %.4f\n", (long long)e.epoch + 1, e.mean_loss,
//                 *e.accuracy);  // set for cross-entropy models (LeNet), unset for MSE
//   };
//   task.run();
//
//   // 4. Score it, predict with it, save it (inference.h, io.h).
//   Evaluation result = evaluate(model, test);     // accuracy, loss, confusion matrix
//   Predictor predictor(model);
//   Prediction p = predictor.predict(test.image(0));  // p.label, p.probabilities, p.top(3)
//   save_model(model, "lenet.mlmodel");  // an updatable Core ML model
//
// Every function reports bad input by throwing edgetrain::Error (error.h) with a message naming the
// file, layer or value at fault; the library never exits or aborts.
#pragma once

#include "edgetrain/data.h"
#include "edgetrain/error.h"
#include "edgetrain/fed.h"  // federated learning: FedAvg core (transport: src/flower)
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "edgetrain/version.h"
