/**
 * @file fed.h
 * @brief Federated learning with FedAvg (McMahan et al. 2017): many clients train one model on
 * their own data and a server averages their weights.
 *
 * This is the deterministic core, with no I/O: the exchanged tensors, the .npy codec they travel
 * in, partitions of a dataset over clients, client sampling, local training (optionally FedProx)
 * and weighted averaging. The network transport (Flower's gRPC protocol) lives beside the library,
 * in src/flower/, so a program that does not federate never links gRPC.
 *
 * Ten clients of MNIST for five rounds, in one process:
 * @code
 * using namespace edgetrain;
 * Dataset train = read_idx_folder("data/mnist", "train");
 * Dataset test = read_idx_folder("data/mnist", "t10k");
 * Model model = fed::fedavg_2nn({.learning_rate = 0.1});
 * fed::SimulationSettings settings{.clients = 10, .fraction = 0.5, .rounds = 5,
 *                                  .local = {.epochs = 1, .batch_size = 10}};
 * fed::simulate(model, train, &test, settings, [](const fed::RoundReport& r, const Model&) {
 *   std::printf("round %lld: accuracy %.4f\n", (long long)r.round, r.test_accuracy);
 *   return true;  // false stops early
 * });
 * @endcode
 *
 * One seed gives bit-identical global weights whatever the number of workers or the transport:
 * each client trains on one thread from a seed derived from (seed, round, client), and updates are
 * summed in double, in ascending client order.
 */
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
/**
 * One exchanged tensor, shaped as Core ML stores it (its LayerParameter's shape): convolution
 * weights (out, in/groups, kh, kw), inner-product weights (out, in), biases (out).
 */
struct Tensor {
  std::vector<int64_t> shape{};  ///< Its dimensions (empty for a 0-D scalar).
  std::vector<float> values{};   ///< The product of the shape's values, in C order.
};
using Tensors = std::vector<Tensor>;               ///< A model's exchanged vector, in order.
using Shapes = std::vector<std::vector<int64_t>>;  ///< The shapes of an exchanged vector.

/**
 * The shapes of what a federated round exchanges: every updatable layer's trainable tensors (its
 * LayerParameter entries of role kTrainable: weights, then bias, ...), in layer order; the same
 * list, in the same order, as the C API's edgetrain_model_get_parameters. State such as batch
 * norm's running statistics stays on each client.
 */
Shapes exchanged_shapes(const Model& model);
/** The exchanged tensors' shapes and values (see exchanged_shapes()). */
Tensors exchanged_parameters(const Model& model);
/**
 * Writes `tensors` into the model's exchanged tensors. Throws Error naming the tensor, the expected
 * and the given shape when they do not match the model (nothing is written then).
 */
void set_exchanged_parameters(Model& model, const Tensors& tensors);
/** "" when `given` matches `expected`, else what differs first ("tensor 0: expected shape ..."). */
std::string shape_mismatch(const Shapes& expected, const Shapes& given);
/** The product of the dimensions; throws Error for a negative one or a product beyond size_t. */
size_t element_count(const std::vector<int64_t>& shape);

// ---- .npy, the bytes numpy.save writes ----------------------------------------------------------
/**
 * Exactly numpy.save(allow_pickle=False)'s bytes for a float32 C-order array (format 1.0, header
 * padded to 64 bytes, as NumPy 1.24 writes it): what Flower's NumPy clients and strategies read
 * with numpy.load.
 */
std::string encode_npy(const Tensor& tensor);
/**
 * Reads one .npy (format 1.0, 2.0 or 3.0). Untrusted bytes: only little-endian float32 ('<f4') in
 * C order is accepted; the header's size is checked against the bytes before anything is
 * allocated, and trailing bytes are refused. Throws Error saying what is wrong.
 */
Tensor decode_npy(std::string_view bytes);
/** The encoded size of a tensor of this shape (header + data). */
size_t npy_size(const std::vector<int64_t>& shape);

// ---- Partitions of a dataset over clients -------------------------------------------------------
/** How samples are dealt to clients. */
enum class PartitionKind {
  kIid,        ///< A seeded permutation cut into equal ranges.
  kShards,     ///< The FedAvg paper's pathological non-IID: sort by label, cut into clients x
               ///< shards_per_client shards, deal shards_per_client shards to each client.
  kDirichlet,  ///< Label skew: each class split over the clients in Dirichlet(alpha) proportions.
};
/** A partition kind and its parameter. */
struct PartitionScheme {
  PartitionKind kind = PartitionKind::kIid;  ///< How samples are dealt.
  double alpha = 0.5;                        ///< kDirichlet's concentration: small is skewed.
  int shards_per_client = 2;                 ///< kShards: shards each client gets.
};
/** Parses "iid", "shards", "shards:3" (shards per client), "dirichlet:0.5" (alpha); throws Error.
 */
PartitionScheme parse_partition_scheme(const std::string& text);
/** The text parse_partition_scheme() reads back to the same scheme. */
std::string to_string(const PartitionScheme& scheme);
/**
 * The sample indices of each of `clients` clients (every sample goes to exactly one client; a
 * Dirichlet client can be empty). Depends only on the labels, the scheme and the seed. A client's
 * data is then `SampleView(data, client_indices(parts[k]))` (edgetrain/data.h).
 */
std::vector<std::vector<uint32_t>> partition(const BatchProvider& data, int clients,
                                             const PartitionScheme& scheme, uint64_t seed);
/** One client's indices as SampleView takes them. */
std::vector<size_t> client_indices(const std::vector<uint32_t>& part);

// ---- Rounds: sampling, local training, averaging ------------------------------------------------
/**
 * How many of `available` clients train in a round: max(1, floor(fraction * available)), at most
 * `available`. Throws Error unless 0 < fraction <= 1.
 */
int clients_per_round(int available, double fraction);
/**
 * Which ones: clients_per_round() distinct positions in [0, available), drawn from the seed and the
 * round, in ascending order.
 */
std::vector<int> sample_clients(int available, double fraction, int64_t round, uint64_t seed);
/**
 * The shuffling seed of a client's local training in a round (a server sends it in the FitIns
 * config as "seed").
 */
uint64_t local_training_seed(uint64_t seed, int64_t round, int64_t client);

/** A client's local training. Unset values take the model's own update parameters. */
struct LocalTraining {
  std::optional<int64_t> epochs{};        ///< E, local epochs.
  std::optional<int64_t> batch_size{};    ///< B, the mini-batch size.
  std::optional<double> learning_rate{};  ///< The optimizer's learning rate.
  double proximal_mu = 0;  ///< FedProx's mu: > 0 pulls the weights towards the global model.
  uint64_t seed = 0;       ///< The shuffling seed (local_training_seed()).
  /**
   * Threads of one client's training. The bits depend on it: keep 1 (the default) everywhere the
   * results must match (the simulator trains every client on one thread).
   */
  int threads = 1;
};
/** What a client's local training reports. */
struct LocalResult {
  int64_t num_examples = 0;  ///< Samples trained on: the client's weight in the average.
  double loss = 0;           ///< Mean training loss of the last epoch.
  /** Training accuracy of the last epoch (classifiers only: a cross-entropy loss). */
  std::optional<double> accuracy{};
};
/** Trains `model` (holding the global weights) on `data` in place. Throws Error on bad settings. */
LocalResult train_locally(Model& model, const BatchProvider& data, const LocalTraining& settings);

/**
 * FedAvg's weighted average sum_k n_k w_k / sum_k n_k, summed in double in the order add() is
 * called and rounded to float once, so the same updates in the same order give the same bits.
 */
class FederatedAverage {
 public:
  /** An empty average of tensors of these shapes. */
  explicit FederatedAverage(Shapes shapes);
  /** Adds one client's update. Throws Error when the shapes differ or num_examples is not > 0. */
  void add(const Tensors& update, int64_t num_examples);
  size_t updates() const { return updates_; }        ///< How many updates were added.
  int64_t total_examples() const { return total_; }  ///< The sum of their num_examples.
  /** The average, rounded to float. Throws Error when nothing was added. */
  Tensors result() const;

 private:
  Shapes shapes_;
  std::vector<std::vector<double>> sums_;
  int64_t total_ = 0;
  size_t updates_ = 0;
};

// ---- The FedAvg paper's MNIST models (Section 3), trained with plain SGD ------------------------
/** The presets' update parameters (the model file's defaults) and initialisation. */
struct PresetOptions {
  double learning_rate = 0.1;  ///< SGD's learning rate (no momentum).
  int64_t batch_size = 10;     ///< B; up to 60,000 is allowed (the paper's B = infinity).
  int64_t epochs = 1;          ///< E.
  uint64_t seed = 1;           ///< Seed of the initial weights (Glorot-uniform).
};
/**
 * The paper's "CNN": conv 5x5 32 (same padding), ReLU, max-pool 2x2, conv 5x5 64 (same), ReLU,
 * max-pool 2x2, dense 512, ReLU, dense 10, softmax: 1,663,370 parameters, as the paper counts.
 */
Model fedavg_cnn(const PresetOptions& options = {});
/** The paper's "2NN": 784-200-200-10 with ReLU: 199,210 parameters. */
Model fedavg_2nn(const PresetOptions& options = {});

// ---- In-process simulation ----------------------------------------------------------------------
/** The settings of simulate(). */
struct SimulationSettings {
  int clients = 100;      ///< K, the virtual clients.
  double fraction = 0.1;  ///< C, the fraction of clients sampled each round.
  int64_t rounds = 1;     ///< Rounds to run.
  LocalTraining local{};  ///< E, B, learning rate, mu (the seed is derived per client and round).
  PartitionScheme partition{};  ///< How the training set is dealt to the clients.
  uint64_t seed = 1;            ///< Seed of the partition, the sampling and the local shuffles.
  int workers = 0;              ///< Clients trained at once; 0: every core.
  double target_accuracy = 0;   ///< > 0: the test accuracy whose first round is reported.
  bool stop_at_target = false;  ///< Stop at the first round reaching target_accuracy.
};
/** One round of simulate(). */
struct RoundReport {
  int64_t round = 0;           ///< From 1.
  std::vector<int> clients{};  ///< Who trained, ascending.
  int64_t examples = 0;        ///< Samples they trained on.
  double train_loss = 0;       ///< Example-weighted mean of the clients' last-epoch losses.
  double test_loss = 0;        ///< The global model's loss on the test set (when given).
  double test_accuracy = 0;    ///< The global model's accuracy on the test set (when given).
  uint64_t bytes = 0;          ///< .npy bytes a server would send and receive this round.
  double seconds = 0;          ///< Wall time of the round, its test included.
};
/**
 * Runs FedAvg rounds on `model` (the initial global weights, updated in place) over a partition of
 * `train`. `on_round` is called after every round with the new global model; returning false
 * stops. A client is an index list and a seed: workers reuse one model copy each.
 */
std::vector<RoundReport> simulate(
    Model& model, const BatchProvider& train, const BatchProvider* test,
    const SimulationSettings& settings,
    const std::function<bool(const RoundReport&, const Model&)>& on_round = {});

}  // namespace edgetrain::fed
