// The registry of layer kinds: LayerParams (include/edgetrain/layers.h) is the list; each
// alternative's kind_for<T>() lives in its own file under src/nn/layers/. Everything here is derived
// from that list at compile time.
#include <array>
#include <utility>
#include <variant>

#include "nn/layer_kind.h"

namespace edgetrain {
namespace {

constexpr size_t kKindCount = std::variant_size_v<LayerParams>;

template <size_t... I>
std::array<const LayerKind*, kKindCount> make_kinds(std::index_sequence<I...>) {
  return {&kind_for<std::variant_alternative_t<I, LayerParams>>()...};
}

template <size_t... I>
std::array<LayerParams (*)(), kKindCount> make_factories(std::index_sequence<I...>) {
  return {+[]() -> LayerParams { return std::variant_alternative_t<I, LayerParams>{}; }...};
}

const std::array<const LayerKind*, kKindCount>& kinds() {
  static const auto table = make_kinds(std::make_index_sequence<kKindCount>{});
  return table;
}

}  // namespace

const LayerKind& layer_kind(const LayerParams& params) { return *kinds()[params.index()]; }
const LayerKind& layer_kind(const Layer& layer) { return layer_kind(layer.params); }

const char* layer_type_name(const Layer& layer) { return layer_kind(layer).name(); }

const LayerKind* layer_kind_for_field(int field) {
  for (const LayerKind* kind : kinds()) {
    if (kind->coreml_field() == field) return kind;
  }
  return nullptr;
}

LayerParams params_for_field(int field) {
  static const auto factories = make_factories(std::make_index_sequence<kKindCount>{});
  for (size_t i = 0; i < kKindCount; ++i) {
    if (kinds()[i]->coreml_field() == field) return factories[i]();
  }
  return {};
}

std::vector<const LayerKind*> all_layer_kinds() { return {kinds().begin(), kinds().end()}; }

}  // namespace edgetrain
