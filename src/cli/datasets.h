// Finding the data a command names: `mnist`, `fashion-mnist`, a folder of IDX files, a CSV file of
// 28x28 digits, a CSV table (--target) or a folder of images in one subfolder per class.
#pragma once

#include <memory>
#include <string>

#include "edgetrain/data.h"
#include "edgetrain/model.h"

namespace edgetrain::cli {

struct DataRequest {
  std::string dataset;   // "", "mnist", "fashion-mnist", a folder, or a .csv file
  std::string data_dir;  // --data-dir, may be empty
  std::string test_csv;  // --test-csv, with a CSV training file
  // ---- tables and image folders (issue #11) ----
  std::string target;   // --target COLUMN: the CSV is a table with a header, COLUMN the target
  bool stream = false;  // --stream: read samples from disk as they are needed, never all at once
};

struct LoadedData {
  std::string name;                     // "mnist", "fashion-mnist", or the path given
  std::string note;                     // said to the user when the choice was made for them
  std::string samples_word = "images";  // what a sample is called in messages ("rows" in a table)
  bool streamed = false;                // read from disk as the samples are asked for
  std::shared_ptr<const BatchProvider> train;  // never null: empty when not read
  std::shared_ptr<const BatchProvider> test;   // never null: empty when there is none
};

// Reads the training and test sets. `model` (may be null for MNIST-like data) decides how a table
// or an image folder becomes its input: feature columns, class or real target, image size and
// colour. Throws Error saying where it looked and how to get the data.
LoadedData load_data(const DataRequest& request, const Model* model, bool need_train = true);

// Keep the first `limit` training or test samples (0: all).
void limit_training(LoadedData& data, size_t limit);
void limit_test(LoadedData& data, size_t limit);

}  // namespace edgetrain::cli
