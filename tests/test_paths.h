// Where tests find the repository, the shared data beside it and the CLI binary.
#pragma once

#include <string>

namespace edgetrain::test_paths {

inline std::string source(const std::string& relative) {
  return std::string(EDGETRAIN_SOURCE_DIR) + "/" + relative;
}
inline std::string mnist(const std::string& file) {
  return std::string(EDGETRAIN_SOURCE_DIR) + "/../shared/data/mnist/" + file;
}
inline std::string mnist_dir() { return std::string(EDGETRAIN_SOURCE_DIR) + "/../shared/data/mnist"; }
inline std::string cli() { return EDGETRAIN_CLI_PATH; }

}  // namespace edgetrain::test_paths
