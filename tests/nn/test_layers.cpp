// One test for every layer kind, as dlib's test_layer: each case of tests/fixtures/layers/*.json
// (made by tools/layer_reference*.py with PyTorch) is one Core ML layer with seeded inputs and the
// outputs PyTorch computes. The layer is read through edgetrain's own Core ML reader, its shapes
// inferred, its forward compared with PyTorch's, and its op's backward compared with central
// finite differences over every float input and trainable parameter. Every kind in the registry
// must have cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/rng.h"
#include "edgetrain/coreml.h"
#include "nn/layer_kind.h"
#include "nn/network.h"
#include "nn/shapes.h"
#include "test_paths.h"

namespace edgetrain {
namespace {

using nlohmann::json;
constexpr int kSamples = 2;

struct Fixture {
  std::string file;
  json data;
};

std::vector<Fixture> fixtures() {
  std::vector<Fixture> all;
  const std::filesystem::path folder = test_paths::source("tests/fixtures/layers");
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream file(entry.path());
    all.push_back({entry.path().filename().string(), json::parse(file)});
  }
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.file < b.file; });
  return all;
}

json array_feature(const std::string& name, const json& shape) {
  return {{"name", name},
          {"type", {{"multiArrayType", {{"shape", shape}, {"dataType", "FLOAT32"}}}}}};
}

// A model of the one layer, through the Core ML JSON form and the .mlmodel reader.
Model model_of(const json& c) {
  json model = {{"specificationVersion", 4}};
  for (const json& input : c["inputs"]) {
    model["description"]["input"].push_back(array_feature(input["name"], input["shape"]));
  }
  for (const json& output : c["outputs"]) {
    model["description"]["output"].push_back(array_feature(output["name"], output["shape"]));
  }
  model["neuralNetwork"]["layers"] = json::array({c["layer"]});
  if (c["exact_mapping"].get<bool>()) {
    model["neuralNetwork"]["arrayInputShapeMapping"] = "EXACT_ARRAY_MAPPING";
  }
  const std::string name = c["name"];
  return parse_mlmodel(json_to_mlmodel(model.dump(), name), name);
}

std::vector<float> values_of(const json& item) { return item["values"].get<std::vector<float>>(); }

// The layer's op with every buffer it reads and writes, for kSamples samples.
struct OpRun {
  const Model& model;
  std::unique_ptr<Op> op;
  std::vector<Shape> in_shapes, out_shapes;
  std::vector<std::vector<float>> in, out, din, dout;
  std::vector<float> dparameters, scratch;
  std::vector<uint8_t> saved;

  OpRun(const Model& m, const Mode mode) : model(m) {
    const Layer& layer = model.layers[0];
    const BlobShapes shapes = infer_shapes(model);
    for (const std::string& name : layer.inputs) in_shapes.push_back(shapes.at(name));
    for (const std::string& name : layer.outputs) out_shapes.push_back(shapes.at(name));
    op = layer_kind(layer).compile({model, layer, in_shapes, out_shapes, true});
    for (const Shape& s : in_shapes) {
      in.emplace_back(size_t(s.count()) * kSamples);
      din.emplace_back(size_t(s.count()) * kSamples);
    }
    for (const Shape& s : out_shapes) {
      out.emplace_back(size_t(s.count()) * kSamples);
      dout.emplace_back(size_t(s.count()) * kSamples);
    }
    dparameters.assign(model.parameters.size(), 0.0f);
    scratch.resize(op->scratch_floats());
    saved.resize(op->saved_bytes_per_sample() * kSamples);
    mode_ = mode;
  }
  OpArgs args(bool with_gradients) {
    OpArgs a;
    a.n = kSamples;
    a.mode = mode_;
    for (auto& v : in) a.in.push_back(v.data());
    for (auto& v : out) a.out.push_back(v.data());
    for (auto& v : din) a.din.push_back(with_gradients ? v.data() : nullptr);
    for (auto& v : dout) a.dout.push_back(v.data());
    a.parameters = model.parameters.data();
    a.dparameters = with_gradients ? dparameters.data() : nullptr;
    a.scratch = scratch.data();
    a.saved = saved.data();
    return a;
  }
  void forward() { op->forward(args(false)); }
  // Σ out · weights, in double.
  double loss(const std::vector<std::vector<float>>& weights) {
    forward();
    double sum = 0;
    for (size_t o = 0; o < out.size(); ++o) {
      for (size_t i = 0; i < out[o].size(); ++i) sum += double(out[o][i]) * weights[o][i];
    }
    return sum;
  }
  Mode mode_ = Mode::kInference;
};

// Central differences with a kink test: where the two one-sided differences disagree, the step
// crossed a kink (ReLU at 0, a max-pool tie) and the element is skipped.
struct GradientReport {
  size_t checked = 0, skipped = 0, failed = 0;
  std::string failures;
};

void check_element(const char* what, size_t index, float& x, float analytic,
                   const std::function<double()>& loss, double base, GradientReport& report) {
  const float step = 1e-2f;
  const float saved = x;
  x = saved + step;
  const double plus = loss();
  x = saved - step;
  const double minus = loss();
  x = saved;
  const double right = (plus - base) / step, left = (base - minus) / step;
  const double numeric = (plus - minus) / (2.0 * step);
  const double bound = 2e-3 + 1e-2 * std::max(std::fabs(numeric), std::fabs(double(analytic)));
  if (std::fabs(right - left) > 2 * bound) {
    ++report.skipped;
    return;
  }
  ++report.checked;
  if (!(std::fabs(numeric - analytic) <= bound) && ++report.failed <= 8) {
    report.failures += "\n  " + std::string(what) + "[" + std::to_string(index) + "]: analytic " +
                       std::to_string(analytic) + ", numeric " + std::to_string(numeric);
  }
}

// Within 1e-5 + 1e-4 relative of PyTorch; prints the first differences.
::testing::AssertionResult ops_close(const std::vector<float>& actual,
                                     const std::vector<float>& expected) {
  size_t failed = 0;
  double worst = 0;
  std::string first;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double difference = std::fabs(double(actual[i]) - expected[i]);
    worst = std::max(worst, difference);
    if (!(difference <= 1e-5 + 1e-4 * std::fabs(expected[i])) && ++failed <= 5) {
      first += "\n  [" + std::to_string(i) + "]: " + std::to_string(actual[i]) + ", PyTorch " +
               std::to_string(expected[i]);
    }
  }
  if (failed == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << failed << " of " << expected.size()
                                       << " values differ, max difference " << worst << first;
}

class Layers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { all_ = new std::vector<Fixture>(fixtures()); }
  static void TearDownTestSuite() { delete all_; }
  static std::vector<Fixture>* all_;
};
std::vector<Fixture>* Layers::all_ = nullptr;

TEST_F(Layers, EveryKindHasCasesAndEveryDifferentiableKindAGradientCase) {
  std::set<std::string> covered, with_gradient;
  for (const Fixture& fixture : *all_) {
    for (const json& c : fixture.data["cases"]) {
      const Model model = model_of(c);
      covered.insert(layer_type_name(model.layers[0]));
      if (c["gradient"].get<bool>()) with_gradient.insert(layer_type_name(model.layers[0]));
    }
  }
  for (const LayerKind* kind : all_layer_kinds()) {
    EXPECT_TRUE(covered.count(kind->name())) << kind->name() << " has no case";
    Layer probe;
    probe.params = params_for_field(kind->coreml_field());
    if (kind->differentiable(probe)) {
      EXPECT_TRUE(with_gradient.count(kind->name())) << kind->name() << " has no gradient case";
    }
  }
}

TEST_F(Layers, ForwardMatchesPyTorch) {
  size_t cases = 0;
  for (const Fixture& fixture : *all_) {
    for (const json& c : fixture.data["cases"]) {
      SCOPED_TRACE(fixture.file + ": " + c["name"].get<std::string>());
      const Model model = model_of(c);
      const BlobShapes shapes = infer_shapes(model);
      for (const json& output : c["outputs"]) {
        EXPECT_EQ(shapes.at(output["name"]).dims(), output["shape"].get<std::vector<int64_t>>())
            << "inferred shape of '" << output["name"].get<std::string>() << "'";
      }
      // Training-mode cases (batch statistics) run the op alone, both samples as one batch.
      if (c.value("mode", "inference") == "training") {
        OpRun run(model, Mode::kTraining);
        for (size_t i = 0; i < run.in.size(); ++i) run.in[i] = values_of(c["inputs"][i]);
        run.forward();
        for (size_t o = 0; o < run.out.size(); ++o) {
          EXPECT_TRUE(ops_close(run.out[o], values_of(c["outputs"][o])));
        }
        ++cases;
        continue;
      }
      const Network network(model);
      Workspace ws = network.make_workspace(kSamples);
      std::vector<std::vector<float>> inputs;
      for (const json& input : c["inputs"]) inputs.push_back(values_of(input));
      for (int i = 0; i < kSamples; ++i) {
        std::vector<float> features;
        for (const auto& values : inputs) {
          const size_t size = values.size() / kSamples;
          features.insert(features.end(), values.begin() + long(i * size),
                          values.begin() + long((i + 1) * size));
        }
        network.load_input(ws, i, features.data());
      }
      network.forward(ws, model, kSamples);
      for (const json& output : c["outputs"]) {
        const std::vector<float> expected = values_of(output);
        const float* actual = ws.value(network.blob(output["name"]));
        EXPECT_TRUE(ops_close(std::vector<float>(actual, actual + expected.size()), expected))
            << "output '" << output["name"].get<std::string>() << "'";
      }
      ++cases;
    }
  }
  EXPECT_GT(cases, 0u);
}

TEST_F(Layers, WritingAndReadingBackKeepsEveryLayer) {
  for (const Fixture& fixture : *all_) {
    for (const json& c : fixture.data["cases"]) {
      SCOPED_TRACE(fixture.file + ": " + c["name"].get<std::string>());
      const Model model = model_of(c);
      const Model back = parse_mlmodel(serialize_mlmodel(model), "written");
      const Layer &before = model.layers[0], &after = back.layers[0];
      EXPECT_TRUE(after.params == before.params) << "the layer's fields changed";
      EXPECT_EQ(after.inputs, before.inputs);
      ASSERT_EQ(after.parameters.size(), before.parameters.size());
      for (size_t p = 0; p < before.parameters.size(); ++p) {
        EXPECT_EQ(after.parameters[p].name, before.parameters[p].name);
        EXPECT_EQ(after.parameters[p].shape, before.parameters[p].shape);
        EXPECT_EQ(after.parameters[p].role, before.parameters[p].role);
      }
      EXPECT_EQ(back.parameters, model.parameters);
    }
  }
}

TEST_F(Layers, BackwardMatchesFiniteDifferences) {
  for (const Fixture& fixture : *all_) {
    for (const json& c : fixture.data["cases"]) {
      if (!c["gradient"].get<bool>()) continue;
      SCOPED_TRACE(fixture.file + ": " + c["name"].get<std::string>());
      Model model = model_of(c);
      OpRun run(model, c.value("mode", "inference") == "training" ? Mode::kTraining
                                                                   : Mode::kInference);
      for (size_t i = 0; i < run.in.size(); ++i) run.in[i] = values_of(c["inputs"][i]);
      Rng rng(7);
      std::vector<std::vector<float>> weights;
      for (const auto& o : run.out) {
        weights.emplace_back(o.size());
        for (float& w : weights.back()) w = float(2.0 * rng.uniform() - 1.0);
      }
      run.forward();
      run.dout = weights;
      run.op->backward(run.args(true));
      const std::vector<std::vector<float>> din = run.din;
      const std::vector<float> dparameters = run.dparameters;
      auto loss = [&] { return run.loss(weights); };
      const double base = loss();
      GradientReport report;
      for (size_t i = 0; i < run.in.size(); ++i) {
        if (c["inputs"][i]["indices"].get<bool>()) continue;
        for (size_t k = 0; k < run.in[i].size(); ++k) {
          check_element("input", k, run.in[i][k], din[i][k], loss, base, report);
        }
      }
      for (const LayerParameter& parameter : model.layers[0].parameters) {
        if (parameter.role != ParameterRole::kTrainable) continue;
        for (size_t k = 0; k < parameter.slice.size; ++k) {
          const size_t at = parameter.slice.offset + k;
          check_element(parameter.name.c_str(), k, model.parameters[at], dparameters[at], loss,
                        base, report);
        }
      }
      EXPECT_EQ(report.failed, 0u) << report.failures;
      EXPECT_GT(report.checked, 3 * report.skipped) << "most elements must be checked";
    }
  }
}

}  // namespace
}  // namespace edgetrain
