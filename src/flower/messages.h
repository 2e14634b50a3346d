// Between Flower's protobuf messages (flower_transport.proto) and edgetrain's federated types:
// parameters as .npy tensors, config and metrics maps of Scalars. Everything read here came from
// the network: each function checks what it reads and throws Error saying what is wrong.
#pragma once

#include <optional>
#include <string>

#include "edgetrain/fed.h"
#include "flower/flower_transport.pb.h"

namespace edgetrain::flower {

using ScalarMap = google::protobuf::Map<std::string, flwr::proto::Scalar>;

// Flower's tensor_type for NumPy arrays.
inline constexpr const char* kNumpyTensorType = "numpy.ndarray";

// Tensors as Flower's NumPy code sends them: one numpy.save() per tensor.
flwr::proto::Parameters to_parameters(const fed::Tensors& tensors);
// Checks the tensor type, the count, every .npy (float32 only), the shapes against `expected` and
// that every value is finite, before returning anything.
fed::Tensors from_parameters(const flwr::proto::Parameters& parameters,
                             const fed::Shapes& expected);

// Config values. Absent: nullopt. A value of the wrong kind (a string for a number, 2.5 epochs, a
// negative count) throws Error naming the key.
std::optional<double> read_number(const ScalarMap& map, const std::string& key);
std::optional<int64_t> read_whole_number(const ScalarMap& map, const std::string& key);
std::optional<uint64_t> read_seed(const ScalarMap& map, const std::string& key);
void write_number(ScalarMap& map, const std::string& key, double value);
void write_whole_number(ScalarMap& map, const std::string& key, int64_t value);
// A seed's 64 bits travel as sint64 (what any Flower version reads as a Python int); read_seed
// takes sint64 or uint64 and keeps the bits.
void write_seed(ScalarMap& map, const std::string& key, uint64_t value);
void write_text(ScalarMap& map, const std::string& key, const std::string& value);

// FitIns config keys edgetrain reads and writes (FedProx's is Flower's own name).
inline constexpr const char* kServerRound = "server_round";
inline constexpr const char* kLocalEpochs = "local_epochs";
inline constexpr const char* kBatchSize = "batch_size";
inline constexpr const char* kLearningRate = "learning_rate";
inline constexpr const char* kProximalMu = "proximal_mu";
inline constexpr const char* kSeed = "seed";
// GetPropertiesRes keys of an edgetrain client: which partition of a shared dataset it holds.
inline constexpr const char* kPartitionIndex = "partition_index";
inline constexpr const char* kPartitionCount = "partition_count";

// Local-training settings from a FitIns config over `defaults` (the client's own).
fed::LocalTraining local_training_from(const ScalarMap& config, fed::LocalTraining defaults);

// "FitIns", "EvaluateRes", ... for messages; "an empty message" when no field of the oneof is set.
std::string message_name(const flwr::proto::ServerMessage& message);
std::string message_name(const flwr::proto::ClientMessage& message);
std::string code_name(flwr::proto::Code code);

// The encoded size of the parameters of a model with these shapes, with room for the rest of a
// message: what a peer may send at most, before anything is parsed.
size_t message_cap(const fed::Shapes& shapes);

}  // namespace edgetrain::flower
