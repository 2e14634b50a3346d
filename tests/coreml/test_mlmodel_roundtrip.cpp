// The .mlmodel writer and reader: write → read → write is byte-identical, the JSON form converts
// back to the same bytes, every Model field survives, files made elsewhere survive read → write →
// read, fields outside edgetrain's schema survive parse → serialise, and Apple's own schema decodes
// what we write (when COREML_FORMAT_DIR points at coremltools' mlmodel/format).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "base/atomic_file.h"
#include "coreml/model_spec.h"
#include "edgetrain/coreml.h"
#include "edgetrain/io.h"
#include "mlmodel_test_util.h"

namespace edgetrain {
namespace {

using namespace mlmodel_test;
namespace spec = coreml::spec;

TEST(MlmodelRoundTrip, LenetWriteReadWriteIsByteIdentical) {
  const Model original = lenet();
  const std::string bytes = serialize_mlmodel(original);
  const Model read = parse_mlmodel(bytes, "lenet.mlmodel");
  expect_same_model(original, read);
  EXPECT_EQ(serialize_mlmodel(read), bytes);
  EXPECT_EQ(serialize_mlmodel(original), bytes) << "serialisation is deterministic";
}

TEST(MlmodelRoundTrip, JsonFormConvertsBackToTheSameBytes) {
  for (const Model& model : {lenet(), sgd_lenet(), every_field_model()}) {
    const std::string bytes = serialize_mlmodel(model);
    const std::string json = mlmodel_to_json(bytes, "model.mlmodel");
    EXPECT_EQ(json_to_mlmodel(json, "model.json"), bytes);
    // Apple's field names, not protobuf's lowerCamelCase rewrites.
    EXPECT_NE(json.find("\"specificationVersion\""), std::string::npos);
    EXPECT_NE(json.find("\"floatValue\""), std::string::npos);
  }
  const std::string json = mlmodel_to_json(serialize_mlmodel(lenet()), "lenet.mlmodel");
  EXPECT_NE(json.find("\"isUpdatable\": true"), std::string::npos);
  EXPECT_NE(json.find("\"adamOptimizer\""), std::string::npos);
  EXPECT_NE(json.find("\"ReLU\""), std::string::npos);
}

TEST(MlmodelRoundTrip, EveryFieldSurvivesBinaryAndJson) {
  for (const Model& model : {lenet(), sgd_lenet(), every_field_model(), tensor_kinds_model(),
                             branching_two_input_model(), converter_kinds_model()}) {
    SCOPED_TRACE(model.metadata.short_description);
    const std::string bytes = serialize_mlmodel(model);
    expect_same_model(model, parse_mlmodel(bytes, "model.mlmodel"));
    const std::string json = mlmodel_to_json(bytes, "model.mlmodel");
    expect_same_model(model,
                      coreml::model_from_spec(coreml::spec_from_json(json, "m.json"), "m.json"));
  }
}

TEST(MlmodelRoundTrip, WrittenFlagsAndUpdateParameters) {
  const spec::Model m = coreml::parse_spec(serialize_mlmodel(sgd_lenet()), "sgd");
  EXPECT_EQ(m.specificationversion(), 4);
  EXPECT_TRUE(m.isupdatable());
  ASSERT_TRUE(m.has_neuralnetwork());
  const spec::NeuralNetwork& nn = m.neuralnetwork();
  ASSERT_EQ(nn.layers_size(), 11);
  EXPECT_EQ(nn.layers(0).name(), "conv1");
  EXPECT_TRUE(nn.layers(0).isupdatable());
  EXPECT_TRUE(nn.layers(0).convolution().weights().isupdatable());
  EXPECT_TRUE(nn.layers(0).convolution().bias().isupdatable());
  EXPECT_FALSE(nn.layers(1).isupdatable());
  EXPECT_TRUE(nn.layers(9).innerproduct().weights().isupdatable());
  const spec::NetworkUpdateParameters& u = nn.updateparams();
  ASSERT_EQ(u.losslayers_size(), 1);
  EXPECT_EQ(u.losslayers(0).categoricalcrossentropylosslayer().target(), "output_true");
  const spec::SGDOptimizer& sgd = u.optimizer().sgdoptimizer();
  EXPECT_EQ(sgd.learningrate().defaultvalue(), 0.05);
  EXPECT_EQ(sgd.learningrate().range().maxvalue(), 0.5);
  EXPECT_TRUE(sgd.minibatchsize().has_set());
  EXPECT_EQ(sgd.minibatchsize().set().values_size(), 3);
  EXPECT_EQ(sgd.momentum().defaultvalue(), 0.9);
  EXPECT_EQ(u.epochs().range().maxvalue(), 50);
  EXPECT_TRUE(u.has_shuffle());
  EXPECT_FALSE(u.shuffle().defaultvalue());
  EXPECT_EQ(u.seed().defaultvalue(), 1234);
  ASSERT_EQ(m.description().traininginput_size(), 2);
  EXPECT_EQ(m.description().traininginput(1).type().multiarraytype().datatype(),
            spec::ArrayFeatureType::INT32);
  // A model that is not updatable carries no update parameters.
  Model plain = lenet();
  plain.update.reset();
  const spec::Model p = coreml::parse_spec(serialize_mlmodel(plain), "plain");
  EXPECT_FALSE(p.isupdatable());
  EXPECT_FALSE(p.neuralnetwork().has_updateparams());
}

TEST(MlmodelRoundTrip, FilesMadeElsewhereSurviveReadWriteRead) {
  for (const char* name : {"mnist-cnn-image-input.mlmodel", "mnist-mlp-multiarray.mlmodel"}) {
    SCOPED_TRACE(name);
    const Model first = read_mlmodel(kSharedModels + name);
    const std::string bytes = serialize_mlmodel(first);
    const Model second = parse_mlmodel(bytes, "rewritten");
    expect_same_model(first, second);
    EXPECT_EQ(serialize_mlmodel(second), bytes);
  }
}

// Apple's converter wrote these files; the schema knows every field in them, so parsing and
// serialising again, and the JSON form, reproduce their exact bytes.
TEST(MlmodelRoundTrip, FilesMadeElsewhereAreReproducedByteForByte) {
  for (const char* name : {"mnist-cnn-image-input.mlmodel", "mnist-mlp-multiarray.mlmodel"}) {
    SCOPED_TRACE(name);
    const std::string bytes = read_whole_file(kSharedModels + name);
    const spec::Model message = coreml::parse_spec(bytes, name);
    EXPECT_EQ(coreml::describe_first_unknown_field(message), "");
    EXPECT_EQ(coreml::serialize_spec(message), bytes);
    EXPECT_EQ(json_to_mlmodel(mlmodel_to_json(bytes, name), name), bytes);
  }
}

TEST(MlmodelRoundTrip, FieldsOutsideTheSchemaSurviveParseAndSerialize) {
  spec::Model m = coreml::parse_spec(serialize_mlmodel(lenet()), "lenet");
  // Apple fields edgetrain does not declare: ModelDescription.functions (20), a layer-type oneof
  // case (420, uniDirectionalLSTM) on a layer, and a nested unknown inside a known message.
  unknown_fields(m.mutable_description())
      ->AddLengthDelimited(20,
                           "\x0a\x03"
                           "abc");
  unknown_fields(m.mutable_neuralnetwork()->mutable_layers(1))->AddVarint(4242, 7);
  unknown_fields(
      m.mutable_neuralnetwork()->mutable_layers(0)->mutable_convolution()->mutable_weights())
      ->AddFixed32(60, 99);
  const std::string with_unknown = coreml::serialize_spec(m);
  const spec::Model again = coreml::parse_spec(with_unknown, "again");
  EXPECT_EQ(coreml::serialize_spec(again), with_unknown);
  EXPECT_EQ(unknown_fields(again.description()).field_count(), 1);
  EXPECT_EQ(unknown_fields(again.neuralnetwork().layers(1)).field(0).number(), 4242);
  // The Model cannot hold them, so JSON refuses instead of dropping them silently.
  try {
    mlmodel_to_json(with_unknown, "extra.mlmodel");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("extra.mlmodel"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("field 20"), std::string::npos) << e.what();
  }
}

TEST(MlmodelRoundTrip, SaveAndLoadPickTheFormFromTheExtension) {
  const auto folder =
      std::filesystem::temp_directory_path() / ("edgetrain-mlmodel-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  const Model model = every_field_model();
  save_model(model, (folder / "m.mlmodel").string());
  save_model(model, (folder / "m.JSON").string());
  const std::string binary = read_whole_file((folder / "m.mlmodel").string());
  const std::string json = read_whole_file((folder / "m.JSON").string());
  EXPECT_EQ(binary, serialize_mlmodel(model));
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json_to_mlmodel(json, "m.JSON"), binary);
  expect_same_model(model, load_model((folder / "m.JSON").string()));
  expect_same_model(model, load_model((folder / "m.mlmodel").string()));
  std::filesystem::remove_all(folder);
}

// protoc --decode with Apple's schema on what we wrote; runs only with COREML_FORMAT_DIR set.
std::string decode_with(const std::string& include_dir, const std::string& proto,
                        const std::string& file) {
  const std::string command = "protoc --decode=CoreML.Specification.Model -I '" + include_dir +
                              "' '" + include_dir + "/" + proto + "' < '" + file + "' 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "popen failed";
  char buffer[65536];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  return status == 0 ? output : "protoc failed (" + std::to_string(status) + "): " + output;
}

TEST(MlmodelRoundTrip, ApplesSchemaDecodesWhatWeWrite) {
  const char* format_dir = std::getenv("COREML_FORMAT_DIR");
  if (!format_dir || !*format_dir) {
    GTEST_SKIP() << "set COREML_FORMAT_DIR to a copy of apple/coremltools' mlmodel/format "
                    "(outside this repository) to decode our files with Apple's Model.proto";
  }
  if (std::system("protoc --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "protoc not found";
  const auto file = std::filesystem::temp_directory_path() /
                    ("edgetrain-apple-decode-" + std::to_string(::getpid()) + ".mlmodel");
  for (const Model& model : {lenet(), sgd_lenet(), every_field_model(), tensor_kinds_model(),
                             branching_two_input_model(), converter_kinds_model()}) {
    SCOPED_TRACE(model.metadata.short_description);
    write_mlmodel(model, file.string());
    const std::string apple = decode_with(format_dir, "Model.proto", file.string());
    const std::string ours =
        decode_with(EDGETRAIN_SOURCE_DIR "/src", "schema/coreml.proto", file.string());
    ASSERT_EQ(apple.rfind("protoc failed", 0), std::string::npos) << apple.substr(0, 2000);
    // Same names, numbers and types: both schemas print the file identically.
    EXPECT_TRUE(apple == ours) << "Apple's and edgetrain's schemas decode the file differently";
  }
  // The values we wrote, as Apple's schema reads them.
  write_mlmodel(lenet(), file.string());
  const std::string text = decode_with(format_dir, "Model.proto", file.string());
  for (const char* expected : {"specificationVersion: 4\n",
                               "isUpdatable: true\n",
                               "shortDescription: \"MNIST-Trainable\"",
                               "name: \"conv1\"",
                               "name: \"pooling2\"",
                               "name: \"hidden2\"",
                               "name: \"softmax\"",
                               "mode: CHANNEL_LAST",
                               "updateParams {",
                               "name: \"lossLayer\"",
                               "categoricalCrossEntropyLossLayer {",
                               "target: \"output_true\"",
                               "adamOptimizer {",
                               "miniBatchSize {",
                               "values: 128",
                               "epochs {",
                               "shuffle {",
                               "defaultValue: true",
                               "dataType: INT32",
                               "trainingInput {"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected;
  }
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace edgetrain
