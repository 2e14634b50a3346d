#include "flower/messages.h"

#include <cmath>
#include <limits>

#include "edgetrain/error.h"

namespace edgetrain::flower {

flwr::proto::Parameters to_parameters(const fed::Tensors& tensors) {
  flwr::proto::Parameters parameters;
  parameters.set_tensor_type(kNumpyTensorType);
  for (const fed::Tensor& tensor : tensors) parameters.add_tensors(fed::encode_npy(tensor));
  return parameters;
}

fed::Tensors from_parameters(const flwr::proto::Parameters& parameters,
                             const fed::Shapes& expected) {
  if (parameters.tensor_type() != kNumpyTensorType) {
    throw Error("tensor_type '" + parameters.tensor_type().substr(0, 64) + "' refused: expected '" +
                kNumpyTensorType + "'");
  }
  if (size_t(parameters.tensors_size()) != expected.size()) {
    throw Error("expected " + std::to_string(expected.size()) + " tensors, got " +
                std::to_string(parameters.tensors_size()));
  }
  fed::Tensors tensors;
  fed::Shapes given;
  for (int i = 0; i < parameters.tensors_size(); ++i) {
    try {
      tensors.push_back(fed::decode_npy(parameters.tensors(i)));
    } catch (const Error& e) {
      throw Error("tensor " + std::to_string(i) + ": " + e.what());
    }
    given.push_back(tensors.back().shape);
  }
  if (std::string mismatch = fed::shape_mismatch(expected, given); !mismatch.empty()) {
    throw Error(mismatch);
  }
  for (size_t t = 0; t < tensors.size(); ++t) {
    for (size_t i = 0; i < tensors[t].values.size(); ++i) {
      if (!std::isfinite(tensors[t].values[i])) {
        throw Error("tensor " + std::to_string(t) + " value " + std::to_string(i) + " is " +
                    std::to_string(tensors[t].values[i]) + ", not a finite number");
      }
    }
  }
  return tensors;
}

std::optional<double> read_number(const ScalarMap& map, const std::string& key) {
  const auto found = map.find(key);
  if (found == map.end()) return std::nullopt;
  const flwr::proto::Scalar& scalar = found->second;
  double value = 0;
  switch (scalar.scalar_case()) {
    case flwr::proto::Scalar::kDouble:
      value = scalar.double_();
      break;
    case flwr::proto::Scalar::kSint64:
      value = double(scalar.sint64());
      break;
    case flwr::proto::Scalar::kUint64:
      value = double(scalar.uint64());
      break;
    default:
      throw Error("config '" + key + "' must be a number");
  }
  if (!std::isfinite(value)) throw Error("config '" + key + "' is not a finite number");
  return value;
}

std::optional<int64_t> read_whole_number(const ScalarMap& map, const std::string& key) {
  const auto found = map.find(key);
  if (found == map.end()) return std::nullopt;
  const flwr::proto::Scalar& scalar = found->second;
  int64_t value = 0;
  switch (scalar.scalar_case()) {
    case flwr::proto::Scalar::kSint64:
      value = scalar.sint64();
      break;
    case flwr::proto::Scalar::kUint64:
      if (scalar.uint64() > uint64_t(std::numeric_limits<int64_t>::max())) {
        throw Error("config '" + key + "' is too large");
      }
      value = int64_t(scalar.uint64());
      break;
    case flwr::proto::Scalar::kDouble: {
      const double number = scalar.double_();
      if (!(number == std::floor(number) && std::fabs(number) < 9e15)) {
        throw Error("config '" + key + "' must be a whole number, got " + std::to_string(number));
      }
      value = int64_t(number);
      break;
    }
    default:
      throw Error("config '" + key + "' must be a whole number");
  }
  if (value < 0)
    throw Error("config '" + key + "' must not be negative, got " + std::to_string(value));
  return value;
}

std::optional<uint64_t> read_seed(const ScalarMap& map, const std::string& key) {
  const auto found = map.find(key);
  if (found == map.end()) return std::nullopt;
  if (found->second.scalar_case() == flwr::proto::Scalar::kUint64) return found->second.uint64();
  if (found->second.scalar_case() == flwr::proto::Scalar::kSint64) {
    return uint64_t(found->second.sint64());  // Python ints arrive as sint64; keep the bits
  }
  throw Error("config '" + key + "' must be a whole number");
}

void write_number(ScalarMap& map, const std::string& key, double value) {
  map[key].set_double_(value);
}
void write_whole_number(ScalarMap& map, const std::string& key, int64_t value) {
  map[key].set_sint64(value);
}
void write_seed(ScalarMap& map, const std::string& key, uint64_t value) {
  // As sint64 holding the same bits, never uint64: Flower added Scalar.uint64 only in 1.13, and an
  // older Flower client fails on a config value whose field it does not know.
  map[key].set_sint64(int64_t(value));
}
void write_text(ScalarMap& map, const std::string& key, const std::string& value) {
  map[key].set_string(value);
}

fed::LocalTraining local_training_from(const ScalarMap& config, fed::LocalTraining defaults) {
  fed::LocalTraining local = defaults;
  if (auto epochs = read_whole_number(config, kLocalEpochs)) {
    if (*epochs < 1) throw Error("config 'local_epochs' must be at least 1");
    local.epochs = *epochs;
  }
  if (auto batch = read_whole_number(config, kBatchSize)) {
    if (*batch < 1) throw Error("config 'batch_size' must be at least 1");
    local.batch_size = *batch;
  }
  if (auto rate = read_number(config, kLearningRate)) {
    if (!(*rate > 0)) throw Error("config 'learning_rate' must be positive");
    local.learning_rate = *rate;
  }
  if (auto mu = read_number(config, kProximalMu)) {
    if (*mu < 0) throw Error("config 'proximal_mu' must not be negative");
    local.proximal_mu = *mu;
  }
  if (auto seed = read_seed(config, kSeed)) local.seed = *seed;
  return local;
}

namespace {

// The name of the message set in the `msg` oneof, which is also its field's type: "FitIns", ...
template <typename Message>
std::string set_message_name(const Message& message) {
  const auto* field = Message::descriptor()->FindFieldByNumber(int(message.msg_case()));
  return field != nullptr && field->message_type() != nullptr ? field->message_type()->name()
                                                              : "an empty message";
}

}  // namespace

std::string message_name(const flwr::proto::ServerMessage& message) {
  return set_message_name(message);
}
std::string message_name(const flwr::proto::ClientMessage& message) {
  return set_message_name(message);
}

std::string code_name(flwr::proto::Code code) {
  const std::string& name = flwr::proto::Code_Name(code);
  return name.empty() ? "code " + std::to_string(int(code)) : name;
}

size_t message_cap(const fed::Shapes& shapes) {
  size_t bytes = 0;
  for (const std::vector<int64_t>& shape : shapes) bytes += fed::npy_size(shape) + 16;
  return bytes + (size_t(1) << 20);  // config, metrics, status: far less than a megabyte
}

}  // namespace edgetrain::flower
