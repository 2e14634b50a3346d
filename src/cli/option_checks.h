// Checks of option values whose messages read like a person wrote them: CLI11 prefixes the option,
// giving "--epochs: must be at least 1, got 0". (CLI11's own range checks print the limits of a
// double in full, three hundred digits, and let 1e20 through to an int64_t as its largest value.)
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "edgetrain/train.h"

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

// A finite number at least 0 ("must be a number at least 0, got -1").
CLI::Validator number_at_least_zero();

// ---- Training options beyond Core ML (`train`; edgetrain/train.h) ----
// Each parser fills its option from the flag's text and returns "" or what is wrong, in words
// ("FACTOR must be above 0 and less than 1, got 2"); as_validator() turns one into a CLI11 check.
// --reduce-on-plateau PATIENCE[:FACTOR[:MIN_RATE]] (dlib's defaults: factor 0.1, minimum 1e-5).
std::string parse_plateau(const std::string& text, PlateauReduction& plateau);
// --schedule step:EVERY:FACTOR (EVERY epochs) | cosine[:MIN_RATE].
std::string parse_schedule(const std::string& text, LearningRateSchedule& schedule);
// --augment shift=N,rotate=DEGREES,flip (any of them, in any order).
std::string parse_augment(const std::string& text, Augmentation& augment);
template <typename Value>
CLI::Validator as_validator(std::string (*parse)(const std::string&, Value&),
                            const std::string& form) {
  return CLI::Validator(
      [parse](std::string& text) {
        Value value{};
        return parse(text, value);
      },
      form);
}

// Says on stderr when --threads asks for more than the hardware runs at once (the library caps
// it): "edgetrain: note: --threads 1000 is more than the 2 threads this machine runs at once;
// using 2".
void note_capped_threads(int requested);

// --dataset, --data-dir and --test-csv, as every command that reads a data set takes them.
void add_data_options(CLI::App* command, DataRequest& data);

}  // namespace edgetrain::cli
