// What a layer kind's Core ML read and write share: checked field access, the stored tensors a
// layer registers (sized before anything is allocated, decoded once the parameter block is laid
// out), padding messages, and writing a parameter tensor back.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "edgetrain/model.h"
#include "schema/spec.h"

namespace edgetrain {

class LayerReader {
 public:
  // Channels, kernel sizes and strides beyond these are refused before anything is allocated.
  static constexpr uint64_t kMaxChannels = uint64_t(1) << 24;
  static constexpr uint64_t kMaxWindow = 65536;

  // `where` names the layer in every error: "layer 3 'dense'".
  LayerReader(Layer& layer, std::string where);

  Layer& layer() { return layer_; }
  const std::string& where() const { return where_; }
  // Throws Error("<where> (<type>): <what>"); the model reader adds the file's name.
  [[noreturn]] void fail(const std::string& what) const;

  // A count or size field: at most `max`.
  int checked(uint64_t value, uint64_t max, const char* field) const;
  // A signed field (axes, shapes): within [min, max].
  int checked_signed(int64_t value, int64_t min, int64_t max, const char* field) const;
  // A [height, width] field; `unset` when empty (Core ML's documented default).
  std::array<int, 2> pair(const google::protobuf::RepeatedField<uint64_t>& values,
                          std::array<int, 2> unset, const char* field) const;

  // The stored values of parameter tensor `name`, which the layer's dimensions say hold
  // `expected` values with `channels` as leading dimension (per-channel quantisation). Checked
  // now; decoded by the model reader. Records the file's isUpdatable flag and quantisation.
  void tensor(const std::string& name, const spec::WeightParams& weights, uint64_t expected,
              uint64_t channels);
  // A tensor the layer does not use (e.g. a bias with hasBias false) must hold nothing.
  void no_tensor(const spec::WeightParams& weights, const std::string& what) const;

  struct Stored {
    std::string name;
    const spec::WeightParams* weights = nullptr;
    uint64_t expected = 0, channels = 0;
    bool file_updatable = false;
  };
  const std::vector<Stored>& stored() const { return stored_; }

  // Padding: valid (with amounts) or same (with its asymmetry mode), into (top, bottom, left,
  // right) amounts.
  void valid_padding(const spec::ValidPadding& valid, std::array<int, 4>& amounts) const;
  SamePaddingMode same_padding(const spec::SamePadding& same) const;

 private:
  Layer& layer_;
  std::string where_;
  std::vector<Stored> stored_;
};

// Writes parameter tensor `name` of the layer as float32 values, with its isUpdatable flag.
void write_tensor(const Model& model, const Layer& layer, const std::string& name,
                  spec::WeightParams* out);
void write_pair(const std::array<int, 2>& values, google::protobuf::RepeatedField<uint64_t>* out);
void write_valid_padding(const std::array<int, 4>& amounts, spec::ValidPadding* out);
void write_same_padding(SamePaddingMode mode, spec::SamePadding* out);

// "3x3"
std::string size_text(const std::array<int, 2>& size);

}  // namespace edgetrain
