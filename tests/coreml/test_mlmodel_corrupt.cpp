// Broken and hostile .mlmodel files: every one gets an Error naming the file and the layer or
// field at fault, never a crash, and sizes the file cannot back are refused before allocating
// (checked in a child process whose address space may grow by 64 MiB only).
#include <gtest/gtest.h>

#include <random>

#include "coreml/model_spec.h"
#include "edgetrain/coreml.h"
#include "mlmodel_test_util.h"

namespace edgetrain {
namespace {

using namespace mlmodel_test;
namespace spec = coreml::spec;

constexpr size_t kBudget = size_t(64) << 20;

std::string read_error(const std::string& bytes, const std::string& name = "bad.mlmodel") {
  try {
    parse_mlmodel(bytes, name);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

void expect_error(const std::string& bytes, std::initializer_list<const char*> parts) {
  const std::string message = read_error(bytes);
  EXPECT_EQ(message.rfind("bad.mlmodel: ", 0), 0u) << "errors start with the file: " << message;
  for (const char* part : parts) {
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' missing in: " << message;
  }
}

spec::Model lenet_spec() {
  return coreml::parse_spec(serialize_mlmodel(lenet()), "lenet");
}
spec::NeuralNetworkLayer* layer(spec::Model& m, int index) {
  return m.mutable_neuralnetwork()->mutable_layers(index);
}
std::string bytes_of(const spec::Model& m) {
  return coreml::serialize_spec(m);
}

TEST(MlmodelCorrupt, TruncatedFiles) {
  const std::string bytes = serialize_mlmodel(lenet());
  expect_error("", {"the file is empty"});
  std::mt19937 rng(1);
  std::vector<size_t> cuts = {1, 2, 3, 5, 8, 13, 40, 100, 1000, bytes.size() / 2, bytes.size() - 1};
  for (int i = 0; i < 200; ++i) cuts.push_back(rng() % bytes.size());
  for (size_t cut : cuts) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    expect_error(bytes.substr(0, cut), {});
  }
  expect_error(bytes.substr(0, bytes.size() / 2), {"truncated or corrupt"});
}

TEST(MlmodelCorrupt, RandomBytesAndBitFlips) {
  std::mt19937 rng(2);
  for (int i = 0; i < 300; ++i) {
    std::string noise(1 + rng() % 4096, '\0');
    for (char& c : noise) c = char(rng());
    expect_error(noise, {});
  }
  // Flipped bytes inside a real model: a flip in weight data still gives a valid model; anything
  // else must be an Error, never a crash.
  const std::string bytes = serialize_mlmodel(lenet());
  for (int i = 0; i < 300; ++i) {
    std::string flipped = bytes;
    for (int k = 0; k < 4; ++k)
      flipped[rng() % (i < 150 ? 2000 : flipped.size())] ^= char(1 + rng() % 255);
    const std::string message = read_error(flipped);
    EXPECT_TRUE(message == "no error" || message.rfind("bad.mlmodel: ", 0) == 0) << message;
  }
}

TEST(MlmodelCorrupt, TheMemoryBudgetCatchesLargeAllocations) {
  // 1 GiB cannot succeed (std::bad_alloc, or a sanitizer's out-of-memory exit).
  const int big =
      run_with_memory_budget([] { std::vector<float> big(size_t(1) << 28, 1.0f); }, kBudget);
  EXPECT_NE(big, 0);
  EXPECT_NE(big, kThrewError);
  EXPECT_EQ(run_with_memory_budget([] { throw Error("x"); }, kBudget), kThrewError);
}

TEST(MlmodelCorrupt, WeightCountsTheFileCannotBackFailBeforeAllocating) {
  spec::Model m = lenet_spec();
  auto* dense = layer(m, 7)->mutable_innerproduct();
  dense->set_inputchannels(1000000);
  dense->set_outputchannels(1000000);
  const std::string huge = bytes_of(m);
  expect_error(huge, {"layer 7 'hidden1' (innerProduct) weights", "imply 1000000000000 values",
                      "floatValue holds 576000"});
  EXPECT_EQ(run_with_memory_budget([&] { parse_mlmodel(huge, "huge"); }, kBudget), kThrewError);

  // Dimensions whose product overflows 64 bits.
  m = lenet_spec();
  auto* conv = layer(m, 0)->mutable_convolution();
  conv->set_outputchannels(uint64_t(1) << 24);
  conv->set_kernelchannels(uint64_t(1) << 24);
  conv->clear_kernelsize();
  conv->add_kernelsize(65536);
  conv->add_kernelsize(65536);
  expect_error(bytes_of(m), {"layer 0 'conv1' (convolution)", "overflows"});

  // One float short, and a bias although hasBias is false.
  m = lenet_spec();
  layer(m, 0)->mutable_convolution()->mutable_weights()->mutable_floatvalue()->RemoveLast();
  expect_error(bytes_of(m), {"layer 0 'conv1' (convolution) weights", "imply 288 values",
                             "floatValue holds 287"});
  m = lenet_spec();
  layer(m, 9)->mutable_innerproduct()->set_hasbias(false);
  expect_error(bytes_of(m), {"layer 9 'hidden2' (innerProduct) bias (hasBias is false)"});
  m = lenet_spec();
  layer(m, 9)->mutable_innerproduct()->mutable_weights()->set_float16value("ab");
  expect_error(bytes_of(m), {"layer 9 'hidden2'", "more than one of floatValue, float16Value"});
}

// A packed float field whose length prefix claims ~1.9 GB inside a 40-byte file.
TEST(MlmodelCorrupt, LengthPrefixesLargerThanTheFileFailWithoutAllocating) {
  auto varint = [](uint64_t value) {
    std::string out;
    do {
      out += char((value & 0x7f) | (value > 0x7f ? 0x80 : 0));
      value >>= 7;
    } while (value);
    return out;
  };
  auto field = [&](int number, const std::string& body) {
    return varint(uint64_t(number) << 3 | 2) + varint(body.size()) + body;
  };
  const std::string floats = varint(1 << 3 | 2) + varint(1900000000) + std::string(16, '\x3f');
  const std::string hostile =
      varint(1 << 3) + varint(4) +
      field(500,
            field(1, field(140, field(20, floats))));  // neuralNetwork.layers.innerProduct.weights
  expect_error(hostile, {"truncated or corrupt"});
  EXPECT_EQ(run_with_memory_budget([&] { parse_mlmodel(hostile, "hostile"); }, kBudget),
            kThrewError);
  // A thousand layers of zero bytes each: parsed, then refused at the first.
  std::string many = varint(1 << 3) + varint(4);
  std::string layers;
  for (int i = 0; i < 1000; ++i) layers += field(1, "");
  many += field(500, layers);
  expect_error(many, {"layer 0 ''", "has no layer type"});
}

TEST(MlmodelCorrupt, NegativeAndOutOfRangeShapes) {
  spec::Model m = lenet_spec();
  auto* shape = m.mutable_description()->mutable_input(0)->mutable_type()->mutable_multiarraytype();
  shape->set_shape(1, -1);
  expect_error(bytes_of(m), {"input 'image'", "[1, -1, 28]", "dimension -1",
                             "every dimension must be between 1 and"});
  m = lenet_spec();
  m.mutable_description()->mutable_output(0)->mutable_type()->mutable_multiarraytype()->set_shape(
      0, int64_t(1) << 40);
  expect_error(bytes_of(m), {"output 'output'", "1099511627776"});
  m = lenet_spec();
  auto* conv = layer(m, 3)->mutable_convolution();
  conv->set_kernelsize(0, uint64_t(-1));
  expect_error(bytes_of(m), {"layer 3 'conv2' (convolution): kernelSize 18446744073709551615",
                             "out of range", "negative"});
  m = lenet_spec();
  layer(m, 0)->mutable_convolution()->set_outputchannels(uint64_t(-1));
  expect_error(bytes_of(m), {"layer 0 'conv1' (convolution): outputChannels", "out of range"});
  m = lenet_spec();
  auto* image = m.mutable_description()->mutable_input(0)->mutable_type()->mutable_imagetype();
  image->set_width(-1);
  image->set_height(28);
  image->set_colorspace(spec::ImageFeatureType::GRAYSCALE);
  expect_error(bytes_of(m), {"input 'image'", "image size -1x28 is out of range"});
  m = lenet_spec();
  layer(m, 0)->mutable_convolution()->set_outputchannels(0);
  layer(m, 0)->mutable_convolution()->mutable_weights()->clear_floatvalue();
  layer(m, 0)->mutable_convolution()->mutable_bias()->clear_floatvalue();
  expect_error(bytes_of(m), {"'conv1'", "outputChannels must be positive"});
}

TEST(MlmodelCorrupt, UnsupportedLayersAreNamed) {
  spec::Model m = lenet_spec();
  spec::NeuralNetworkLayer lstm;
  lstm.set_name("lstm1");
  lstm.add_input("outPooling1");
  lstm.add_output("outLstm1");
  unknown_fields(&lstm)->AddLengthDelimited(420, "");  // uniDirectionalLSTM
  *m.mutable_neuralnetwork()->mutable_layers()->Add() = lstm;
  m.mutable_neuralnetwork()->mutable_layers()->SwapElements(3, 11);
  EXPECT_EQ(read_error(bytes_of(m)),
            "bad.mlmodel: layer 3 'lstm1' has type LSTM (uniDirectionalLSTM), which edgetrain "
            "does not support");

  m = lenet_spec();
  layer(m, 1)->clear_activation();
  unknown_fields(layer(m, 1))->AddLengthDelimited(9999, "");
  expect_error(bytes_of(m),
               {"layer 1 'relu1' has a layer type unknown to edgetrain", "field 9999"});
  m = lenet_spec();
  layer(m, 1)->clear_activation();
  unknown_fields(layer(m, 1))->AddLengthDelimited(410, "");
  expect_error(bytes_of(m), {"layer 1 'relu1' has type GRU (gru), which edgetrain does not support"});
  m = lenet_spec();
  layer(m, 0)->mutable_convolution()->set_isdeconvolution(true);
  expect_error(bytes_of(m), {"layer 0 'conv1' (convolution): deconvolution is not supported"});
  m = lenet_spec();
  m.mutable_neuralnetwork()->add_preprocessing()->mutable_meanimage()->add_meanimage(1.0f);
  expect_error(bytes_of(m), {"mean-image preprocessing is not supported"});
}

// Options converters write that edgetrain once refused: each now reads, with Core ML's shapes.
TEST(MlmodelCorrupt, PaddingModesAndActivationsConvertersWriteAreRead) {
  auto output_shape = [](const spec::Model& m, int index) {
    const Model read = parse_mlmodel(bytes_of(m), "lenet");
    return infer_shapes(read).at(read.layers[size_t(index)].outputs[0]).text();
  };
  // includeLastPixel: 3x3 windows with stride 2 over 26 pixels add a last, partial window.
  spec::Model m = lenet_spec();
  auto* pool = layer(m, 2)->mutable_pooling();
  pool->mutable_includelastpixel();
  pool->set_kernelsize(0, 3);
  pool->set_kernelsize(1, 3);
  EXPECT_EQ(output_shape(m, 2), "[32, 13, 13]");
  m = lenet_spec();
  layer(m, 2)->mutable_pooling()->set_type(spec::PoolingLayerParams::L2);
  EXPECT_EQ(std::get<Pooling>(parse_mlmodel(bytes_of(m), "lenet").layers[2].params).type,
            PoolingType::kL2);
  // Same padding, top-left heavy (Turi Create's): the size is the same as bottom-right heavy.
  m = lenet_spec();
  layer(m, 0)->mutable_convolution()->mutable_same()->set_asymmetrymode(
      spec::SamePadding::TOP_LEFT_HEAVY);
  EXPECT_EQ(output_shape(m, 0), "[32, 28, 28]");
  // Valid padding with explicit amounts: top 1, bottom 0, left 2, right 1.
  m = lenet_spec();
  auto* amounts = layer(m, 0)->mutable_convolution()->mutable_valid()->mutable_paddingamounts();
  auto* height = amounts->add_borderamounts();
  height->set_startedgesize(1);
  auto* width = amounts->add_borderamounts();
  width->set_startedgesize(2);
  width->set_endedgesize(1);
  EXPECT_EQ(output_shape(m, 0), "[32, 27, 29]");
  m = lenet_spec();
  layer(m, 1)->mutable_activation()->mutable_leakyrelu()->set_alpha(0.1f);
  const Model leaky = parse_mlmodel(bytes_of(m), "lenet");
  EXPECT_EQ(std::get<Activation>(leaky.layers[1].params).type, ActivationType::kLeakyReLU);
  EXPECT_FLOAT_EQ(std::get<Activation>(leaky.layers[1].params).alpha, 0.1f);
}

TEST(MlmodelCorrupt, ModelsThatAreNotNeuralNetworks) {
  spec::Model m;
  m.set_specificationversion(4);
  unknown_fields(&m)->AddLengthDelimited(202, "");  // pipeline
  expect_error(bytes_of(m),
               {"is a Core ML pipeline model (Model field 202), not a neural network"});
  m.Clear();
  m.set_specificationversion(4);
  expect_error(bytes_of(m), {"holds no Core ML model"});
  m = lenet_spec();
  m.set_specificationversion(0);
  expect_error(bytes_of(m), {"specificationVersion is 0"});
}

TEST(MlmodelCorrupt, FeatureTypesEdgetrainDoesNotRun) {
  spec::Model m = lenet_spec();
  m.mutable_description()->mutable_output(0)->mutable_type()->mutable_doubletype();
  expect_error(bytes_of(m), {"output 'output' is a scalar Double"});
  m = lenet_spec();
  m.mutable_description()->mutable_input(0)->mutable_type()->mutable_multiarraytype()->set_datatype(
      spec::ArrayFeatureType::FLOAT16);
  expect_error(bytes_of(m), {"input 'image': multi-array data type FLOAT16 is not supported"});
  m = lenet_spec();
  auto* type = m.mutable_description()->mutable_input(0)->mutable_type();
  type->clear_multiarraytype();
  unknown_fields(type)->AddLengthDelimited(7, "");
  expect_error(bytes_of(m), {"input 'image' is a sequence"});
  m = lenet_spec();
  m.mutable_description()->mutable_input(0)->mutable_type()->clear_multiarraytype();
  expect_error(bytes_of(m), {"input 'image' has no type"});
}

TEST(MlmodelCorrupt, InconsistentModelKindsAndFlags) {
  spec::Model m = lenet_spec();
  m.mutable_neuralnetwork()->clear_updateparams();
  expect_error(bytes_of(m), {"updatable (isUpdatable) but has no updateParams"});
  m = lenet_spec();
  spec::NeuralNetworkClassifier classifier;
  *classifier.mutable_layers() = m.neuralnetwork().layers();
  *m.mutable_neuralnetworkclassifier() = classifier;
  expect_error(bytes_of(m), {"neuralNetworkClassifier has no class labels"});
  m = lenet_spec();
  m.mutable_neuralnetwork()->mutable_updateparams()->mutable_optimizer()->Clear();
  expect_error(bytes_of(m), {"update parameters: no optimizer"});
  // A structural problem the model checks find: the layers' own errors, behind the file name.
  m = lenet_spec();
  layer(m, 4)->set_input(0, "nowhere");
  expect_error(bytes_of(m), {"layer 4 'relu2'", "'nowhere'"});
}

TEST(MlmodelCorrupt, BrokenJson) {
  auto json_error = [](const std::string& text) {
    try {
      coreml::spec_from_json(text, "bad.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(json_error("{").find("bad.json: not a Core ML model in JSON form"), std::string::npos);
  EXPECT_NE(json_error("{\"specificationVersion\": 4, \"descripton\": {}}").find("descripton"),
            std::string::npos);
  EXPECT_NE(json_error("{\"specificationVersion\": \"four\"}").find("bad.json"), std::string::npos);
  EXPECT_NE(json_error("{}").find("bad.json: holds no Core ML model"), std::string::npos);
  EXPECT_NE(json_error("{\"specificationVersion\": 4}").find("holds no Core ML model"),
            std::string::npos);
}

}  // namespace
}  // namespace edgetrain
