// libFuzzer target: the .npy decoder (fed::decode_npy), which reads every tensor a federated peer
// sends. Input: the bytes of one .npy. Only edgetrain::Error may escape; an accepted array must
// hold as many values as its shape says and survive encode -> decode bit for bit.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "edgetrain/error.h"
#include "edgetrain/fed.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgetrain;
  try {
    const fed::Tensor tensor =
        fed::decode_npy(std::string_view(reinterpret_cast<const char*>(data), size));
    FUZZ_CHECK(tensor.values.size() == fed::element_count(tensor.shape));
    const std::string encoded = fed::encode_npy(tensor);
    FUZZ_CHECK(encoded.size() == fed::npy_size(tensor.shape));
    const fed::Tensor again = fed::decode_npy(encoded);
    FUZZ_CHECK(again.shape == tensor.shape);
    // An empty tensor's data() may be null, which memcmp must not get even for 0 bytes.
    FUZZ_CHECK(tensor.values.empty() || std::memcmp(again.values.data(), tensor.values.data(),
                                                    tensor.values.size() * sizeof(float)) == 0);
    fuzz::accepted("decode_npy");
  } catch (const Error& error) {
    fuzz::refused("decode_npy", error);
  }
  return 0;
}
