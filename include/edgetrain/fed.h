// Federated learning with FedAvg (McMahan et al. 2017): many clients train one model on their own
// data and a server averages their weights. This is the deterministic core, with no I/O: the
// exchanged tensors, the .npy codec they travel in, partitions of a dataset over clients, client
// sampling, local training (optionally FedProx) and weighted averaging. The network transport
// (Flower's gRPC protocol) lives beside the library, in src/flower/, so a program that does not
// federate never links gRPC.
//
// Ten clients of MNIST for five rounds, in one process:
//
//   using namespace edgetrain;
//   Dataset train = read_idx_folder("data/mnist", "train"), test = read_idx_folder("data/mnist",
//   "t10k"); Model model = fed::fedavg_2nn({.learning_rate = 0.1}); fed::SimulationSettings
//   settings{.clients = 10, .fraction = 0.5, .rounds = 5,
//                                    .local = {.epochs = 1, .batch_size = 10}};
//   fed::simulate(model, train, &test, settings, [](const fed::RoundReport& r, const Model&) {
//     std::printf("round %lld: accuracy %.4f\n", (long long)r.round, r.test_accuracy);
//     return true;  // false stops early
//   });
//
// One seed gives bit-identical global weights whatever the number of workers or the transport:
// each client trains on one thread from a seed derived from (seed, round, client), and updates are
// summed in double, in ascending client order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrain/data.h"
#include "edgetrain/model.h"

namespace edgetrain::fed {

// ---- The exchanged vector -----------------------------------------------------------------------
// One tensor, shaped as Core ML stores it (its LayerParameter's shape): convolution weights
// (out, in/groups, kh, kw), inner-product weights (out, in), biases (out). Values in C order.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};
using Tensors = std::vector<Tensor>;
using Shapes = std::vector<std::vector<int64_t>>;

// What a federated round exchanges: every updatable layer's trainable tensors (its LayerParameter
// entries of role kTrainable: weights, then bias, ...), in layer order; the same list, in the same
// order, as the C API's edgetrain_model_get_parameters. State such as batch norm's running
// statistics stays on each client.
Shapes exchanged_shapes(const Model& model);
Tensors exchanged_parameters(const Model& model);
// Throws Error naming the tensor, the expected and the given shape when they do not match the
// model (nothing is written then).
void set_exchanged_parameters(Model& model, const Tensors& tensors);
// "" when `shapes` match the model's exchanged shapes, else what differs first.
std::string shape_mismatch(const Shapes& expected, const Shapes& given);
size_t element_count(const std::vector<int64_t>& shape);

// ---- .npy, the bytes numpy.save writes ----------------------------------------------------------
// Exactly numpy.save(allow_pickle=False)'s bytes for a float32 C-order array (format 1.0, header
// padded to 64 bytes, as NumPy 1.24 writes it): what Flower's NumPy clients and strategies read
// with numpy.load.
std::string encode_npy(const Tensor& tensor);
// Reads one .npy (format 1.0, 2.0 or 3.0). Untrusted bytes: only little-endian float32 ('<f4') in
// C order is accepted; the header's size is checked against the bytes before anything is
// allocated, and trailing bytes are refused. Throws Error saying what is wrong.
Tensor decode_npy(std::string_view bytes);
// The encoded size of a tensor of this shape (header + data).
size_t npy_size(const std::vector<int64_t>& shape);

// ---- Partitions of a dataset over clients -------------------------------------------------------
enum class PartitionKind {
  kIid,        // a seeded permutation cut into equal ranges
  kShards,     // the FedAvg paper's pathological non-IID: sort by label, cut into
               // clients x shards_per_client shards, deal shards_per_client shards to each client
  kDirichlet,  // label skew: each class split over the clients in Dirichlet(alpha) proportions
};
struct PartitionScheme {
  PartitionKind kind = PartitionKind::kIid;
  double alpha = 0.5;         // kDirichlet
  int shards_per_client = 2;  // kShards
};
// "iid", "shards", "shards:3" (shards per client), "dirichlet:0.5" (alpha). Throws Error.
PartitionScheme parse_partition_scheme(const std::string& text);
std::string to_string(const PartitionScheme& scheme);
// The sample indices of each of `clients` clients (every sample goes to exactly one client; a
// Dirichlet client can be empty). Depends only on the labels, the scheme and the seed.
std::vector<std::vector<uint32_t>> partition(const BatchProvider& data, int clients,
                                             const PartitionScheme& scheme, uint64_t seed);

// A view of some samples of another dataset, in the given order; it must outlive the view.
class Subset : public BatchProvider {
 public:
  Subset(const BatchProvider& data, std::vector<uint32_t> indices);
  size_t count() const override { return indices_.size(); }
  size_t feature_size() const override { return data_.feature_size(); }
  void copy_features(size_t index, float* dst) const override;
  int32_t label(size_t index) const override;
  void copy_target(size_t index, float* dst, size_t size) const override;
  const std::vector<uint32_t>& indices() const { return indices_; }

 private:
  const BatchProvider& data_;
  std::vector<uint32_t> indices_;
};

// ---- Rounds: sampling, local training, averaging ------------------------------------------------
// How many of `available` clients train in a round: max(1, floor(fraction * available)), at most
// `available`.
int clients_per_round(int available, double fraction);
// Which ones: clients_per_round(...) distinct positions in [0, available), drawn from the seed and
// the round, in ascending order.
std::vector<int> sample_clients(int available, double fraction, int64_t round, uint64_t seed);
// The shuffling seed of a client's local training in a round (a server sends it in the FitIns
// config as "seed").
uint64_t local_training_seed(uint64_t seed, int64_t round, int64_t client);

// A client's local training. Unset values take the model's own update parameters.
struct LocalTraining {
  std::optional<int64_t> epochs;
  std::optional<int64_t> batch_size;
  std::optional<double> learning_rate;
  double proximal_mu = 0;  // FedProx: > 0 pulls the weights towards the global model
  uint64_t seed = 0;
  // Threads of one client's training. The bits depend on it: keep 1 (the default) everywhere the
  // results must match (the simulator trains every client on one thread).
  int threads = 1;
};
struct LocalResult {
  int64_t num_examples = 0;  // samples trained on: the client's weight in the average
  double loss = 0;           // mean training loss of the last epoch
  double accuracy = 0;       // training accuracy of the last epoch
};
// Trains `model` (holding the global weights) on `data` in place. Throws Error on bad settings.
LocalResult train_locally(Model& model, const BatchProvider& data, const LocalTraining& settings);

// FedAvg's weighted average sum_k n_k w_k / sum_k n_k, summed in double in the order add() is
// called and rounded to float once, so the same updates in the same order give the same bits.
class FederatedAverage {
 public:
  explicit FederatedAverage(Shapes shapes);
  // Throws Error when the shapes differ or num_examples is not positive.
  void add(const Tensors& update, int64_t num_examples);
  size_t updates() const { return updates_; }
  int64_t total_examples() const { return total_; }
  Tensors result() const;  // throws Error when nothing was added

 private:
  Shapes shapes_;
  std::vector<std::vector<double>> sums_;
  int64_t total_ = 0;
  size_t updates_ = 0;
};

// ---- The FedAvg paper's MNIST models (Section 3), trained with plain SGD ------------------------
struct PresetOptions {
  double learning_rate = 0.1;
  int64_t batch_size = 10;
  int64_t epochs = 1;
  uint64_t seed = 1;  // initial weights (Glorot-uniform)
};
// "CNN": conv 5x5 32 (same padding), ReLU, max-pool 2x2, conv 5x5 64 (same), ReLU, max-pool 2x2,
// dense 512, ReLU, dense 10, softmax: 1,663,370 parameters, as the paper counts.
Model fedavg_cnn(const PresetOptions& options = {});
// "2NN": 784-200-200-10 with ReLU: 199,210 parameters.
Model fedavg_2nn(const PresetOptions& options = {});

// ---- In-process simulation ----------------------------------------------------------------------
struct SimulationSettings {
  int clients = 100;      // K
  double fraction = 0.1;  // C
  int64_t rounds = 1;
  LocalTraining local;  // E, B, learning rate, mu (seed: derived per client and round)
  PartitionScheme partition;
  uint64_t seed = 1;
  int workers = 0;             // clients trained at once; 0: every core
  double target_accuracy = 0;  // > 0: stop at the first round reaching it (with a test set)
  bool stop_at_target = false;
};
struct RoundReport {
  int64_t round = 0;         // from 1
  std::vector<int> clients;  // who trained, ascending
  int64_t examples = 0;      // samples they trained on
  double train_loss = 0;     // example-weighted mean of the clients' last-epoch losses
  double test_loss = 0, test_accuracy = 0;  // the global model on the test set (when given)
  uint64_t bytes = 0;                       // .npy bytes a server would send and receive this round
  double seconds = 0;
};
// Runs FedAvg rounds on `model` (the initial global weights, updated in place) over a partition of
// `train`. `on_round` is called after every round with the new global model; returning false
// stops. A client is an index list and a seed: workers reuse one model copy each.
std::vector<RoundReport> simulate(
    Model& model, const BatchProvider& train, const BatchProvider* test,
    const SimulationSettings& settings,
    const std::function<bool(const RoundReport&, const Model&)>& on_round = {});

}  // namespace edgetrain::fed
