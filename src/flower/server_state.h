// What a federated server needs to continue after a crash: the last completed round, the seed and
// the global model of that round. Written atomically after every round, so the file on disk is
// always a whole state of some round.
//
// Format: the line "edgetrain-fed-state 1", one JSON line {"round", "seed", "tensor_bytes" (each
// tensor's .npy size), "crc32" (of the tensors' bytes)}, then the tensors as .npy, back to back.
#pragma once

#include <optional>
#include <string>

#include "edgetrain/fed.h"

namespace edgetrain::flower {

struct ServerState {
  int64_t round = 0;  // the last completed round; 0: none yet
  uint64_t seed = 0;
  fed::Tensors global;
};

void save_server_state(const ServerState& state, const std::string& path);
// nullopt when there is no file. Throws Error naming the file when it is corrupt or belongs to a
// model with other shapes.
std::optional<ServerState> load_server_state(const std::string& path, const fed::Shapes& shapes);

std::string encode_server_state(const ServerState& state);
ServerState decode_server_state(const std::string& bytes, const std::string& source,
                                const fed::Shapes& shapes);

}  // namespace edgetrain::flower
