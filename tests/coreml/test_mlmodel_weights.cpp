// Weight encodings the reader widens to float32: float16 (every one of the 65,536 values against
// a reference), float32 raw bytes, and linear / look-up-table quantisation of 1-8 bits packed most
// significant bit first, with their size checks.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "schema/spec.h"
#include "schema/weights.h"
#include "edgetrain/coreml.h"
#include "mlmodel_test_util.h"

namespace edgetrain {
namespace {

namespace spec = coreml::spec;

// hidden2 of LeNet: inner product 500 → 10, weights (10, 500).
constexpr int kLayer = 9;
constexpr size_t kCount = 5000, kChannels = 10;

spec::Model lenet_spec() {
  return coreml::parse_spec(serialize_mlmodel(lenet()), "lenet");
}
spec::WeightParams* hidden2_weights(spec::Model& m) {
  return m.mutable_neuralnetwork()
      ->mutable_layers(kLayer)
      ->mutable_innerproduct()
      ->mutable_weights();
}
Model read(const spec::Model& m) {
  return parse_mlmodel(coreml::serialize_spec(m), "weights.mlmodel");
}
const float* hidden2(const Model& model) {
  return model.data(model.layers[kLayer].parameters[0]);
}

// Reference: sign * 2^(exponent - 15) * (1 + mantissa / 1024), subnormals and specials apart.
double half_reference(uint16_t h) {
  const int sign = h >> 15 ? -1 : 1, exponent = (h >> 10) & 31, mantissa = h & 1023;
  if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// Packs codes of `bits` bits each, most significant bit first.
std::string pack(const std::vector<uint32_t>& codes, int bits) {
  std::string bytes((codes.size() * bits + 7) / 8, '\0');
  size_t bit = 0;
  for (uint32_t code : codes) {
    for (int b = bits - 1; b >= 0; --b, ++bit) {
      if (code >> b & 1) bytes[bit / 8] = char(bytes[bit / 8] | (0x80 >> (bit % 8)));
    }
  }
  return bytes;
}

TEST(MlmodelWeights, HalfToFloatMatchesTheReferenceForEveryValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float value = coreml::half_to_float(uint16_t(h));
    const double expected = half_reference(uint16_t(h));
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(value)) << h;
    } else {
      ASSERT_EQ(double(value), expected) << "half 0x" << std::hex << h;
      ASSERT_EQ(std::signbit(value), bool(h >> 15)) << h;
    }
  }
  EXPECT_EQ(coreml::half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(coreml::half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(coreml::half_to_float(0x0001), std::ldexp(1.0f, -24));
}

TEST(MlmodelWeights, Float16WeightsAreWidenedAndMarkedQuantized) {
  spec::Model m = lenet_spec();
  std::string halves;
  std::vector<float> expected;
  for (size_t i = 0; i < kCount; ++i) {
    const uint16_t h = uint16_t(0x2000 + (i * 7) % 0x5000);  // finite, normal values
    halves += char(h & 0xff);
    halves += char(h >> 8);
    expected.push_back(coreml::half_to_float(h));
  }
  hidden2_weights(m)->clear_floatvalue();
  hidden2_weights(m)->set_float16value(halves);
  const Model model = read(m);
  EXPECT_TRUE(model.layers[kLayer].quantized);
  EXPECT_FALSE(model.layers[7].quantized);
  EXPECT_EQ(std::vector<float>(hidden2(model), hidden2(model) + kCount), expected);
  // Odd byte counts and wrong counts are refused.
  hidden2_weights(m)->set_float16value(halves.substr(1));
  EXPECT_THROW(read(m), Error);
  hidden2_weights(m)->set_float16value(halves.substr(2));
  try {
    read(m);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("imply 5000 values but float16Value holds 9998 bytes"),
              std::string::npos)
        << e.what();
  }
}

TEST(MlmodelWeights, RawFloat32BytesAreExact) {
  spec::Model m = lenet_spec();
  const Model original = lenet();
  std::string raw(reinterpret_cast<const char*>(hidden2(original)), kCount * sizeof(float));
  hidden2_weights(m)->clear_floatvalue();
  hidden2_weights(m)->set_rawvalue(raw);
  const Model model = read(m);
  EXPECT_FALSE(model.layers[kLayer].quantized);
  EXPECT_EQ(model.parameters, original.parameters);
  hidden2_weights(m)->set_rawvalue(raw.substr(4));
  EXPECT_THROW(read(m), Error);
}

TEST(MlmodelWeights, LinearQuantizationPerChannel) {
  for (int bits : {8, 3, 1}) {
    SCOPED_TRACE(std::to_string(bits) + " bits");
    spec::Model m = lenet_spec();
    std::vector<uint32_t> codes;
    for (size_t i = 0; i < kCount; ++i) codes.push_back(uint32_t((i * 37 + i / 3) % (1u << bits)));
    spec::WeightParams* w = hidden2_weights(m);
    w->clear_floatvalue();
    w->set_rawvalue(pack(codes, bits));
    w->mutable_quantization()->set_numberofbits(uint64_t(bits));
    auto* linear = w->mutable_quantization()->mutable_linearquantization();
    for (size_t c = 0; c < kChannels; ++c) {
      linear->add_scale(0.5f * float(c + 1));
      linear->add_bias(float(c) - 3.0f);
    }
    const Model model = read(m);
    EXPECT_TRUE(model.layers[kLayer].quantized);
    for (size_t i = 0; i < kCount; ++i) {
      const size_t c = i / (kCount / kChannels);
      ASSERT_EQ(hidden2(model)[i], float(codes[i]) * 0.5f * float(c + 1) + (float(c) - 3.0f)) << i;
    }
  }
}

TEST(MlmodelWeights, LookUpTableQuantization) {
  spec::Model m = lenet_spec();
  std::vector<uint32_t> codes;
  for (size_t i = 0; i < kCount; ++i) codes.push_back(uint32_t((i * 11) % 16));
  spec::WeightParams* w = hidden2_weights(m);
  w->clear_floatvalue();
  w->set_rawvalue(pack(codes, 4));
  ASSERT_EQ(uint8_t(w->rawvalue()[0]), (codes[0] << 4) | codes[1]) << "most significant first";
  w->mutable_quantization()->set_numberofbits(4);
  auto* table = w->mutable_quantization()->mutable_lookuptablequantization();
  for (int k = 0; k < 16; ++k) table->add_floatvalue(0.25f * float(k) - 2.0f);
  const Model model = read(m);
  EXPECT_TRUE(model.layers[kLayer].quantized);
  for (size_t i = 0; i < kCount; ++i) ASSERT_EQ(hidden2(model)[i], 0.25f * float(codes[i]) - 2.0f);
  table->mutable_floatvalue()->RemoveLast();
  EXPECT_THROW(read(m), Error);
}

TEST(MlmodelWeights, Int8RawValueIsSigned) {
  spec::Model m = lenet_spec();
  std::string codes;
  for (size_t i = 0; i < kCount; ++i) codes += char(int8_t(int(i % 256) - 128));
  spec::WeightParams* w = hidden2_weights(m);
  w->clear_floatvalue();
  w->set_int8rawvalue(codes);
  w->mutable_quantization()->set_numberofbits(8);
  w->mutable_quantization()->mutable_linearquantization()->add_scale(0.5f);
  const Model model = read(m);
  for (size_t i = 0; i < kCount; ++i)
    ASSERT_EQ(hidden2(model)[i], 0.5f * float(int(i % 256) - 128));
}

TEST(MlmodelWeights, QuantizationParametersAreChecked) {
  auto error = [](const spec::Model& m) {
    try {
      read(m);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  spec::Model m = lenet_spec();
  spec::WeightParams* w = hidden2_weights(m);
  w->clear_floatvalue();
  w->set_rawvalue(std::string(kCount, '\1'));
  EXPECT_NE(error(m).find("imply 5000 values but rawValue holds 5000 bytes"), std::string::npos);
  w->mutable_quantization()->set_numberofbits(9);
  EXPECT_NE(error(m).find("numberOfBits is 9"), std::string::npos) << error(m);
  w->mutable_quantization()->set_numberofbits(4);
  w->mutable_quantization()->mutable_linearquantization()->add_scale(1.0f);
  EXPECT_NE(error(m).find("5000 4-bit codes but rawValue holds 5000 bytes"), std::string::npos)
      << error(m);
  w->mutable_quantization()->set_numberofbits(8);
  for (int k = 0; k < 2; ++k)
    w->mutable_quantization()->mutable_linearquantization()->add_scale(1.0f);
  EXPECT_NE(error(m).find("3 scales, expected 1 or one per output channel (10)"), std::string::npos)
      << error(m);
  w->mutable_quantization()->clear_linearquantization();
  EXPECT_NE(error(m).find("neither linearQuantization nor lookupTableQuantization"),
            std::string::npos);
}

}  // namespace
}  // namespace edgetrain
