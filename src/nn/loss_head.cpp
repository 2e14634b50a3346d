#include "nn/loss_head.h"

#include <algorithm>

#include "edgetrain/error.h"
#include "nn/shapes.h"
#include "ops/ops.h"

namespace edgetrain {
namespace {

int arg_max(const float* values, int count) {
  return int(std::max_element(values, values + count) - values);
}

// Dataset labels are small non-negative integers (digits); a class label that is not one is simply
// never matched.
constexpr int64_t kMaxDatasetLabel = 1 << 16;

void map_class_labels(const ClassLabels& labels, std::vector<int32_t>& class_of_label,
                      std::string& text) {
  auto add = [&](int64_t label, size_t k) {
    if (label < 0 || label >= kMaxDatasetLabel) return;
    if (size_t(label) >= class_of_label.size()) class_of_label.resize(size_t(label) + 1, -1);
    if (class_of_label[size_t(label)] < 0) class_of_label[size_t(label)] = int32_t(k);
  };
  for (size_t k = 0; k < labels.size(); ++k) {
    std::string name;
    if (!labels.int_labels.empty()) {
      add(labels.int_labels[k], k);
      name = std::to_string(labels.int_labels[k]);
    } else {
      const std::string& label = labels.string_labels[k];
      name = "\"" + label + "\"";
      // Only the canonical spelling of a number: "7" matches digit 7, "07" and "7.0" do not.
      if (!label.empty() && label.size() <= 5 &&
          label.find_first_not_of("0123456789") == std::string::npos &&
          (label == "0" || label[0] != '0')) {
        add(std::stoll(label), k);
      }
    }
    if (k < 12) text += (k ? ", " : "") + name;
  }
  if (labels.size() > 12) text += ", ...";
  // Never empty, so class_index() knows the mapping is on.
  if (class_of_label.empty()) class_of_label.push_back(-1);
}

}  // namespace

int32_t LossHead::class_index(int32_t label) const {
  if (class_of_label_.empty()) return label;
  if (label < 0 || size_t(label) >= class_of_label_.size()) return -1;
  return class_of_label_[size_t(label)];
}

LossHead::LossHead(const Model& model, const Network& network) : network_(network) {
  input_size_ = network.input_size();
  for (const Feature& input : model.inputs) {
    input_names_ += (input_names_.empty() ? "'" : ", '") + input.name + "'";
  }
  if (model.update && !model.update->losses.empty()) {
    const Loss& loss = model.update->losses[0];
    type_ = loss.type;
    loss_input_name_ = loss.input;
  } else {
    // Scored as it is meant: a regressor by mean squared error, anything else by cross-entropy.
    if (model.kind == ModelKind::kRegressor) type_ = LossType::kMeanSquaredError;
    loss_input_name_ = network_output_name(model);
  }
  loss_blob_ = network.blob(loss_input_name_);
  if (model.kind == ModelKind::kClassifier && model.class_labels.size() > 0) {
    map_class_labels(model.class_labels, class_of_label_, class_labels_text_);
  }
  classes_ = int(network.blob_size(loss_blob_));
  if (network.loss_blob() == loss_blob_ && network.softmax_fused_into_loss()) {
    fused_blob_ = network.loss_seed_blob();
  }
}

LossHead::Scratch LossHead::make_scratch(int capacity) const {
  Scratch scratch;
  scratch.labels.resize(size_t(capacity));
  if (type_ == LossType::kMeanSquaredError) scratch.targets.resize(size_t(capacity) * classes_);
  return scratch;
}

void LossHead::check_data(const BatchProvider& data) const {
  if (data.count() == 0) throw Error("the data has no samples");
  if (data.feature_size() != input_size_) {
    throw Error("the data has " + std::to_string(data.feature_size()) +
                " values per sample but the model's input " + input_names_ + " takes " +
                std::to_string(input_size_));
  }
  if (network_.checks_features()) {
    // Values the network would have to give a defined but meaningless result for (an index
    // outside an embedding's vocabulary) are refused here, before training or scoring starts.
    std::vector<float> features(data.feature_size());
    for (size_t i = 0; i < data.count(); ++i) {
      data.copy_features(i, features.data());
      try {
        network_.check_features(features.data());
      } catch (const Error& e) {
        throw Error("sample " + std::to_string(i) + ": " + e.what());
      }
    }
  }
  if (type_ != LossType::kCategoricalCrossEntropy) return;
  for (size_t i = 0; i < data.count(); ++i) {
    int32_t label = data.label(i);
    if (!class_of_label_.empty()) {
      if (class_index(label) < 0) {
        throw Error("sample " + std::to_string(i) + " has label " + std::to_string(label) +
                    ", which is not one of the classifier's class labels (" + class_labels_text_ +
                    ")");
      }
      continue;
    }
    if (label < 0 || label >= classes_) {
      throw Error("sample " + std::to_string(i) + " has label " + std::to_string(label) +
                  " but '" + loss_input_name_ + "' has " + std::to_string(classes_) +
                  " classes (labels 0.." + std::to_string(classes_ - 1) + ")");
    }
  }
}

void LossHead::load_batch(Workspace& ws, Scratch& scratch, const BatchProvider& data,
                          const size_t* indices, int n) const {
  const size_t features = data.feature_size();
  // Copied through the scratch row so the network can apply its input scaling.
  if (scratch.features.size() < features) scratch.features.resize(features);
  for (int i = 0; i < n; ++i) {
    data.copy_features(indices[i], scratch.features.data());
    network_.load_input(ws, i, scratch.features.data());
    scratch.labels[size_t(i)] = class_index(data.label(indices[i]));
    if (type_ == LossType::kMeanSquaredError) {
      data.copy_target(indices[i], scratch.targets.data() + size_t(i) * classes_, size_t(classes_));
    }
  }
}

LossHead::Outcome LossHead::score(Workspace& ws, const Scratch& scratch, int n,
                                  int scale_count) const {
  const float* output = ws.value(loss_blob_);
  Outcome outcome;
  if (type_ == LossType::kCategoricalCrossEntropy) {
    outcome.loss = ops::cross_entropy_forward(output, scratch.labels.data(), n, classes_, scale_count);
  } else {
    outcome.loss = ops::mse_forward(output, scratch.targets.data(), n, classes_, scale_count);
  }
  for (int i = 0; i < n; ++i) {
    if (arg_max(output + size_t(i) * classes_, classes_) == scratch.labels[size_t(i)]) {
      ++outcome.correct;
    }
  }
  return outcome;
}

LossHead::Outcome LossHead::loss_and_seed(Workspace& ws, const Scratch& scratch, int n,
                                          int scale_count) const {
  Outcome outcome = score(ws, scratch, n, scale_count);
  const float* output = ws.value(loss_blob_);
  if (type_ == LossType::kMeanSquaredError) {
    ops::mse_backward(ws.grad(loss_blob_), output, scratch.targets.data(), n, classes_, scale_count);
  } else if (fused_blob_ >= 0) {
    ops::softmax_cross_entropy_backward(ws.grad(fused_blob_), output, scratch.labels.data(), n,
                                        classes_, scale_count);
  } else {
    ops::cross_entropy_backward(ws.grad(loss_blob_), output, scratch.labels.data(), n, classes_,
                                scale_count);
  }
  return outcome;
}

}  // namespace edgetrain
