// What every built-in network for 28x28 grayscale images in 10 classes declares around its
// layers (the seed's LeNet, small_resnet(), the FedAvg paper's CNN and 2NN): the image input
// [1, 28, 28], the probabilities output [10], cross-entropy against `output_true`, shuffling, and
// the caller's optimizer, epochs and initial weights.
#pragma once

#include <string>

#include "edgetrain/model.h"

namespace edgetrain {

ModelBuilder digit_classifier_frame(const std::string& description, const std::string& name,
                                    Optimizer optimizer, Int64Parameter epochs,
                                    Initializer initializer, uint64_t seed);

}  // namespace edgetrain
