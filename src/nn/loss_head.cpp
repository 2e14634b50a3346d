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

// The number a class name spells, when it is the canonical spelling of one ("7", not "07" or
// "7.0"); -1 otherwise.
int64_t canonical_number(const std::string& name) {
  if (name.empty() || name.size() > 9 || name.find_first_not_of("0123456789") != std::string::npos ||
      (name[0] == '0' && name != "0")) {
    return -1;
  }
  return std::stoll(name);
}

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
      if (canonical_number(label) >= 0) add(canonical_number(label), k);
    }
    if (k < 12) text += (k ? ", " : "") + name;
  }
  if (labels.size() > 12) text += ", ...";
  // Never empty, so class_index() knows the mapping is on.
  if (class_of_label.empty()) class_of_label.push_back(-1);
}

}  // namespace

int32_t LossHead::class_index(int32_t label) const {
  if (!class_of_data_label_.empty()) {
    return label >= 0 && size_t(label) < class_of_data_label_.size()
               ? class_of_data_label_[size_t(label)]
               : -1;
  }
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
    class_labels_ = &model.class_labels;
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

void LossHead::map_class_names(const std::vector<std::string>& names) {
  class_of_data_label_.assign(names.size(), -1);
  if (class_labels_) {
    // A classifier: each name is one of its class labels (string labels by the name, int labels
    // by the number the name spells).
    for (size_t k = 0; k < names.size(); ++k) {
      for (size_t c = 0; c < class_labels_->size(); ++c) {
        const bool match = class_labels_->int_labels.empty()
                               ? class_labels_->string_labels[c] == names[k]
                               : class_labels_->int_labels[c] == canonical_number(names[k]);
        if (match) {
          class_of_data_label_[k] = int32_t(c);
          break;
        }
      }
      if (class_of_data_label_[k] < 0) {
        throw Error("the data's class \"" + names[k] +
                    "\" is not one of the classifier's class labels (" + class_labels_text_ + ")");
      }
    }
    return;
  }
  // Any other model: names that are numbers are the class index they spell; other names take
  // the index of their place in the (sorted) list.
  const bool numbers = std::all_of(names.begin(), names.end(),
                                   [](const std::string& name) { return canonical_number(name) >= 0; });
  for (size_t k = 0; k < names.size(); ++k) {
    const int64_t index = numbers ? canonical_number(names[k]) : int64_t(k);
    if (index >= classes_) {
      throw Error("the data's class \"" + names[k] + "\" is class " + std::to_string(index) +
                  (numbers ? "" : " (classes are numbered in the order of their names)") +
                  " but '" + loss_input_name_ + "' has " + std::to_string(classes_) +
                  " classes (0.." + std::to_string(classes_ - 1) + ")");
    }
    class_of_data_label_[k] = int32_t(index);
  }
}

void LossHead::check_data(const BatchProvider& data) {
  if (data.count() == 0) throw Error("the data has no samples");
  if (data.feature_size() != input_size_) {
    throw Error("the data has " + std::to_string(data.feature_size()) +
                " values per sample but the model's input " + input_names_ + " takes " +
                std::to_string(input_size_));
  }
  const size_t targets = data.target_size();
  if (targets > 0 && type_ == LossType::kCategoricalCrossEntropy) {
    throw Error("the data has real-valued targets (" + std::to_string(targets) +
                " per sample) but the model's loss is categorical cross-entropy on '" +
                loss_input_name_ + "', which needs class labels");
  }
  if (targets > 0 && targets != size_t(classes_)) {
    throw Error("the data's targets have " + std::to_string(targets) + " value" +
                (targets == 1 ? "" : "s") + " per sample but the model's loss reads '" +
                loss_input_name_ + "', which has " + std::to_string(classes_));
  }
  class_of_data_label_.clear();
  if (targets == 0) {
    const std::vector<std::string> names = data.class_names();
    if (!names.empty()) map_class_names(names);
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
        throw Error(data.sample_name(i) + ": " + e.what());
      }
    }
  }
  if (type_ != LossType::kCategoricalCrossEntropy) return;
  for (size_t i = 0; i < data.count(); ++i) {
    const int32_t label = data.label(i);
    if (!class_of_data_label_.empty()) {
      if (class_index(label) < 0) {
        throw Error(data.sample_name(i) + " has label " + std::to_string(label) +
                    ", which names no class of the data");
      }
      continue;
    }
    if (!class_of_label_.empty()) {
      if (class_index(label) < 0) {
        throw Error(data.sample_name(i) + " has label " + std::to_string(label) +
                    ", which is not one of the classifier's class labels (" + class_labels_text_ +
                    ")");
      }
      continue;
    }
    if (label < 0 || label >= classes_) {
      throw Error(data.sample_name(i) + " has label " + std::to_string(label) + " but '" +
                  loss_input_name_ + "' has " + std::to_string(classes_) + " classes (labels 0.." +
                  std::to_string(classes_ - 1) + ")");
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
