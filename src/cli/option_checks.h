// Checks of option values whose messages read like a person wrote them: CLI11 prefixes the option,
// giving "--epochs: must be at least 1, got 0". (CLI11's own range checks print the limits of a
// double in full, three hundred digits, and let 1e20 through to an int64_t as its largest value.)
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>

#include "cli/datasets.h"

namespace edgetrain::cli {

// A whole number in [minimum, maximum] ("must be at least 1, got 0"; "must be a whole number, got
// 1.5"; "must be at most 2147483647, got 9999999999").
CLI::Validator whole_number_at_least(int64_t minimum,
                                     int64_t maximum = std::numeric_limits<int64_t>::max());
// A finite number above zero ("must be a positive number, got 0").
CLI::Validator positive_number();
// A number in [0, 1), as momentum ("must be at least 0 and less than 1, got 1").
CLI::Validator fraction_below_one();

// Says on stderr when --threads asks for more than the hardware runs at once (the library caps
// it): "edgetrain: note: --threads 1000 is more than the 2 threads this machine runs at once;
// using 2".
void note_capped_threads(int requested);

// --dataset, --data-dir and --test-csv, as every command that reads a data set takes them.
void add_data_options(CLI::App* command, DataRequest& data);

}  // namespace edgetrain::cli
