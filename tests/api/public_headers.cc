// Every public header, as a user's own build includes them: compiled by CTest (cmake/api_checks.cmake)
// with -Wall -Wextra -Wpedantic -Werror under GCC and Clang. Also uses the parameter structs the
// way the header comments show, which must not warn either (-Wmissing-field-initializers).
#include "edgetrain/coreml.h"
#include "edgetrain/data.h"
#include "edgetrain/edgetrain.h"
#include "edgetrain/edgetrain_c.h"
#include "edgetrain/error.h"
#include "edgetrain/image.h"
#include "edgetrain/inference.h"
#include "edgetrain/io.h"
#include "edgetrain/layers.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"
#include "edgetrain/version.h"

int main() {
  edgetrain::Adam adam{.learning_rate = {1e-3, {{0.0, 1.0}}},
                       .mini_batch_size = {64, {{1, 1024}}}};
  edgetrain::Int64Parameter epochs{10, std::nullopt, {5, 10, 20}};
  edgetrain::Layer conv("conv", "image", "c", edgetrain::Convolution{.output_channels = 8},
                        edgetrain::kUpdatable);
  // fed.h's example (federated learning, issue #13).
  edgetrain::fed::PresetOptions preset{.learning_rate = 0.1};
  edgetrain::fed::SimulationSettings settings{.clients = 10, .fraction = 0.5, .rounds = 5,
                                              .local = {.epochs = 1, .batch_size = 10}};
  return int(adam.mini_batch_size.default_value + epochs.set.size() + conv.inputs.size() +
             preset.batch_size + settings.clients) == 0;
}
