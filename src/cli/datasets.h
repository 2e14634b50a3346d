// Finding the data a command names: `mnist`, `fashion-mnist`, a folder of IDX files or a CSV file.
#pragma once

#include <string>

#include "edgetrain/data.h"

namespace edgetrain::cli {

struct DataRequest {
  std::string dataset;   // "", "mnist", "fashion-mnist", a folder, or a .csv file
  std::string data_dir;  // --data-dir, may be empty
  std::string test_csv;  // --test-csv, with a CSV training file
};

struct LoadedData {
  std::string name;  // "mnist", "fashion-mnist", or the path given
  std::string note;  // said to the user when the choice was made for them
  Dataset train;
  Dataset test;
};

// Reads the training and test sets. Throws Error saying where it looked and how to get the data.
LoadedData load_data(const DataRequest& request, bool need_train = true);

}  // namespace edgetrain::cli
