// A model as Core ML converters write them (tests/fixtures/converted_model.json, made by
// tools/converted_model_reference.py): two inputs, a category index and a (3, 4, 5) array, through
// embedding, permute, flatten, concat, inner products and softmax. Read with edgetrain's reader,
// it predicts what PyTorch computes from the same weights.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "edgetrain/coreml.h"
#include "edgetrain/inference.h"
#include "nn/kind_test_helpers.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

using nlohmann::json;

json fixture() {
  std::ifstream file(test_paths::source("tests/fixtures/converted_model.json"));
  return json::parse(file);
}

Model converted_model(const json& f) {
  return parse_mlmodel(json_to_mlmodel(f["model"].dump(), "converted.json"), "converted.mlmodel");
}

TEST(ConvertedModel, TwoInputsEmbeddingPermuteConcatPredictAsPyTorch) {
  const json f = fixture();
  const Model model = converted_model(f);
  ASSERT_EQ(model.inputs.size(), 2u);
  EXPECT_TRUE(validate_coreml(model).ok());
  Predictor predictor(model);
  EXPECT_EQ(predictor.kind(), OutputKind::kClassification);
  ASSERT_EQ(predictor.input_size(), 1u + 3 * 4 * 5) << "both inputs, in the model's order";
  size_t samples = 0;
  for (const json& sample : f["samples"]) {
    std::vector<float> features = sample["category"].get<std::vector<float>>();
    const std::vector<float> array = sample["array"].get<std::vector<float>>();
    features.insert(features.end(), array.begin(), array.end());
    const std::vector<float> expected = sample["probabilities"].get<std::vector<float>>();
    const Prediction prediction = predictor.predict(features);
    ASSERT_EQ(prediction.probabilities.size(), expected.size());
    for (size_t k = 0; k < expected.size(); ++k) {
      EXPECT_NEAR(prediction.probabilities[k], expected[k], 1e-5)
          << "sample " << samples << ", class " << k;
    }
    ++samples;
  }
  EXPECT_EQ(samples, 5u);
  // Written back and read again, it holds the same weights.
  const Model again = parse_mlmodel(serialize_mlmodel(model), "again");
  EXPECT_EQ(again.parameters, model.parameters);
}

TEST(ConvertedModel, RefusesACategoryOutsideTheEmbedding) {
  Predictor predictor(converted_model(fixture()));
  std::vector<float> features(predictor.input_size(), 0.0f);
  features[0] = 7.0f;  // 7 categories: 0 to 6
  EXPECT_EQ(error_of([&] { predictor.predict(features); }),
            "layer 'embedding' (embedding): input 'category': value 7 is not an index: inputDim 7 "
            "allows whole numbers 0 to 6");
}

}  // namespace
}  // namespace edgetrain
