// small_resnet(), the second reference workload's network: its shapes and parameters, a plan that
// fuses what LeNet fuses, why Core ML cannot update it, that it learns, and that the executor's
// steps run one at a time as in a whole pass.
#include <gtest/gtest.h>

#include <cmath>

#include "edgetrain/coreml.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "nn/loss_head.h"
#include "nn/network.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

TEST(SmallResnet, HasItsShapesParametersAndFusedSteps) {
  const Model model = small_resnet();
  EXPECT_EQ(model.parameter_count(), 323722u);
  BlobShapes shapes = infer_shapes(model);
  EXPECT_EQ(shapes["outPooling1"], (Shape{32, 13, 13}));
  EXPECT_EQ(shapes["outConv2a"], (Shape{32, 13, 13}));  // same padding
  EXPECT_EQ(shapes["outAdd2"], (Shape{32, 13, 13}));
  EXPECT_EQ(shapes["outPooling3"], (Shape{64, 6, 6}));
  EXPECT_EQ(shapes["outFlatten"], (Shape{2304, 1, 1}));
  EXPECT_EQ(shapes["output"], (Shape{10, 1, 1}));
  EXPECT_EQ(model.layer("conv2a").parameters.size(), 1u);  // no bias before batch norm
  EXPECT_EQ(model.metadata.user_defined.at("edgetrainModel"), "small-resnet");

  const Network network(model, {.train = true});
  const std::string plan = network.describe_plan();
  EXPECT_NE(plan.find("conv1+relu1+pooling1:"), std::string::npos) << plan;
  EXPECT_NE(plan.find("conv3+relu3+pooling3:"), std::string::npos) << plan;
  EXPECT_TRUE(network.couples_batch());  // batch norm on mini-batch statistics

  // Core ML updates neither batch norm nor anything below an add: validate_coreml says so.
  const ValidationReport report = validate_coreml(model);
  ASSERT_FALSE(report.ok());
  std::string errors;
  for (const std::string& error : report.errors) errors += error + "\n";
  EXPECT_NE(errors.find("bn1"), std::string::npos) << errors;
  EXPECT_NE(errors.find("add2"), std::string::npos) << errors;
}

TEST(SmallResnet, LearnsFromAFewHundredImages) {
  Dataset data = read_idx(test_paths::mnist("train-images-idx3-ubyte.gz"),
                          test_paths::mnist("train-labels-idx1-ubyte.gz"));
  data.truncate(256);
  Model model = small_resnet({.batch_size = 32, .epochs = 3});
  std::vector<double> losses;
  UpdateTask task(model, data, {.seed = 1, .threads = 2});
  task.handlers.epoch_end = [&](UpdateTask&, const EpochEnd& e) { losses.push_back(e.mean_loss); };
  task.run();
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_LT(losses[2], 0.5 * losses[0]);
}

// forward_step / backward_step (what bench/roofline times) give what forward / backward give.
TEST(SmallResnet, StepsRunOneAtATimeMatchAWholePass) {
  Model model = small_resnet();
  const Network network(model, {.train = true});
  const LossHead head(model, network);
  Dataset data = read_idx(test_paths::mnist("t10k-images-idx3-ubyte.gz"),
                          test_paths::mnist("t10k-labels-idx1-ubyte.gz"));
  data.truncate(8);
  const std::vector<size_t> indices = {0, 1, 2, 3, 4, 5, 6, 7};
  auto pass = [&](bool stepwise) {
    Model copy = model;
    Workspace ws = network.make_workspace(8);
    LossHead::Scratch scratch = head.make_scratch(8);
    head.load_batch(ws, scratch, data, indices.data(), 8);
    BatchSync sync(1);
    const Pass training{.mode = Mode::kTraining, .state = copy.parameters.data(), .sync = &sync};
    std::vector<float> gradients(copy.parameters.size());
    if (stepwise) {
      for (size_t s = 0; s < network.step_count(); ++s)
        network.forward_step(ws, copy, 8, s, training);
    } else {
      network.forward(ws, copy, 8, training);
    }
    network.zero_grads(ws, 8);
    head.loss_and_seed(ws, scratch, 8, 8);
    if (stepwise) {
      for (size_t s = network.step_count(); s-- > 0;) {
        network.backward_step(ws, copy, gradients.data(), 8, s);
      }
    } else {
      network.backward(ws, copy, gradients.data(), 8);
    }
    gradients.insert(gradients.end(), copy.parameters.begin(), copy.parameters.end());
    return gradients;
  };
  EXPECT_EQ(pass(true), pass(false));
  EXPECT_EQ(network.step_info(0).label, "conv1+relu1+pooling1");
  EXPECT_FALSE(network.step_info(0).input_gradient);  // the image needs no gradient
}

}  // namespace
}  // namespace edgetrain
