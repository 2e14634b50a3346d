// The `edgetrain` subcommands. Each returns the process exit code; errors are thrown as
// edgetrain::Error and turned into exit code 1 by main.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/datasets.h"

namespace edgetrain::cli {

struct TrainOptions {
  DataRequest data;
  int64_t epochs = 10;
  int64_t batch_size = 128;
  double learning_rate = 1e-3;
  uint64_t seed = 42;
  int threads = 0;
  size_t limit = 0;  // 0: all training images
  std::string output;
  bool json = false;
  bool quiet = false;
};
int run_train(const TrainOptions& options);

struct EvaluateOptions {
  std::string model;
  DataRequest data;
  int threads = 0;
  bool json = false;
};
int run_evaluate(const EvaluateOptions& options);

struct PredictOptions {
  std::string model;
  std::vector<std::string> inputs;  // CSV files or IDX image files
  size_t top = 3;
  size_t limit = 0;  // at most this many predictions per input file (0: all)
  bool json = false;
};
int run_predict(const PredictOptions& options);

struct FetchDataOptions {
  std::string dataset = "mnist";
  std::string mirror;
  std::string data_dir = "data/mnist";
};
int run_fetch_data(const FetchDataOptions& options);

}  // namespace edgetrain::cli
