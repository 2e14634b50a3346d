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
  std::string model;        // an updatable .mlmodel to train instead of the seed's LeNet
  bool classifier = false;  // the LeNet as a neuralNetworkClassifier with labels 0-9
  int64_t epochs = 10;
  int64_t batch_size = 128;
  double learning_rate = 1e-3;
  uint64_t seed = 1;  // lenet()'s default (see LenetOptions)
  // Given on the command line: with --model only these override the file's update parameters.
  bool epochs_set = false, batch_size_set = false, learning_rate_set = false, seed_set = false;
  int threads = 0;
  std::string precision = "float32";  // --precision float32 | bf16 (UpdateConfig::precision)
  size_t limit = 0;  // 0: all training images
  std::string output;
  // Crash-safe checkpoints (see UpdateConfig): where, how often, and the run to resume.
  std::string checkpoint;
  bool glorot = true;  // --init: Glorot-uniform (default) or He-uniform initial LeNet weights
  std::string checkpoint_every;  // "N" mini-batches or "Ns" seconds
  std::string resume;
  bool json = false;
  bool quiet = false;
  // ---- Training options beyond Core ML (edgetrain/train.h TrainingOptions; issue #11) ----
  double validation_split = 0;      // --validation-split
  int64_t early_stopping = 0;       // --early-stopping PATIENCE (epochs); 0: off
  std::optional<double> min_delta;  // --min-delta, for early stopping and plateau reduction
  bool keep_last_weights = false;   // --keep-last-weights: early stopping does not restore the best
  std::string reduce_on_plateau;    // --reduce-on-plateau PATIENCE[:FACTOR[:MIN_RATE]]
  std::string schedule;             // --schedule step:EVERY:FACTOR | cosine[:MIN_RATE]
  double weight_decay = 0;          // --weight-decay
  std::string augment;              // --augment shift=N,rotate=DEGREES,flip
  // ---- Built-in networks (--preset) ----
  std::string preset = "lenet";  // lenet | small-resnet
};
int run_train(const TrainOptions& options);

// "--checkpoint-every": "50" → 50 mini-batches, "30s" → 30 seconds; nullopt when malformed.
struct CheckpointEvery {
  int64_t batches = 0;
  double seconds = 0;
};
std::optional<CheckpointEvery> parse_checkpoint_every(const std::string& text);

struct EvaluateOptions {
  std::string model;
  DataRequest data;
  int threads = 0;
  bool json = false;
};
int run_evaluate(const EvaluateOptions& options);

struct PredictOptions {
  std::string model;
  std::vector<std::string> inputs;  // PNG or JPEG images, CSV files or IDX image files
  size_t top = 3;
  size_t limit = 0;  // at most this many predictions per input file (0: all)
  bool json = false;
  bool digit = false;  // PNG drawings of digits of any size, made MNIST-like (edgetrain/image.h)
  DataRequest data;    // --dataset (issue #11): predict every sample of a data set
  int threads = 1;     // sharing each prediction (Predictor); 0: every core
};
int run_predict(const PredictOptions& options);

struct FetchDataOptions {
  std::string dataset = "mnist";
  std::string mirror;
  std::string data_dir = "data/mnist";
};
int run_fetch_data(const FetchDataOptions& options);

struct ValidateOptions {
  std::string model;
};
int run_validate(const ValidateOptions& options);

struct InspectOptions {
  std::string model;
  bool json = false;
};
int run_inspect(const InspectOptions& options);

struct MakeUpdatableCommand {
  std::string model;
  std::string output;
  std::vector<std::string> layers;
  std::string loss = "cross-entropy";  // or "mse"
  std::string optimizer = "adam";      // or "sgd"
  double learning_rate = 1e-3;
  int64_t batch_size = 32;
  int64_t epochs = 10;
  double momentum = 0.0;
  std::string target;      // default: see make_updatable
  std::string loss_input;  // default: the network's output
};
int run_make_updatable(const MakeUpdatableCommand& options);

struct ConvertOptions {
  std::string input;
  std::string output;
};
int run_convert(const ConvertOptions& options);

// ---- edgetrain serve: the web app (src/web/serve_command.cpp, library edgetrain_web) ----------
struct ServeOptions {
  std::string model;  // default: data/lenet.mlmodel when it exists, else the untrained LeNet
  DataRequest data;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (the address is printed)
  std::string samples_dir = "data/samples";
  std::string token;      // required on every API call; made up for a non-loopback host
  size_t limit = 0;       // train on the first N images (0: all)
  size_t test_limit = 0;  // measure on the first N test images (0: all)
  int threads = 0;        // training threads (0: every core)
};
int run_serve(const ServeOptions& options);

}  // namespace edgetrain::cli
