// edgetrain: build, train and run small networks on the CPU.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "edgetrain/error.h"

int main(int argc, char** argv) {
  using namespace edgetrain::cli;
  CLI::App app{"edgetrain: train and run small neural networks on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "edgetrain 0.1.0");

  auto add_data_options = [](CLI::App* command, DataRequest& data) {
    command->add_option("--dataset", data.dataset,
                        "mnist, fashion-mnist, a folder of the four IDX files, or a CSV file");
    command->add_option("--data-dir", data.data_dir,
                        "where to look for mnist / fashion-mnist (also $EDGETRAIN_DATA)");
    command->add_option("--test-csv", data.test_csv, "test set in CSV, with a CSV --dataset");
  };

  TrainOptions train;
  CLI::App* train_command = app.add_subcommand("train", "train the seed's LeNet on MNIST-like data");
  add_data_options(train_command, train.data);
  train_command->add_option("--epochs", train.epochs, "epochs (default 10)")
      ->check(CLI::PositiveNumber);
  train_command->add_option("--batch-size", train.batch_size, "mini-batch size (default 128)")
      ->check(CLI::PositiveNumber);
  train_command->add_option("--learning-rate", train.learning_rate,
                            "Adam learning rate (default 1e-3; the Swift seed declares 1e-4)")
      ->check(CLI::PositiveNumber);
  train_command->add_option("--seed", train.seed, "seed of the initial weights and shuffling");
  train_command->add_option("--threads", train.threads, "threads (default: every core)")
      ->check(CLI::NonNegativeNumber);
  train_command->add_option("--limit", train.limit, "train on the first N images only");
  train_command->add_option("--output,-o", train.output, "save the trained model to FILE");
  train_command->add_flag("--json", train.json, "end with one JSON line of results");
  train_command->add_flag("--quiet,-q", train.quiet, "no progress bar or per-epoch lines");

  EvaluateOptions evaluate;
  CLI::App* evaluate_command = app.add_subcommand("evaluate", "accuracy and loss of a saved model");
  evaluate_command->add_option("model", evaluate.model, "model file")->required();
  add_data_options(evaluate_command, evaluate.data);
  evaluate_command->add_option("--threads", evaluate.threads, "threads (default: every core)")
      ->check(CLI::NonNegativeNumber);
  evaluate_command->add_flag("--json", evaluate.json, "print one JSON line of results");

  PredictOptions predict;
  CLI::App* predict_command = app.add_subcommand("predict", "class probabilities for inputs");
  predict_command->add_option("model", predict.model, "model file")->required();
  predict_command->add_option("inputs", predict.inputs, "CSV files or IDX image files")->required();
  predict_command->add_option("--top", predict.top, "classes to show per input (default 3)")
      ->check(CLI::PositiveNumber);
  predict_command->add_option("--limit", predict.limit, "at most N predictions per input file");
  predict_command->add_flag("--json", predict.json, "one JSON object per prediction");

  FetchDataOptions fetch;
  CLI::App* fetch_command = app.add_subcommand("fetch-data", "download a data set (mnist)");
  fetch_command->add_option("dataset", fetch.dataset, "the data set: mnist")->required();
  fetch_command->add_option("--mirror", fetch.mirror, "base URL of the four files");
  fetch_command->add_option("--data-dir", fetch.data_dir, "where to put them (default data/mnist)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 1;
  }
  try {
    if (train_command->parsed()) return run_train(train);
    if (evaluate_command->parsed()) return run_evaluate(evaluate);
    if (predict_command->parsed()) return run_predict(predict);
    if (fetch_command->parsed()) return run_fetch_data(fetch);
  } catch (const edgetrain::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "edgetrain: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "edgetrain: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgetrain: internal error: %s\n", e.what());
    return 2;
  }
  return 1;
}
