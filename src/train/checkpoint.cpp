#include "train/checkpoint.h"

#include <bit>
#include <cstring>
#include <zlib.h>

#include "edgetrain/error.h"
#include "base/atomic_file.h"

namespace edgetrain {
namespace {

constexpr char kMagic[] = "EDGETRAIN-CHECKPOINT\n";
constexpr size_t kMagicSize = sizeof(kMagic) - 1;
constexpr uint32_t kVersion = 2;  // 2: the training options' state
static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian");

class Writer {
 public:
  template <typename T>
  void put(const T& value) {
    bytes.append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  template <typename T>
  void put_vector(const std::vector<T>& values) {
    put(uint64_t(values.size()));
    bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  }
  std::string bytes;
};

class Reader {
 public:
  Reader(const std::string& bytes, size_t end, const std::string& path)
      : bytes_(bytes), end_(end), path_(path) {}
  template <typename T>
  T get(const char* field) {
    if (end_ - position_ < sizeof(T)) throw Error(path_ + ": truncated at the " + field);
    T value;
    std::memcpy(&value, bytes_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return value;
  }
  template <typename T>
  std::vector<T> get_vector(const char* field) {
    const uint64_t count = get<uint64_t>(field);
    if (count > (end_ - position_) / sizeof(T)) {
      throw Error(path_ + ": the " + field + " claims " + std::to_string(count) +
                  " values, more than the file holds");
    }
    std::vector<T> values(count);
    // An empty vector's data() may be null, which memcpy must not get (UBSan), even for 0 bytes.
    if (count > 0) std::memcpy(values.data(), bytes_.data() + position_, count * sizeof(T));
    position_ += count * sizeof(T);
    return values;
  }
  bool done() const { return position_ == end_; }

 private:
  const std::string& bytes_;
  size_t end_, position_ = kMagicSize;
  const std::string& path_;
};

uint32_t crc_of(const std::string& bytes, size_t size) {
  return uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), uInt(size)));
}

}  // namespace

void save_checkpoint(const TrainingState& state, const std::string& path) {
  Writer w;
  w.bytes.assign(kMagic, kMagicSize);
  w.put(kVersion);
  w.put_vector(std::vector<char>(state.signature.begin(), state.signature.end()));
  w.put(state.epoch);
  w.put(state.batch);
  w.put(state.step);
  w.put(state.rng_state);
  w.put(uint8_t(state.order_ready));
  w.put_vector(state.order);
  w.put(state.epoch_loss);
  w.put(state.epoch_correct);
  w.put(state.epoch_samples);
  w.put(state.samples_seen);
  w.put(state.elapsed_seconds);
  w.put_vector(state.parameters);
  w.put_vector(state.moment1);
  w.put_vector(state.moment2);
  w.put(state.early_stopping.best_loss);
  w.put(state.early_stopping.best_epoch);
  w.put(state.early_stopping.epochs_without_improvement);
  w.put(state.plateau.best_loss);
  w.put(state.plateau.epochs_without_improvement);
  w.put(state.plateau.learning_rate_scale);
  w.put(uint8_t(state.stop_reason));
  w.put_vector(state.best_parameters);
  w.put(crc_of(w.bytes, w.bytes.size()));
  write_file_atomically(path, w.bytes);
}

TrainingState load_checkpoint(const std::string& path) {
  const std::string bytes = read_whole_file(path);
  if (bytes.size() < kMagicSize + 8 || bytes.compare(0, kMagicSize, kMagic) != 0) {
    throw Error(path + ": not an edgetrain checkpoint (bad magic bytes)");
  }
  const size_t body = bytes.size() - 4;
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + body, 4);
  if (stored != crc_of(bytes, body)) {
    throw Error(path + ": the checkpoint is corrupt or incomplete (CRC mismatch)");
  }
  Reader r(bytes, body, path);
  const uint32_t version = r.get<uint32_t>("version");
  if (version != 1 && version != kVersion) {
    throw Error(path + ": unsupported checkpoint version " + std::to_string(version));
  }
  TrainingState state;
  const std::vector<char> signature = r.get_vector<char>("signature");
  state.signature.assign(signature.begin(), signature.end());
  state.epoch = r.get<int64_t>("epoch");
  state.batch = r.get<int64_t>("batch");
  state.step = r.get<int64_t>("step");
  state.rng_state = r.get<uint64_t>("RNG state");
  state.order_ready = r.get<uint8_t>("order flag") != 0;
  state.order = r.get_vector<uint64_t>("sample order");
  state.epoch_loss = r.get<double>("epoch loss");
  state.epoch_correct = r.get<uint64_t>("epoch accuracy");
  state.epoch_samples = r.get<uint64_t>("epoch samples");
  state.samples_seen = r.get<uint64_t>("samples seen");
  state.elapsed_seconds = r.get<double>("elapsed time");
  state.parameters = r.get_vector<float>("parameters");
  state.moment1 = r.get_vector<float>("first moments");
  state.moment2 = r.get_vector<float>("second moments");
  if (version >= 2) {
    state.early_stopping.best_loss = r.get<double>("early stopping's best loss");
    state.early_stopping.best_epoch = r.get<int64_t>("early stopping's best epoch");
    state.early_stopping.epochs_without_improvement = r.get<int64_t>("early stopping's count");
    state.plateau.best_loss = r.get<double>("plateau's best loss");
    state.plateau.epochs_without_improvement = r.get<int64_t>("plateau's count");
    state.plateau.learning_rate_scale = r.get<double>("learning-rate scale");
    const uint8_t reason = r.get<uint8_t>("stop reason");
    if (reason > uint8_t(StopReason::kLearningRateMin)) {
      throw Error(path + ": the checkpoint's stop reason " + std::to_string(reason) +
                  " is not one edgetrain writes");
    }
    state.stop_reason = StopReason(reason);
    state.best_parameters = r.get_vector<float>("best weights");
  }
  if (!r.done()) throw Error(path + ": unexpected bytes after the checkpoint's fields");
  return state;
}

}  // namespace edgetrain
