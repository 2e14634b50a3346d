// WeightParams decoding. Quantised codes are packed most significant bit first (coremltools'
// layout): with 4 bits, byte 0xAB holds code 0xA then code 0xB.
#include "schema/weights.h"

#include <bit>
#include <cstring>

#include "edgetrain/error.h"

namespace edgetrain::coreml {
namespace {

static_assert(std::endian::native == std::endian::little,
              "Core ML's raw weights are little-endian");

enum class Encoding { kEmpty, kFloat, kHalf, kRawFloat, kQuantized, kInt8 };

Encoding encoding_of(const spec::WeightParams& w, const std::string& where) {
  const int filled = (w.floatvalue_size() > 0) + !w.float16value().empty() + !w.rawvalue().empty() +
                     !w.int8rawvalue().empty();
  if (filled > 1) {
    throw Error(where +
                ": sets more than one of floatValue, float16Value, rawValue and "
                "int8RawValue; Core ML allows exactly one");
  }
  if (w.floatvalue_size() > 0) return Encoding::kFloat;
  if (!w.float16value().empty()) return Encoding::kHalf;
  if (!w.rawvalue().empty())
    return w.has_quantization() ? Encoding::kQuantized : Encoding::kRawFloat;
  if (!w.int8rawvalue().empty()) return Encoding::kInt8;
  return Encoding::kEmpty;
}

std::string count_mismatch(const std::string& where, uint64_t expected, const char* field,
                           uint64_t present, const char* unit) {
  return where + ": the layer's dimensions imply " + std::to_string(expected) + " values but " +
         field + " holds " + std::to_string(present) + unit;
}

// Checks the quantisation parameters of `expected` codes stored in `bytes` bytes.
void check_quantized(const spec::WeightParams& w, size_t bytes, bool int8, uint64_t expected,
                     uint64_t channels, const std::string& where) {
  const spec::QuantizationParams& q = w.quantization();
  const uint64_t bits = q.numberofbits();
  const char* field = int8 ? "int8RawValue" : "rawValue";
  if (!w.has_quantization()) throw Error(where + ": int8RawValue needs quantization parameters");
  if (bits < 1 || bits > 8 || (int8 && bits != 8)) {
    throw Error(where + ": quantization numberOfBits is " + std::to_string(bits) + ", expected " +
                (int8 ? "8 for int8RawValue" : "1 to 8"));
  }
  // Compare without overflow: `bytes` bytes hold at most bytes * 8 / bits codes.
  if (expected > uint64_t(bytes) * 8 / bits || (expected * bits + 7) / 8 != bytes) {
    throw Error(where + ": the layer's dimensions imply " + std::to_string(expected) + " " +
                std::to_string(bits) + "-bit codes but " + field + " holds " +
                std::to_string(bytes) + " bytes (" + std::to_string(uint64_t(bytes) * 8 / bits) +
                " codes)");
  }
  if (q.has_linearquantization()) {
    const auto& linear = q.linearquantization();
    const uint64_t scales = uint64_t(linear.scale_size()), biases = uint64_t(linear.bias_size());
    if (scales != 1 && scales != channels) {
      throw Error(where + ": linear quantization has " + std::to_string(scales) +
                  " scales, expected 1 or one per output channel (" + std::to_string(channels) +
                  ")");
    }
    if (biases > 1 && biases != channels) {
      throw Error(where + ": linear quantization has " + std::to_string(biases) +
                  " biases, expected 0, 1 or one per output channel (" + std::to_string(channels) +
                  ")");
    }
    if ((scales > 1 || biases > 1) && (channels == 0 || expected % channels != 0)) {
      throw Error(where + ": per-channel quantization over " + std::to_string(channels) +
                  " channels does not divide the " + std::to_string(expected) + " values");
    }
    if (int8 && (scales != 1 || biases != 0)) {
      throw Error(where + ": int8RawValue needs one linear quantization scale and no bias");
    }
  } else if (q.has_lookuptablequantization()) {
    if (int8) throw Error(where + ": int8RawValue needs linear quantization, not a look-up table");
    const uint64_t entries = uint64_t(q.lookuptablequantization().floatvalue_size());
    if (entries != (uint64_t(1) << bits)) {
      throw Error(where + ": the look-up table has " + std::to_string(entries) +
                  " entries, expected " + std::to_string(uint64_t(1) << bits) + " for " +
                  std::to_string(bits) + " bits");
    }
  } else {
    throw Error(where +
                ": quantization sets neither linearQuantization nor lookupTableQuantization");
  }
}

// Code i of a stream of `bits`-bit codes packed most significant bit first.
uint32_t code_at(const unsigned char* data, size_t i, unsigned bits) {
  if (bits == 8) return data[i];
  const size_t first_bit = i * bits;
  uint32_t window = uint32_t(data[first_bit / 8]) << 8;
  if ((first_bit % 8) + bits > 8) window |= data[first_bit / 8 + 1];
  return (window >> (16 - (first_bit % 8) - bits)) & ((1u << bits) - 1);
}

}  // namespace

float half_to_float(uint16_t half) {
  const uint32_t sign = uint32_t(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 → 127
  } else if (mantissa == 0) {
    bits = sign;  // ±0
  } else {
    // Subnormal: shift the leading one up to the implicit position.
    uint32_t shift = 0;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | ((113 - shift) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

bool check_weights(const spec::WeightParams& w, uint64_t expected, uint64_t channels,
                   const std::string& where) {
  switch (encoding_of(w, where)) {
    case Encoding::kEmpty:
      if (expected == 0) return false;
      throw Error(where + ": holds no values but the layer's dimensions imply " +
                  std::to_string(expected));
    case Encoding::kFloat:
      if (uint64_t(w.floatvalue_size()) != expected) {
        throw Error(
            count_mismatch(where, expected, "floatValue", uint64_t(w.floatvalue_size()), ""));
      }
      return false;
    case Encoding::kHalf:
      if (w.float16value().size() % 2 != 0 || w.float16value().size() / 2 != expected) {
        throw Error(count_mismatch(where, expected, "float16Value", w.float16value().size(),
                                   " bytes (2 per value)"));
      }
      return true;
    case Encoding::kRawFloat:
      if (w.rawvalue().size() % 4 != 0 || w.rawvalue().size() / 4 != expected) {
        throw Error(count_mismatch(where, expected, "rawValue", w.rawvalue().size(),
                                   " bytes (float32, 4 per value; no quantization given)"));
      }
      return false;
    case Encoding::kQuantized:
      check_quantized(w, w.rawvalue().size(), false, expected, channels, where);
      return true;
    case Encoding::kInt8:
      check_quantized(w, w.int8rawvalue().size(), true, expected, channels, where);
      return true;
  }
  return false;
}

void decode_weights(const spec::WeightParams& w, size_t count, size_t channels, float* dst) {
  switch (encoding_of(w, "weights")) {
    case Encoding::kEmpty:
      return;
    case Encoding::kFloat:
      std::memcpy(dst, w.floatvalue().data(), count * sizeof(float));
      return;
    case Encoding::kRawFloat:
      std::memcpy(dst, w.rawvalue().data(), count * sizeof(float));
      return;
    case Encoding::kHalf: {
      const auto* bytes = reinterpret_cast<const unsigned char*>(w.float16value().data());
      for (size_t i = 0; i < count; ++i) {
        dst[i] = half_to_float(uint16_t(bytes[2 * i] | (bytes[2 * i + 1] << 8)));
      }
      return;
    }
    case Encoding::kQuantized:
    case Encoding::kInt8: {
      const bool int8 = !w.int8rawvalue().empty();
      const auto* data = reinterpret_cast<const unsigned char*>(int8 ? w.int8rawvalue().data()
                                                                     : w.rawvalue().data());
      const spec::QuantizationParams& q = w.quantization();
      const unsigned bits = unsigned(q.numberofbits());
      if (q.has_lookuptablequantization()) {
        const auto& table = q.lookuptablequantization().floatvalue();
        for (size_t i = 0; i < count; ++i) dst[i] = table[int(code_at(data, i, bits))];
        return;
      }
      const auto& linear = q.linearquantization();
      const size_t per_channel = channels ? count / channels : count;
      for (size_t i = 0; i < count; ++i) {
        const int channel = int(per_channel ? i / per_channel : 0);
        const float scale = linear.scale(linear.scale_size() == 1 ? 0 : channel);
        const float bias =
            linear.bias_size() == 0 ? 0.0f : linear.bias(linear.bias_size() == 1 ? 0 : channel);
        const float code = int8 ? float(int8_t(data[i])) : float(code_at(data, i, bits));
        dst[i] = code * scale + bias;
      }
      return;
    }
  }
}

}  // namespace edgetrain::coreml
