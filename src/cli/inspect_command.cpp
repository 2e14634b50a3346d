// `edgetrain inspect`: what a model file holds — metadata, features with their types, a table of
// layers (output shapes from shape inference, parameter counts, updatable), update parameters.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_text.h"
#include "edgetrain/error.h"
#include "edgetrain/io.h"
#include "nn/shapes.h"

namespace edgetrain::cli {
namespace {

using nlohmann::json;

std::string scaler_text(const Model& model, const Feature& input) {
  for (const ImageScaler& s : model.preprocessing) {
    if (!s.feature_name.empty() && s.feature_name != input.name) continue;
    char text[160];
    if (input.image.color_space == ColorSpace::kGrayscale) {
      std::snprintf(text, sizeof text, "scaler: %g * pixel + %g", s.channel_scale, s.gray_bias);
    } else {
      std::snprintf(text, sizeof text, "scaler: %g * pixel + (R %g, G %g, B %g)", s.channel_scale,
                    s.red_bias, s.green_bias, s.blue_bias);
    }
    return text;
  }
  return "";
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

// (label, value) pairs of the optimizer's parameters, in Core ML's names.
std::vector<std::pair<std::string, std::string>> optimizer_fields(const Optimizer& optimizer) {
  if (const Adam* adam = std::get_if<Adam>(&optimizer)) {
    return {{"learningRate", parameter_text(adam->learning_rate)},
            {"miniBatchSize", parameter_text(adam->mini_batch_size)},
            {"beta1", parameter_text(adam->beta1)},
            {"beta2", parameter_text(adam->beta2)},
            {"eps", parameter_text(adam->eps)}};
  }
  const Sgd& sgd = std::get<Sgd>(optimizer);
  return {{"learningRate", parameter_text(sgd.learning_rate)},
          {"miniBatchSize", parameter_text(sgd.mini_batch_size)},
          {"momentum", parameter_text(sgd.momentum)}};
}

struct LayerRow {
  std::string index, name, type, output, shape, parameters, updatable;
};

std::vector<LayerRow> layer_rows(const Model& model) {
  BlobShapes shapes;
  try {
    shapes = infer_shapes(model);
  } catch (const Error&) {
    // Shown as "?": the file was read, but its shapes do not add up.
  }
  std::vector<LayerRow> rows;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    std::string output, shape;
    for (const std::string& name : layer.outputs) {
      auto found = shapes.find(name);
      output += (output.empty() ? "" : ", ") + name;
      shape += (shape.empty() ? "" : ", ") + (found == shapes.end() ? "?" : found->second.text());
    }
    rows.push_back({std::to_string(i), layer.name, layer_text(layer), output, shape,
                    std::to_string(layer_parameter_count(layer)), layer.updatable ? "yes" : ""});
  }
  return rows;
}

json features_json(const Model& model, const std::vector<Feature>& features) {
  json list = json::array();
  for (const Feature& feature : features) {
    json item = {{"name", feature.name}, {"type", feature_type_text(feature)}};
    if (!feature.description.empty()) item["description"] = feature.description;
    if (feature.optional) item["optional"] = true;
    if (feature.type == FeatureType::kImage) {
      const std::string scaler = scaler_text(model, feature);
      if (!scaler.empty()) item["preprocessing"] = scaler;
    }
    list.push_back(item);
  }
  return list;
}

json inspect_json(const std::string& path, const Model& model) {
  const Metadata& m = model.metadata;
  json result = {{"model", path},
                 {"kind", model_kind_text(model.kind)},
                 {"specification_version", m.specification_version},
                 {"updatable", bool(model.update)},
                 {"metadata",
                  {{"short_description", m.short_description},
                   {"author", m.author},
                   {"license", m.license},
                   {"version", m.version_string},
                   {"user_defined", m.user_defined}}},
                 {"inputs", features_json(model, model.inputs)},
                 {"outputs", features_json(model, model.outputs)},
                 {"training_inputs", features_json(model, model.training_inputs)},
                 {"parameters", model.parameter_count()}};
  if (model.kind == ModelKind::kClassifier) {
    result["class_labels"] = model.class_labels.int_labels.empty()
                                 ? json(model.class_labels.string_labels)
                                 : json(model.class_labels.int_labels);
    result["predicted_feature_name"] = m.predicted_feature_name;
    result["predicted_probabilities_name"] = m.predicted_probabilities_name;
  }
  json layers = json::array();
  const std::vector<LayerRow> rows = layer_rows(model);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Layer& layer = model.layers[i];
    layers.push_back({{"index", i},
                      {"name", layer.name},
                      {"type", layer_type_name(layer)},
                      {"description", rows[i].type},
                      {"inputs", layer.inputs},
                      {"outputs", layer.outputs},
                      {"output_shape", rows[i].shape},
                      {"parameters", layer_parameter_count(layer)},
                      {"updatable", layer.updatable},
                      {"quantized", layer.quantized}});
  }
  result["layers"] = layers;
  result["update"] = nullptr;
  if (model.update) {
    const UpdateParameters& update = *model.update;
    json losses = json::array();
    for (const Loss& loss : update.losses) {
      losses.push_back({{"name", loss.name},
                        {"type", loss_type_text(loss.type)},
                        {"input", loss.input},
                        {"target", loss.target}});
    }
    json optimizer = {{"type", std::holds_alternative<Adam>(update.optimizer) ? "Adam" : "SGD"}};
    for (const auto& [name, value] : optimizer_fields(update.optimizer)) optimizer[name] = value;
    result["update"] = {{"losses", losses},
                        {"optimizer", optimizer},
                        {"epochs", parameter_text(update.epochs)},
                        {"shuffle", update.shuffle},
                        {"seed", update.seed ? json(parameter_text(*update.seed)) : json(nullptr)}};
  }
  return result;
}

void print_features(const Model& model, const char* title, const std::vector<Feature>& features) {
  std::printf("%s:%s\n", title, features.empty() ? " none" : "");
  size_t width = 0;
  for (const Feature& feature : features) width = std::max(width, feature.name.size());
  for (const Feature& feature : features) {
    std::string extra = feature.type == FeatureType::kImage ? scaler_text(model, feature) : "";
    if (!feature.description.empty()) extra += (extra.empty() ? "" : "; ") + feature.description;
    std::printf("  %-*s  %s%s%s%s\n", int(width), feature.name.c_str(),
                feature_type_text(feature).c_str(), feature.optional ? " (optional)" : "",
                extra.empty() ? "" : "  -- ", extra.c_str());
  }
}

void print_table(const std::vector<LayerRow>& rows) {
  LayerRow header{"#", "name", "type", "output", "shape", "parameters", "updatable"};
  std::array<size_t, 7> width{};
  auto measure = [&](const LayerRow& row) {
    const std::array<const std::string*, 7> cells = {
        &row.index, &row.name, &row.type, &row.output, &row.shape, &row.parameters, &row.updatable};
    for (size_t c = 0; c < 7; ++c) width[c] = std::max(width[c], cells[c]->size());
  };
  measure(header);
  for (const LayerRow& row : rows) measure(row);
  auto print = [&](const LayerRow& row) {
    size_t capacity = 64;  // every cell is at most its column's width, plus the gaps
    for (size_t w : width) capacity += w;
    std::string line(capacity, '\0');
    line.resize(size_t(std::snprintf(
        line.data(), line.size(), "  %*s  %-*s  %-*s  %-*s  %-*s  %*s  %s", int(width[0]),
        row.index.c_str(), int(width[1]), row.name.c_str(), int(width[2]), row.type.c_str(),
        int(width[3]), row.output.c_str(), int(width[4]), row.shape.c_str(), int(width[5]),
        row.parameters.c_str(), row.updatable.c_str())));
    line.erase(line.find_last_not_of(' ') + 1);
    std::printf("%s\n", line.c_str());
  };
  print(header);
  for (const LayerRow& row : rows) print(row);
}

}  // namespace

int run_inspect(const InspectOptions& options) {
  const Model model = load_model(options.model);
  if (options.json) {
    std::printf("%s\n", inspect_json(options.model, model).dump().c_str());
    return 0;
  }
  const Metadata& m = model.metadata;
  std::printf("%s: %s, specification version %d, %s\n", options.model.c_str(),
              model_kind_text(model.kind), m.specification_version,
              model.update ? "updatable" : "not updatable");
  const std::pair<const char*, const std::string*> fields[] = {
      {"description", &m.short_description},
      {"author", &m.author},
      {"license", &m.license},
      {"version", &m.version_string}};
  for (const auto& [name, value] : fields) {
    if (!value->empty()) std::printf("  %s: %s\n", name, value->c_str());
  }
  for (const auto& [key, value] : m.user_defined) {
    std::printf("  %s = %s\n", key.c_str(), value.c_str());
  }
  print_features(model, "inputs", model.inputs);
  print_features(model, "outputs", model.outputs);
  if (model.update || !model.training_inputs.empty()) {
    print_features(model, "training inputs", model.training_inputs);
  }
  if (model.kind == ModelKind::kClassifier) {
    std::vector<std::string> labels;
    for (size_t k = 0; k < model.class_labels.size(); ++k)
      labels.push_back(class_label_text(model, k));
    std::printf("class labels (%s, %zu): %s\n",
                model.class_labels.int_labels.empty() ? "String" : "Int64", labels.size(),
                join(labels, ", ").c_str());
  }
  std::printf("layers:\n");
  print_table(layer_rows(model));
  size_t updatable = 0;
  for (const Layer& layer : model.layers)
    updatable += layer.updatable ? layer_parameter_count(layer) : 0;
  std::printf("parameters: %zu (%zu updatable)\n", model.parameter_count(), updatable);
  if (!model.update) return 0;
  const UpdateParameters& update = *model.update;
  std::printf("update parameters:\n");
  for (const Loss& loss : update.losses) {
    std::printf("  loss '%s': %s of '%s' against '%s'\n", loss.name.c_str(),
                loss_type_text(loss.type), loss.input.c_str(), loss.target.c_str());
  }
  std::vector<std::string> optimizer;
  for (const auto& [name, value] : optimizer_fields(update.optimizer)) {
    optimizer.push_back(name + " " + value);
  }
  std::printf("  optimizer: %s, %s\n",
              std::holds_alternative<Adam>(update.optimizer) ? "Adam" : "SGD",
              join(optimizer, ", ").c_str());
  std::printf("  epochs: %s\n", parameter_text(update.epochs).c_str());
  std::printf("  shuffle: %s\n", update.shuffle ? "yes" : "no");
  std::printf("  seed: %s\n", update.seed ? parameter_text(*update.seed).c_str() : "not set");
  return 0;
}

}  // namespace edgetrain::cli
