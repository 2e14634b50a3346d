// edgetrain: build, train and run small networks on the CPU, and work with Core ML model files.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "cli/fed_commands.h"
#include "cli/option_checks.h"
#include "edgetrain/error.h"
#include "edgetrain/version.h"

int main(int argc, char** argv) {
  using namespace edgetrain::cli;
  CLI::App app{"edgetrain: train and run small neural networks on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("edgetrain ") + edgetrain::version());

  auto add_data_options = [](CLI::App* command, DataRequest& data) {
    command->add_option("--dataset", data.dataset,
                        "mnist, fashion-mnist, a folder of the four IDX files, a folder of images "
                        "in one subfolder per class, or a CSV file");
    command->add_option("--data-dir", data.data_dir,
                        "where to look for mnist / fashion-mnist (also $EDGETRAIN_DATA)");
    command->add_option("--test-csv", data.test_csv, "test set in CSV, with a CSV --dataset");
    // ---- tables and image folders (issue #11) ----
    command->add_option("--target", data.target,
                        "the CSV is a table with a header row; COLUMN is the class or value to "
                        "learn, the other columns fill the model's input");
    command->add_flag("--stream", data.stream,
                      "read the samples from disk as they are needed instead of all at once "
                      "(the default for data that would not fit in memory)");
    // ---- end of tables and image folders ----
  };

  TrainOptions train;
  CLI::App* train_command = app.add_subcommand(
      "train", "train the seed's LeNet, or an updatable model file, on MNIST-like data");
  add_data_options(train_command, train.data);
  train_command->add_option("--model", train.model,
                            "an updatable .mlmodel to train with its own update parameters "
                            "(the flags below then override them)");
  train_command->add_flag("--classifier", train.classifier,
                          "make the LeNet a neuralNetworkClassifier with class labels 0-9");
  CLI::Option* epochs = train_command->add_option("--epochs", train.epochs, "epochs (default 10)")
                            ->check(whole_number_at_least(1));
  CLI::Option* batch_size =
      train_command->add_option("--batch-size", train.batch_size, "mini-batch size (default 128)")
          ->check(whole_number_at_least(1));
  CLI::Option* learning_rate =
      train_command
          ->add_option("--learning-rate", train.learning_rate,
                       "learning rate (default 1e-3; the Swift seed declares 1e-4)")
          ->check(positive_number());
  CLI::Option* seed =
      train_command->add_option("--seed", train.seed, "seed of the initial weights and shuffling");
  train_command
      ->add_option_function<std::string>(
          "--init", [&train](const std::string& init) { train.glorot = init == "glorot"; },
          "initial weights of the built-in network: glorot (Glorot-uniform, as Keras; default) or "
          "he (He-uniform)")
      ->check(CLI::IsMember({"he", "glorot"}));
  train_command
      ->add_option("--threads", train.threads,
                   "threads (default: every core; more than the hardware runs at once are capped "
                   "to that, with a note)")
      ->check(whole_number_at_least(0, std::numeric_limits<int>::max()));
  train_command
      ->add_option("--precision", train.precision,
                   "float32 (default) or bf16: mixed precision, the inner-product layers "
                   "multiplying in bfloat16 and summing in float32, weights and optimizer state "
                   "kept in float32 (needs a CPU with AVX512-BF16)")
      ->check(CLI::IsMember({"float32", "bf16"}));
  train_command->add_option("--limit", train.limit, "train on the first N images only")
      ->check(whole_number_at_least(0));
  train_command->add_option(
      "--output,-o", train.output,
      "save the trained model to FILE (.mlmodel, or .json for its text form)");
  train_command->add_option("--checkpoint", train.checkpoint,
                            "keep a crash-safe checkpoint of the run in FILE");
  train_command
      ->add_option("--checkpoint-every", train.checkpoint_every,
                   "checkpoint every N mini-batches, or every N seconds as `30s` (default: when "
                   "the run ends or is interrupted only)")
      ->check([](const std::string& text) {
        return parse_checkpoint_every(text) ? std::string() : "expected N or Ns, e.g. 50 or 30s";
      });
  train_command->add_option(
      "--resume", train.resume,
      "continue the run that wrote this checkpoint (same arguments and data)");
  train_command->add_flag("--json", train.json, "end with one JSON line of results");
  train_command->add_flag("--quiet,-q", train.quiet, "no progress bar or per-epoch lines");
  // ---- train: built-in networks and options beyond Core ML (issue #11; cli/option_checks.h) ----
  train_command
      ->add_option("--preset", train.preset,
                   "the built-in network to train without --model: lenet (default) or "
                   "small-resnet (batch norm, a residual block, 64 channels; Fashion-MNIST's "
                   "reference workload)")
      ->check(CLI::IsMember({"lenet", "small-resnet"}));
  train_command
      ->add_option("--validation-split", train.validation_split,
                   "hold out this fraction of the training data (drawn with --seed) and report "
                   "its loss and accuracy after every epoch (default 0: none)")
      ->check(fraction_below_one());
  train_command
      ->add_option("--early-stopping", train.early_stopping,
                   "stop after PATIENCE epochs without a better validation loss (training loss "
                   "without a split) and keep the best epoch's weights")
      ->check(whole_number_at_least(1));
  train_command
      ->add_option("--min-delta", train.min_delta,
                   "what counts as better for --early-stopping and --reduce-on-plateau: a loss "
                   "below the best minus this (default 0)")
      ->check(number_at_least_zero());
  train_command->add_flag("--keep-last-weights", train.keep_last_weights,
                          "with --early-stopping, end with the last epoch's weights instead of "
                          "the best epoch's");
  train_command
      ->add_option("--reduce-on-plateau", train.reduce_on_plateau,
                   "as dlib's trainer: after PATIENCE epochs without a better loss multiply the "
                   "learning rate by FACTOR (default 0.1); stop once it falls below MIN_RATE "
                   "(default 1e-5)")
      ->check(as_validator(parse_plateau, "PATIENCE[:FACTOR[:MIN_RATE]]"));
  train_command
      ->add_option("--schedule", train.schedule,
                   "learning-rate schedule: step:EVERY:FACTOR (times FACTOR every EVERY epochs) "
                   "or cosine[:MIN_RATE] (cosine decay over every mini-batch of the run)")
      ->check(as_validator(parse_schedule, "step:EVERY:FACTOR|cosine[:MIN_RATE]"));
  train_command
      ->add_option("--weight-decay", train.weight_decay,
                   "weight decay: decoupled for Adam (AdamW), L2 for SGD (default 0)")
      ->check(number_at_least_zero());
  train_command
      ->add_option("--augment", train.augment,
                   "random changes to each training image: shift=PIXELS, rotate=DEGREES, flip "
                   "(left-right), comma-separated, e.g. shift=2,rotate=10")
      ->check(as_validator(parse_augment, "shift=N,rotate=DEGREES,flip"));
  // ---- end of train: built-in networks and options beyond Core ML ----

  EvaluateOptions evaluate;
  CLI::App* evaluate_command = app.add_subcommand("evaluate", "accuracy and loss of a saved model");
  evaluate_command->add_option("model", evaluate.model, "model file (.mlmodel or .json)")
      ->required();
  add_data_options(evaluate_command, evaluate.data);
  evaluate_command->add_option("--threads", evaluate.threads, "threads (default: every core)")
      ->check(whole_number_at_least(0, std::numeric_limits<int>::max()));
  evaluate_command->add_flag("--json", evaluate.json, "print one JSON line of results");

  PredictOptions predict;
  CLI::App* predict_command =
      app.add_subcommand("predict", "class probabilities for PNG images, CSV or IDX files");
  predict_command->add_option("model", predict.model, "model file (.mlmodel or .json)")->required();
  predict_command->add_option("inputs", predict.inputs,
                              "PNG or JPEG images, CSV files or IDX image files");
  add_data_options(predict_command, predict.data);  // predict --dataset D: every sample of D
  predict_command->add_option("--top", predict.top, "classes to show per input (default 3)")
      ->check(whole_number_at_least(1));
  predict_command->add_option("--limit", predict.limit, "at most N predictions per input file")
      ->check(whole_number_at_least(0));
  predict_command->add_flag("--json", predict.json, "one JSON object per prediction");
  predict_command
      ->add_option("--threads", predict.threads,
                   "threads sharing each prediction (default 1; 0: every core; more than the "
                   "hardware runs at once are capped to that, with a note)")
      ->check(whole_number_at_least(0, std::numeric_limits<int>::max()));
  predict_command->add_flag("--digit", predict.digit,
                            "PNG drawings of a digit, any size: cropped, scaled into 20x20 and "
                            "centred by mass in 28x28, as MNIST was made (and as `serve` does)");

  FetchDataOptions fetch;
  CLI::App* fetch_command = app.add_subcommand("fetch-data", "download a data set (mnist)");
  fetch_command->add_option("dataset", fetch.dataset, "the data set: mnist")->required();
  fetch_command->add_option("--mirror", fetch.mirror, "base URL of the four files");
  fetch_command->add_option("--data-dir", fetch.data_dir, "where to put them (default data/mnist)");

  ValidateOptions validate;
  CLI::App* validate_command =
      app.add_subcommand("validate", "check a model against Core ML's rules for updatable models");
  validate_command->add_option("model", validate.model, "model file (.mlmodel or .json)")
      ->required();

  InspectOptions inspect;
  CLI::App* inspect_command =
      app.add_subcommand("inspect", "metadata, features, layers and update parameters of a model");
  inspect_command->add_option("model", inspect.model, "model file (.mlmodel or .json)")->required();
  inspect_command->add_flag("--json", inspect.json, "print one JSON object");

  MakeUpdatableCommand updatable;
  CLI::App* updatable_command = app.add_subcommand(
      "make-updatable", "make a model updatable: layers, loss, optimizer, epochs (as coremltools)");
  updatable_command->add_option("model", updatable.model, "model file (.mlmodel or .json)")
      ->required();
  updatable_command
      ->add_option("--output,-o", updatable.output, "where to write the updatable model")
      ->required();
  updatable_command
      ->add_option("--layers", updatable.layers,
                   "convolution / innerProduct layers to update, comma-separated")
      ->required()
      ->delimiter(',');
  updatable_command->add_option("--loss", updatable.loss, "cross-entropy (default) or mse")
      ->check(CLI::IsMember({"cross-entropy", "mse"}));
  updatable_command->add_option("--optimizer", updatable.optimizer, "adam (default) or sgd")
      ->check(CLI::IsMember({"adam", "sgd"}));
  updatable_command
      ->add_option("--learning-rate", updatable.learning_rate, "default learning rate (1e-3)")
      ->check(positive_number());
  updatable_command
      ->add_option("--batch-size", updatable.batch_size, "default mini-batch size (32)")
      ->check(whole_number_at_least(1));
  updatable_command->add_option("--epochs", updatable.epochs, "default epochs (10)")
      ->check(whole_number_at_least(1));
  updatable_command->add_option("--momentum", updatable.momentum, "SGD momentum (0)")
      ->check(fraction_below_one());
  updatable_command->add_option("--target", updatable.target,
                                "name of the target training input (default: the class label of a "
                                "classifier, else <loss input>_true)");
  updatable_command->add_option("--loss-input", updatable.loss_input,
                                "the blob the loss reads (default: the network's output)");

  ConvertOptions convert;
  CLI::App* convert_command =
      app.add_subcommand("convert", "convert between .mlmodel and its JSON text form (lossless)");
  convert_command->add_option("input", convert.input, ".mlmodel or .json file")->required();
  convert_command->add_option("output", convert.output, ".json or .mlmodel file")->required();

  // ---- edgetrain serve (the web app; src/web/) ----
  ServeOptions serve;
  CLI::App* serve_command = app.add_subcommand(
      "serve", "a local web app: draw digits, watch training live, personalise the model");
  serve_command->add_option("--model", serve.model,
                            "model file to start from (default: data/lenet.mlmodel if it "
                            "exists, else the untrained LeNet)");
  add_data_options(serve_command, serve.data);
  serve_command->add_option("--host", serve.host, "address to listen on (default 127.0.0.1)");
  serve_command->add_option("--port", serve.port, "port (default 8080; 0: any free port)")
      ->check(CLI::Range(0, 65535));
  serve_command->add_option("--samples-dir", serve.samples_dir,
                            "where personal samples go, as <label>/<name>.png (default "
                            "data/samples)");
  serve_command->add_option("--token", serve.token,
                            "token every API call must carry (made up when the host is not "
                            "loopback)");
  serve_command->add_option("--limit", serve.limit, "train on the first N images only");
  serve_command->add_option("--test-limit", serve.test_limit,
                            "measure test accuracy on the first N test images only");
  serve_command->add_option("--threads", serve.threads, "training threads (default: every core)")
      ->check(CLI::NonNegativeNumber);

  // ---- federated learning (issue #13): fed-client, fed-server, fed-sim (cli/fed_cli.cpp) ----
  FedCommandLine federated(app);

  try {
    app.parse(argc, argv);
    train.epochs_set = epochs->count() > 0;
    train.batch_size_set = batch_size->count() > 0;
    train.learning_rate_set = learning_rate->count() > 0;
    train.seed_set = seed->count() > 0;
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
    if (predict_command->parsed()) {
      if (predict.inputs.empty() && predict.data.dataset.empty()) {
        throw edgetrain::Error("predict: give input files, or --dataset");
      }
      return run_predict(predict);
    }
    if (fetch_command->parsed()) return run_fetch_data(fetch);
    if (validate_command->parsed()) return run_validate(validate);
    if (inspect_command->parsed()) return run_inspect(inspect);
    if (updatable_command->parsed()) return run_make_updatable(updatable);
    if (convert_command->parsed()) return run_convert(convert);
    if (serve_command->parsed()) return run_serve(serve);
    if (const std::optional<int> code = federated.run()) return *code;
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
