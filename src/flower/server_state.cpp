#include "flower/server_state.h"

#include <zlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "edgetrain/error.h"

namespace edgetrain::flower {
namespace {

constexpr const char* kMagicLine = "edgetrain-fed-state 1\n";
constexpr size_t kMaxHeaderLine = 1 << 20;

uint32_t crc_of(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes at most 4 GB a call.
  for (size_t done = 0; done < bytes.size();) {
    const size_t piece = std::min<size_t>(bytes.size() - done, size_t(1) << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), uInt(piece));
    done += piece;
  }
  return uint32_t(crc);
}

}  // namespace

std::string encode_server_state(const ServerState& state) {
  std::string tensors;
  nlohmann::json sizes = nlohmann::json::array();
  for (const fed::Tensor& tensor : state.global) {
    const std::string npy = fed::encode_npy(tensor);
    sizes.push_back(npy.size());
    tensors += npy;
  }
  const nlohmann::json header = {{"round", state.round},
                                 {"seed", state.seed},
                                 {"tensor_bytes", sizes},
                                 {"crc32", crc_of(tensors)}};
  return kMagicLine + header.dump() + "\n" + tensors;
}

ServerState decode_server_state(const std::string& bytes, const std::string& source,
                                const fed::Shapes& shapes) {
  auto fail = [&](const std::string& what) -> Error {
    return Error(source + ": not a usable server state: " + what);
  };
  const std::string magic = kMagicLine;
  if (bytes.compare(0, magic.size(), magic) != 0)
    throw fail("it does not start with '" + magic.substr(0, magic.size() - 1) + "'");
  const size_t line_end = bytes.find('\n', magic.size());
  if (line_end == std::string::npos || line_end - magic.size() > kMaxHeaderLine) {
    throw fail("no header line");
  }
  ServerState state;
  std::vector<size_t> sizes;
  uint32_t crc = 0;
  try {
    const nlohmann::json header =
        nlohmann::json::parse(bytes.substr(magic.size(), line_end - magic.size()));
    state.round = header.at("round").get<int64_t>();
    state.seed = header.at("seed").get<uint64_t>();
    sizes = header.at("tensor_bytes").get<std::vector<size_t>>();
    crc = header.at("crc32").get<uint32_t>();
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("its header is not valid: ") + e.what());
  }
  if (state.round < 0) throw fail("a negative round");
  const std::string_view tensors = std::string_view(bytes).substr(line_end + 1);
  size_t total = 0;
  for (size_t size : sizes) {
    if (size > tensors.size() || total > tensors.size() - size)
      throw fail("the tensors are truncated");
    total += size;
  }
  if (total != tensors.size()) throw fail("the tensors' sizes do not add up to the file");
  if (crc_of(tensors) != crc) throw fail("its checksum does not match (a damaged file)");
  size_t offset = 0;
  fed::Shapes given;
  for (size_t size : sizes) {
    try {
      state.global.push_back(fed::decode_npy(tensors.substr(offset, size)));
    } catch (const Error& e) {
      throw fail(e.what());
    }
    given.push_back(state.global.back().shape);
    offset += size;
  }
  if (std::string mismatch = fed::shape_mismatch(shapes, given); !mismatch.empty()) {
    throw Error(source + ": the saved state belongs to another model (" + mismatch +
                "); remove it or start with --fresh");
  }
  return state;
}

void save_server_state(const ServerState& state, const std::string& path) {
  write_file_atomically(path, encode_server_state(state));
}

std::optional<ServerState> load_server_state(const std::string& path, const fed::Shapes& shapes) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  return decode_server_state(read_whole_file(path), path, shapes);
}

}  // namespace edgetrain::flower
