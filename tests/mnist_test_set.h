// MNIST's test set from ../shared/data/mnist, read once per test process (pixels as bytes).
#pragma once

#include "edgetrain/data.h"
#include "test_paths.h"

namespace edgetrain::test_data {

inline const Dataset& mnist_test_set() {
  static const Dataset data = read_idx(test_paths::mnist("t10k-images-idx3-ubyte.gz"),
                                       test_paths::mnist("t10k-labels-idx1-ubyte.gz"));
  return data;
}

}  // namespace edgetrain::test_data
