#include "nn/layer_io.h"

#include <climits>

#include "edgetrain/error.h"
#include "nn/layer_kind.h"
#include "schema/weights.h"

namespace edgetrain {

LayerReader::LayerReader(Layer& layer, std::string where)
    : layer_(layer), where_(std::move(where)) {}

void LayerReader::fail(const std::string& what) const {
  throw Error(where_ + " (" + layer_kind(layer_).name() + "): " + what);
}

int LayerReader::checked(uint64_t value, uint64_t max, const char* field) const {
  if (value > max) {
    fail(std::string(field) + " " + std::to_string(value) + " is out of range (at most " +
         std::to_string(max) + ")" + (value > uint64_t(INT64_MAX) ? "; a negative number?" : ""));
  }
  return int(value);
}

int LayerReader::checked_signed(int64_t value, int64_t min, int64_t max, const char* field) const {
  if (value < min || value > max) {
    fail(std::string(field) + " " + std::to_string(value) + " is out of range (" +
         std::to_string(min) + " to " + std::to_string(max) + ")");
  }
  return int(value);
}

std::array<int, 2> LayerReader::pair(const google::protobuf::RepeatedField<uint64_t>& values,
                                     std::array<int, 2> unset, const char* field) const {
  if (values.empty()) return unset;
  if (values.size() != 2) {
    fail(std::string(field) + " has " + std::to_string(values.size()) +
         " values, expected 2 ([height, width])");
  }
  return {checked(values[0], kMaxWindow, field), checked(values[1], kMaxWindow, field)};
}

void LayerReader::tensor(const std::string& name, const spec::WeightParams& weights,
                         uint64_t expected, uint64_t channels) {
  try {
    layer_.quantized |= coreml::check_weights(weights, expected, channels,
                                              where_ + " (" + layer_kind(layer_).name() + ") " + name);
  } catch (const Error&) {
    throw;
  }
  stored_.push_back({name, &weights, expected, channels, weights.isupdatable()});
}

void LayerReader::no_tensor(const spec::WeightParams& weights, const std::string& what) const {
  coreml::check_weights(weights, 0, 0, where_ + " (" + layer_kind(layer_).name() + ") " + what);
}

void LayerReader::valid_padding(const spec::ValidPadding& valid,
                                std::array<int, 4>& amounts) const {
  amounts = {0, 0, 0, 0};
  const auto& borders = valid.paddingamounts().borderamounts();
  if (borders.empty()) return;
  if (borders.size() != 2) {
    fail("valid padding has " + std::to_string(borders.size()) +
         " border amounts, expected 2 ([height, width])");
  }
  amounts = {checked(borders[0].startedgesize(), kMaxWindow, "padding top"),
             checked(borders[0].endedgesize(), kMaxWindow, "padding bottom"),
             checked(borders[1].startedgesize(), kMaxWindow, "padding left"),
             checked(borders[1].endedgesize(), kMaxWindow, "padding right")};
}

SamePaddingMode LayerReader::same_padding(const spec::SamePadding& same) const {
  switch (same.asymmetrymode()) {
    case spec::SamePadding::BOTTOM_RIGHT_HEAVY: return SamePaddingMode::kBottomRightHeavy;
    case spec::SamePadding::TOP_LEFT_HEAVY: return SamePaddingMode::kTopLeftHeavy;
    default: fail("same padding has unknown asymmetryMode " + std::to_string(same.asymmetrymode()));
  }
}

void write_tensor(const Model& model, const Layer& layer, const std::string& name,
                  spec::WeightParams* out) {
  const LayerParameter* parameter = layer.parameter(name);
  if (!parameter) return;
  const float* values = model.data(*parameter);
  out->mutable_floatvalue()->Add(values, values + parameter->slice.size);
  if (parameter->role == ParameterRole::kTrainable && layer_kind(layer).coreml_updatable()) {
    out->set_isupdatable(layer.marked_updatable(*parameter));
  }
}

void write_pair(const std::array<int, 2>& values, google::protobuf::RepeatedField<uint64_t>* out) {
  out->Add(uint64_t(values[0]));
  out->Add(uint64_t(values[1]));
}

void write_valid_padding(const std::array<int, 4>& amounts, spec::ValidPadding* out) {
  if (amounts == std::array<int, 4>{0, 0, 0, 0}) return;
  auto* borders = out->mutable_paddingamounts()->mutable_borderamounts();
  auto* height = borders->Add();
  height->set_startedgesize(uint64_t(amounts[0]));
  height->set_endedgesize(uint64_t(amounts[1]));
  auto* width = borders->Add();
  width->set_startedgesize(uint64_t(amounts[2]));
  width->set_endedgesize(uint64_t(amounts[3]));
}

void write_same_padding(SamePaddingMode mode, spec::SamePadding* out) {
  out->set_asymmetrymode(mode == SamePaddingMode::kTopLeftHeavy ? spec::SamePadding::TOP_LEFT_HEAVY
                                                                : spec::SamePadding::BOTTOM_RIGHT_HEAVY);
}

std::string size_text(const std::array<int, 2>& size) {
  return std::to_string(size[0]) + "x" + std::to_string(size[1]);
}

}  // namespace edgetrain
