// What fuzzing the Core ML reader found (fuzz/fuzz_mlmodel.cpp), each input fed byte for byte, and
// the committed seeds that fuzzing starts from: they must stay valid models as the format evolves
// (regenerate them with make_fuzz_corpus, see tools/make_fuzz_corpus.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "mlmodel_test_util.h"

namespace edgetrain {
namespace {

TEST(FuzzSeeds, MlmodelSeedsLoadValidateAndPredict) {
  const std::filesystem::path folder = EDGETRAIN_SOURCE_DIR "/fuzz/corpus/fuzz_mlmodel";
  int seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    SCOPED_TRACE(entry.path().string());
    const Model model = read_mlmodel(entry.path().string());
    EXPECT_TRUE(validate_coreml(model).ok());
    Predictor predictor(model);
    const std::vector<float> zeros(predictor.input_size(), 0.0f);
    const Prediction prediction = predictor.predict(zeros.data());
    ASSERT_FALSE(prediction.outputs.empty());
    EXPECT_FALSE(prediction.outputs[0].values.empty());
    ++seeds;
  }
  EXPECT_GE(seeds, 5);
}

// Bytes 08 00 (specificationVersion = 0, nothing else) convert to the JSON text "{}", which
// converted back gave a zero-byte .mlmodel that mlmodel_to_json then refused as an empty file: the
// JSON form has to convert back to bytes that convert to JSON again, or be refused in the first
// place (fuzz_mlmodel crash 053d8d6c).
TEST(FuzzRegression, JsonOfBytesHoldingNoModelConvertsBackOrIsRefused) {
  const std::string bytes("\x08\x00", 2);
  std::string json;
  try {
    json = mlmodel_to_json(bytes, "fuzz.mlmodel");
  } catch (const Error&) {
    return;  // refusing bytes that hold no model is fine
  }
  try {
    EXPECT_EQ(mlmodel_to_json(json_to_mlmodel(json, "fuzz.json"), "again.mlmodel"), json);
  } catch (const Error& e) {
    ADD_FAILURE() << "the JSON " << json
                  << " that mlmodel_to_json made does not convert back: " << e.what();
  }
}

}  // namespace
}  // namespace edgetrain
