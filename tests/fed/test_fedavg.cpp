// The FedAvg core: the exchanged tensors, partitions, client sampling, averaging, FedProx and the
// simulator's determinism (the same bits whatever the number of workers).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "capi/capi_internal.h"
#include "edgetrain/error.h"
#include "edgetrain/fed.h"
#include "edgetrain/train.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

// `per_class` samples of each of `classes` labels, in label order; one pixel each.
Dataset labelled(int classes, int per_class) {
  std::vector<float> pixels;
  std::vector<int32_t> labels;
  for (int c = 0; c < classes; ++c) {
    for (int i = 0; i < per_class; ++i) {
      labels.push_back(c);
      pixels.push_back(float(i) / float(per_class));
    }
  }
  return Dataset::with_labels(std::move(pixels), std::move(labels), {}, classes);
}

const Dataset& mnist_train() {
  static const Dataset data = [] {
    Dataset d = read_idx_folder(test_paths::mnist_dir(), "train");
    d.truncate(1200);
    return d;
  }();
  return data;
}

std::vector<std::vector<int64_t>> shapes_of(const Model& model) {
  return fed::exchanged_shapes(model);
}

TEST(FedExchanged, PresetsHaveThePapersShapesAndParameterCounts) {
  const Model cnn = fed::fedavg_cnn();
  EXPECT_EQ(shapes_of(cnn),
            (fed::Shapes{
                {32, 1, 5, 5}, {32}, {64, 32, 5, 5}, {64}, {512, 3136}, {512}, {10, 512}, {10}}));
  EXPECT_EQ(cnn.parameter_count(), 1663370u);
  const Model mlp = fed::fedavg_2nn();
  EXPECT_EQ(shapes_of(mlp), (fed::Shapes{{200, 784}, {200}, {200, 200}, {200}, {10, 200}, {10}}));
  EXPECT_EQ(mlp.parameter_count(), 199210u);
}

TEST(FedExchanged, RoundTripAndRefusalLeavesTheModelUntouched) {
  Model model = fed::fedavg_2nn({.seed = 4});
  fed::Tensors tensors = fed::exchanged_parameters(model);
  for (fed::Tensor& tensor : tensors) {
    for (float& value : tensor.values) value = value * 2 + 1;
  }
  Model other = fed::fedavg_2nn({.seed = 5});
  fed::set_exchanged_parameters(other, tensors);
  EXPECT_EQ(fed::exchanged_parameters(other)[2].values, tensors[2].values);

  const std::vector<float> before = other.parameters;
  fed::Tensors short_list(tensors.begin(), tensors.end() - 1);
  EXPECT_THROW(fed::set_exchanged_parameters(other, short_list), Error);
  fed::Tensors reshaped = tensors;
  reshaped[0].shape = {784, 200};
  try {
    fed::set_exchanged_parameters(other, reshaped);
    ADD_FAILURE() << "a transposed shape was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 0: expected shape [200, 784], got [784, 200]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(other.parameters, before);
}

TEST(FedExchanged, TheTrainableTensorsOfUpdatableLayersInTheCApisOrder) {
  // An updatable convolution and batch norm, a frozen inner product: the conv's weights and bias
  // and the norm's gamma and beta travel; its running mean and variance (state) and the frozen
  // layer stay. The C API hands out the same tensors in the same order (one shared walk).
  Model model = ModelBuilder()
                    .input("x", {1, 4, 4})
                    .output("y", {3})
                    .layers({{"conv", "x", "c", Convolution{.output_channels = 2}, kUpdatable},
                             {"norm", "c", "n", Batchnorm{}, kUpdatable},
                             {"flat", "n", "f", Flatten{}},
                             {"dense", "f", "d", InnerProduct{.output_channels = 3}},
                             {"softmax", "d", "y", Softmax{}}})
                    .build();
  for (size_t i = 0; i < model.parameters.size(); ++i) model.parameters[i] = float(i) * 0.25f;
  EXPECT_EQ(fed::exchanged_shapes(model), (fed::Shapes{{2, 1, 3, 3}, {2}, {2}, {2}}));

  edgetrain_model handle;
  handle.model = model;
  size_t count = 0;
  ASSERT_EQ(edgetrain_model_tensor_count(&handle, &count), EDGETRAIN_OK);
  ASSERT_EQ(count, 4u);
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i) {
    edgetrain_tensor_info info{};
    ASSERT_EQ(edgetrain_model_tensor(&handle, i, &info), EDGETRAIN_OK);
    names.push_back(info.name);
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"conv.weights", "conv.bias", "norm.gamma", "norm.beta"}));
  std::vector<float> flat;
  for (const fed::Tensor& tensor : fed::exchanged_parameters(model)) {
    flat.insert(flat.end(), tensor.values.begin(), tensor.values.end());
  }
  std::vector<float> from_c(flat.size());
  ASSERT_EQ(edgetrain_model_get_parameters(&handle, from_c.data(), from_c.size()), EDGETRAIN_OK);
  EXPECT_EQ(from_c, flat);
}

TEST(FedPartition, IidCoversEverySampleOnceInEqualParts) {
  const Dataset data = labelled(10, 101);
  const auto parts = fed::partition(data, 7, {}, 3);
  std::vector<int> seen(data.count(), 0);
  for (const auto& part : parts) {
    EXPECT_NEAR(double(part.size()), 1010.0 / 7, 1.0);
    for (uint32_t index : part) ++seen[index];
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
  EXPECT_EQ(fed::partition(data, 7, {}, 3), parts);
  EXPECT_NE(fed::partition(data, 7, {}, 4), parts);
}

TEST(FedPartition, ShardsGiveEachClientTwoLabels) {
  // The paper's recipe at a tenth of the size: sorted by label, 20 shards of 300, 2 per client.
  const Dataset data = labelled(10, 600);
  const auto parts = fed::partition(data, 10, fed::parse_partition_scheme("shards"), 1);
  std::vector<int> seen(data.count(), 0);
  int single_label_clients = 0;
  for (const auto& part : parts) {
    EXPECT_EQ(part.size(), 600u);
    std::set<int32_t> labels;
    for (uint32_t index : part) labels.insert(data.labels()[index]), ++seen[index];
    EXPECT_LE(labels.size(), 2u);
    single_label_clients += labels.size() == 1;
  }
  EXPECT_LT(single_label_clients, 10);
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
}

TEST(FedPartition, DirichletSkewFollowsAlpha) {
  const Dataset data = labelled(10, 500);
  // Largest share of a client's samples held by one label, averaged over clients.
  auto mean_top_share = [&](double alpha) {
    const auto parts =
        fed::partition(data, 20, {.kind = fed::PartitionKind::kDirichlet, .alpha = alpha}, 9);
    size_t total = 0;
    double share = 0;
    int clients = 0;
    for (const auto& part : parts) {
      total += part.size();
      if (part.empty()) continue;
      std::vector<int> counts(10, 0);
      for (uint32_t index : part) ++counts[size_t(data.labels()[index])];
      share += double(*std::max_element(counts.begin(), counts.end())) / double(part.size());
      ++clients;
    }
    EXPECT_EQ(total, data.count());
    return share / clients;
  };
  const double skewed = mean_top_share(0.05), even = mean_top_share(1000);
  EXPECT_GT(skewed, 0.8);
  EXPECT_LT(even, 0.25);
}

TEST(FedPartition, SchemesParseOrSayWhy) {
  EXPECT_EQ(fed::parse_partition_scheme("iid").kind, fed::PartitionKind::kIid);
  EXPECT_EQ(fed::parse_partition_scheme("shards:3").shards_per_client, 3);
  EXPECT_DOUBLE_EQ(fed::parse_partition_scheme("dirichlet:0.3").alpha, 0.3);
  EXPECT_EQ(fed::to_string(fed::parse_partition_scheme("dirichlet:0.3")), "dirichlet:0.3");
  for (const char* bad : {"", "iid:2", "shards:0", "shards:1.5", "dirichlet", "dirichlet:-1",
                          "dirichlet:x", "random"}) {
    EXPECT_THROW(fed::parse_partition_scheme(bad), Error) << bad;
  }
}

TEST(FedSampling, AFractionOfClientsInAscendingOrderFromTheSeed) {
  EXPECT_EQ(fed::clients_per_round(100, 0.1), 10);
  EXPECT_EQ(fed::clients_per_round(3, 0.67), 2);
  EXPECT_EQ(fed::clients_per_round(5, 0.01), 1);
  const std::vector<int> a = fed::sample_clients(100, 0.1, 7, 42);
  ASSERT_EQ(a.size(), 10u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<int>(a.begin(), a.end()).size(), 10u);
  EXPECT_EQ(fed::sample_clients(100, 0.1, 7, 42), a);
  EXPECT_NE(fed::sample_clients(100, 0.1, 8, 42), a);
  EXPECT_NE(fed::sample_clients(100, 0.1, 7, 43), a);
  const std::vector<int> everyone = fed::sample_clients(4, 1.0, 1, 1);
  EXPECT_EQ(everyone, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_THROW(fed::sample_clients(4, 0.0, 1, 1), Error);
  EXPECT_NE(fed::local_training_seed(1, 2, 3), fed::local_training_seed(1, 3, 2));
}

TEST(FedAverage, WeightsBySampleCountInDouble) {
  const fed::Shapes shapes = {{2}, {1}};
  fed::FederatedAverage average(shapes);
  average.add({{{2}, {1.0f, 16777216.0f}}, {{1}, {-3.0f}}}, 1);
  average.add({{{2}, {4.0f, 1.0f}}, {{1}, {3.0f}}}, 3);
  EXPECT_EQ(average.updates(), 2u);
  EXPECT_EQ(average.total_examples(), 4);
  const fed::Tensors result = average.result();
  EXPECT_EQ(result[0].values[0], 3.25f);                        // (1 + 12) / 4
  EXPECT_EQ(result[0].values[1], float((16777216.0 + 3) / 4));  // float would lose the 3
  EXPECT_EQ(result[1].values[0], 1.5f);                         // (-3 + 9) / 4
  EXPECT_THROW(average.add({{{2}, {1, 1}}}, 1), Error);
  EXPECT_THROW(average.add({{{2}, {1, 1}}, {{1}, {1}}}, 0), Error);
  EXPECT_THROW(fed::FederatedAverage(shapes).result(), Error);
}

TEST(FedProx, TheProximalTermHoldsWeightsNearTheStart) {
  const Model start = fed::fedavg_2nn({.learning_rate = 0.1, .batch_size = 20, .seed = 2});
  auto distance_after = [&](double mu) {
    Model model = start;
    fed::train_locally(model, mnist_train(), {.epochs = 2, .proximal_mu = mu, .seed = 5});
    double sum = 0;
    for (size_t i = 0; i < model.parameters.size(); ++i) {
      sum += std::pow(double(model.parameters[i]) - double(start.parameters[i]), 2);
    }
    return std::sqrt(sum);
  };
  const double plain = distance_after(0), held = distance_after(1.0);
  EXPECT_GT(plain, 0);
  EXPECT_LT(held, 0.8 * plain);

  // mu = 0 is exactly plain training.
  Model a = start, b = start;
  fed::train_locally(a, mnist_train(), {.epochs = 1, .seed = 5});
  UpdateTask(b, mnist_train(), {.epochs = 1, .shuffle = true, .seed = 5, .threads = 1}).run();
  EXPECT_EQ(a.parameters, b.parameters);

  Model c = start;
  UpdateConfig resume{.resume_from = "x.ckpt", .proximal_mu = 0.5};
  EXPECT_THROW(UpdateTask(c, mnist_train(), resume).run(), Error);
  EXPECT_THROW(fed::train_locally(c, mnist_train(), {.proximal_mu = -1}), Error);
}

TEST(FedSimulation, TheSameBitsWhateverTheNumberOfWorkers) {
  const Model start = fed::fedavg_2nn({.learning_rate = 0.1, .batch_size = 10, .seed = 3});
  const fed::SimulationSettings settings{.clients = 6,
                                         .fraction = 0.5,
                                         .rounds = 2,
                                         .partition = fed::parse_partition_scheme("shards"),
                                         .seed = 8};
  std::vector<std::vector<float>> finals;
  for (int workers : {1, 2, 3}) {
    Model model = start;
    fed::SimulationSettings s = settings;
    s.workers = workers;
    const auto reports = fed::simulate(model, mnist_train(), nullptr, s);
    ASSERT_EQ(reports.size(), 2u);
    EXPECT_EQ(reports[0].clients.size(), 3u);
    EXPECT_EQ(reports[0].examples, 600);
    finals.push_back(model.parameters);
  }
  EXPECT_NE(finals[0], start.parameters);
  EXPECT_EQ(finals[0], finals[1]);
  EXPECT_EQ(finals[0], finals[2]);

  Model other = start;
  fed::SimulationSettings reseeded = settings;
  reseeded.seed = 9;
  fed::simulate(other, mnist_train(), nullptr, reseeded);
  EXPECT_NE(other.parameters, finals[0]);
}

TEST(FedSimulation, LearnsAndStopsEarly) {
  Model model = fed::fedavg_2nn({.learning_rate = 0.1, .batch_size = 10, .seed = 3});
  Dataset test = read_idx_folder(test_paths::mnist_dir(), "t10k");
  test.truncate(1000);
  int calls = 0;
  const auto reports =
      fed::simulate(model, mnist_train(), &test,
                    {.clients = 4, .fraction = 1.0, .rounds = 5, .seed = 1, .workers = 2},
                    [&](const fed::RoundReport& report, const Model&) { return ++calls < 3; });
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_GT(reports[2].test_accuracy, 0.7);  // 1,200 samples, 3 rounds: 0.79 measured
  EXPECT_GT(reports[2].test_accuracy, reports[0].test_accuracy - 0.02);
  EXPECT_EQ(reports[0].bytes,
            2 * 4 *
                (fed::npy_size({200, 784}) + fed::npy_size({200}) + fed::npy_size({200, 200}) +
                 fed::npy_size({200}) + fed::npy_size({10, 200}) + fed::npy_size({10})));
}

}  // namespace
}  // namespace edgetrain
