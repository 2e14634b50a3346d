/**
 * @file coreml.h
 * @brief Core ML model files (.mlmodel, specification 1+; updatable models need 4+).
 *
 * Reading, writing, a lossless JSON text form, Core ML's validation rules for updatable networks,
 * and turning a model made elsewhere into an updatable one (what coremltools' make_updatable does).
 */
#pragma once

#include <string>
#include <vector>

#include "edgetrain/model.h"

namespace edgetrain {

/**
 * Reads a .mlmodel file. Every byte is untrusted: a truncated or corrupt file, an unsupported layer
 * (named with its type), or sizes the file cannot back throw Error naming the file and the field.
 */
Model read_mlmodel(const std::string& path);

/**
 * Parses the bytes of a .mlmodel, as read_mlmodel() does.
 * @param bytes       the file's contents
 * @param source_name names the bytes in error messages (a path, "upload", ...)
 */
Model parse_mlmodel(const std::string& bytes, const std::string& source_name);

/**
 * Writes a .mlmodel atomically. Refuses (Error listing the failures) an updatable model that fails
 * validate_coreml(). Deterministic: the same model always gives the same bytes.
 */
void write_mlmodel(const Model& model, const std::string& path);

/** The bytes write_mlmodel() would write. */
std::string serialize_mlmodel(const Model& model);

/**
 * The JSON text form of a .mlmodel (protobuf's JSON mapping of CoreML.Specification.Model):
 * lossless both ways for every field the schema knows.
 * @param mlmodel_bytes the .mlmodel's bytes
 * @param source_name   names them in error messages
 */
std::string mlmodel_to_json(const std::string& mlmodel_bytes, const std::string& source_name);

/**
 * The .mlmodel bytes of a JSON text form written by mlmodel_to_json() (or by hand); parse them with
 * parse_mlmodel().
 * @param json_text   the JSON text
 * @param source_name names it in error messages
 */
std::string json_to_mlmodel(const std::string& json_text, const std::string& source_name);

/** What validate_coreml() found. */
struct ValidationReport {
  std::vector<std::string> errors;    ///< Rules Core ML enforces; each names the layer or field.
  /** What the file asks that nothing will do (a layer marked updatable in a model that is not). */
  std::vector<std::string> warnings;
  /** True when there is no error (warnings allowed). */
  bool ok() const { return errors.empty(); }
};

/**
 * Core ML's rules for (updatable) neural networks. A non-updatable model only gets the structural
 * checks.
 */
ValidationReport validate_coreml(const Model& model);

/** What make_updatable() changes. */
struct MakeUpdatableOptions {
  std::vector<std::string> layers;  ///< Convolution / inner-product layers to make updatable.
  LossType loss = LossType::kCategoricalCrossEntropy;  ///< The training loss.
  OptimizerKind optimizer = OptimizerKind::kAdam;      ///< The optimizer: Adam or SGD.
  double learning_rate = 1e-3;                         ///< The optimizer's default learning rate.
  int64_t batch_size = 32;                             ///< The default mini-batch size.
  int64_t epochs = 10;                                 ///< The default number of epochs.
  double momentum = 0.0;                               ///< SGD's momentum.
  std::string target_name;  ///< The target training input; default "<loss input>_true".
  /**
   * The blob the loss reads; default: the network's output (a classifier's probabilities). For
   * cross-entropy it must be a softmax layer's output.
   */
  std::string loss_input;
  std::string loss_name = "lossLayer";  ///< The loss layer's name.
};

/**
 * Returns an updatable copy: specification version >= 4, the layers and their weights marked
 * updatable, the loss with its target training input, the optimizer and epochs, shuffle on.
 * The target defaults to a classifier's class label (Int64 or String, as its labels), else
 * "<loss input>_true": Int32 [1] for cross-entropy, the loss input's shape for mean squared error.
 * Training inputs: the model's inputs and the target. Throws Error naming an unknown layer, a layer
 * that is neither convolution nor inner product, quantised weights, or a cross-entropy input that
 * no softmax produces.
 */
Model make_updatable(const Model& model, const MakeUpdatableOptions& options);

/**
 * Turns a network whose output is a probability vector into a neuralNetworkClassifier: outputs
 * become the class label `label_name` (Int64 or String, as the labels) and the probabilities
 * dictionary (the network's output blob, keyed by label); an updatable model's cross-entropy target
 * becomes that class label. Throws Error when the label count differs from the output size.
 */
Model as_classifier(Model model, ClassLabels labels, const std::string& label_name = "classLabel");

}  // namespace edgetrain
