#include "web/model_host.h"

#include <utility>

#include "cli/model_text.h"
#include "edgetrain/error.h"

namespace edgetrain::web {
namespace {

// The per-sample (C, H, W) of the model's first input ((n, 1, 1) for a vector; the last three
// dimensions of a larger rank).
std::array<int, 3> input_shape(const Model& model) {
  if (model.inputs.empty()) throw Error("the model has no input");
  const Shape shape = infer_shapes(model).at(model.inputs[0].name);
  if (shape.rank() < 3) return {int(shape.count()), 1, 1};
  return {shape[shape.rank() - 3], shape[shape.rank() - 2], shape[shape.rank() - 1]};
}

// The only place that asks which layers train (the layer core is being reworked: adapt here).
std::vector<std::string> updatable_layer_names(const Model& model) {
  std::vector<std::string> names;
  for (const Layer& layer : model.layers) {
    if (layer.updatable) names.push_back(layer.name);
  }
  return names;
}

nlohmann::json parameter_json(const DoubleParameter& parameter) {
  nlohmann::json value = {{"default", parameter.default_value}};
  if (parameter.range) value["range"] = *parameter.range;
  return value;
}
nlohmann::json parameter_json(const Int64Parameter& parameter) {
  nlohmann::json value = {{"default", parameter.default_value}};
  if (!parameter.set.empty()) value["set"] = parameter.set;
  if (parameter.range) value["range"] = *parameter.range;
  return value;
}

}  // namespace

ModelSnapshot::ModelSnapshot(Model model, uint64_t version, std::string description)
    : model_(std::move(model)), version_(version), description_(std::move(description)) {
  auto first = std::make_unique<Predictor>(model_);  // validates
  input_size_ = first->input_size();
  output_size_ = first->predict(std::vector<float>(input_size_, 0.0f)).probabilities.size();
  const std::array<int, 3> shape = input_shape(model_);
  if (shape[0] == 1 && shape[1] == shape[2] && shape[1] > 1) digit_field_size_ = shape[1];
  idle_.push_back(std::move(first));
}

ModelSnapshot::~ModelSnapshot() = default;

Prediction ModelSnapshot::predict(const std::vector<float>& features) const {
  if (features.size() != input_size_) {
    throw Error("the model takes " + std::to_string(input_size_) + " input values, got " +
                std::to_string(features.size()));
  }
  std::unique_ptr<Predictor> predictor;
  {
    std::lock_guard<std::mutex> lock(idle_mutex_);
    if (!idle_.empty()) {
      predictor = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!predictor) predictor = std::make_unique<Predictor>(model_);
  Prediction prediction = predictor->predict(features);
  std::lock_guard<std::mutex> lock(idle_mutex_);
  idle_.push_back(std::move(predictor));
  return prediction;
}

ModelHost::ModelHost(std::shared_ptr<const ModelSnapshot> first) : current_(std::move(first)) {}

std::shared_ptr<const ModelSnapshot> ModelHost::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

std::shared_ptr<const ModelSnapshot> ModelHost::publish(const Model& model,
                                                        const std::string& description) {
  // One publisher at a time, so versions only grow; readers wait only for the pointer swap.
  std::lock_guard<std::mutex> serial(publish_mutex_);
  auto snapshot =
      std::make_shared<const ModelSnapshot>(model, current()->version() + 1, description);
  std::lock_guard<std::mutex> lock(mutex_);
  current_ = snapshot;
  return snapshot;
}

nlohmann::json class_label_json(const Model& model, size_t class_index) {
  if (model.kind == ModelKind::kClassifier && model.class_labels.int_labels.empty()) {
    return cli::class_label_text(model, class_index);
  }
  if (model.kind == ModelKind::kClassifier && class_index < model.class_labels.int_labels.size()) {
    return model.class_labels.int_labels[class_index];
  }
  return class_index;
}

nlohmann::json model_info(const ModelSnapshot& snapshot) {
  const Model& model = snapshot.model();
  const Feature& input = model.inputs.at(0);
  const std::array<int, 3> shape = input_shape(model);
  nlohmann::json info = {
      {"version", snapshot.version()},
      {"description", snapshot.description()},
      {"name", model.metadata.short_description},
      {"kind", cli::model_kind_text(model.kind)},
      {"input", {{"name", input.name}, {"type", cli::feature_type_text(input)}, {"shape", shape}}},
      {"input_size", snapshot.input_size()},
      {"digit_field_size", snapshot.digit_field_size()},
      {"parameters", model.parameter_count()},
      {"updatable_layers", updatable_layer_names(model)},
      {"updatable", model.update.has_value()},
  };
  nlohmann::json labels = nlohmann::json::array();
  for (size_t k = 0; k < snapshot.output_size(); ++k) labels.push_back(class_label_json(model, k));
  info["class_labels"] = labels;
  if (model.update) {
    const UpdateParameters& update = *model.update;
    nlohmann::json parameters = {{"epochs", parameter_json(update.epochs)},
                                 {"shuffle", update.shuffle}};
    std::visit(
        [&](const auto& optimizer) {
          using T = std::decay_t<decltype(optimizer)>;
          parameters["optimizer"] = std::is_same_v<T, Adam> ? "adam" : "sgd";
          parameters["learning_rate"] = parameter_json(optimizer.learning_rate);
          parameters["batch_size"] = parameter_json(optimizer.mini_batch_size);
        },
        update.optimizer);
    info["update"] = parameters;
  }
  return info;
}

}  // namespace edgetrain::web
