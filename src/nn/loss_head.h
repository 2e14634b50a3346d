// The end of the network the loss reads: loads a batch (features and targets) into a workspace,
// computes the loss and accuracy, and seeds the gradients backward starts from. Shared by the update
// task and the evaluator, so both read the data and score it the same way.
#pragma once

#include <cstdint>
#include <vector>

#include "edgetrain/data.h"
#include "edgetrain/model.h"
#include "nn/network.h"

namespace edgetrain {

class LossHead {
 public:
  // Uses the model's loss when it is updatable, else cross-entropy on its first output. Keeps a
  // reference to the network (planned for training when the loss is to seed gradients).
  LossHead(const Model& model, const Network& network);

  struct Scratch {
    std::vector<int32_t> labels;  // (capacity)
    std::vector<float> targets;   // (capacity, size of the loss input) for mean squared error
    std::vector<float> features;  // one sample, before input scaling
  };
  Scratch make_scratch(int capacity) const;
  // Throws Error unless every sample fits: feature size and labels within the class count.
  void check_data(const BatchProvider& data) const;
  void load_batch(Workspace& ws, Scratch& scratch, const BatchProvider& data,
                  const size_t* indices, int n) const;

  struct Outcome {
    double loss = 0;     // this part's share of the mean over `scale_count` samples
    size_t correct = 0;  // samples whose arg-max matches the label
  };
  // Loss and accuracy of the first n samples, the loss divided by scale_count.
  Outcome score(Workspace& ws, const Scratch& scratch, int n, int scale_count) const;
  // The same, and seeds the gradient for Network::backward (grads must be zeroed first).
  Outcome loss_and_seed(Workspace& ws, const Scratch& scratch, int n, int scale_count) const;
  int classes() const { return classes_; }
  int loss_blob() const { return loss_blob_; }
  LossType type() const { return type_; }

 private:
  const Network& network_;
  LossType type_ = LossType::kCategoricalCrossEntropy;
  size_t input_size_ = 0;
  std::string input_names_;  // for messages
  int loss_blob_ = 0;     // the blob the loss reads
  int fused_blob_ = -1;   // the softmax's input, when fused
  int classes_ = 0;       // size of the loss blob per sample
  std::string loss_input_name_;
  // Classifiers: dataset label (a digit d) → class index k, where class label k is d (int labels)
  // or std::to_string(d) (string labels); -1 where no class has that label. Empty otherwise: the
  // dataset label is the class index itself, as in the seed.
  std::vector<int32_t> class_of_label_;
  std::string class_labels_text_;  // for messages
  int32_t class_index(int32_t label) const;
};

}  // namespace edgetrain
