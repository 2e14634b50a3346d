#include "cli/option_checks.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "base/machine.h"

namespace edgetrain::cli {
namespace {

// The whole text as a number, or nullopt; a leading '+' is allowed, as strtod allows it.
template <typename Number>
std::optional<Number> parse(const std::string& text, std::errc* error = nullptr) {
  const char* begin = text.data() + (!text.empty() && text[0] == '+' ? 1 : 0);
  const char* end = text.data() + text.size();
  Number value{};
  const auto [stop, status] = std::from_chars(begin, end, value);
  if (error) *error = status;
  if (status != std::errc() || stop != end || begin == end) return std::nullopt;
  return value;
}

std::string got(const std::string& rule, const std::string& text) {
  std::string message = "must be ";
  message += rule;
  message += ", got ";
  return message + text;
}

}  // namespace

CLI::Validator whole_number_at_least(int64_t minimum, int64_t maximum) {
  const std::string at_most = "at most " + std::to_string(maximum);
  const std::string at_least = "at least " + std::to_string(minimum);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        std::errc error{};
        const std::optional<int64_t> value = parse<int64_t>(text, &error);
        if (error == std::errc::result_out_of_range) {
          return got(!text.empty() && text[0] == '-' ? at_least : at_most, text);
        }
        if (!value) return got("a whole number", text);
        if (*value < minimum) return got(at_least, text);
        if (*value > maximum) return got(at_most, text);
        return {};
      },
      "INT>=" + std::to_string(minimum));
}

CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::optional<double> value = parse<double>(text);
        if (!value || !std::isfinite(*value) || !(*value > 0)) {
          return got("a positive number", text);
        }
        return {};
      },
      "NUMBER>0");
}

CLI::Validator fraction_below_one() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::optional<double> value = parse<double>(text);
        if (!value || !(*value >= 0 && *value < 1)) {
          return got("at least 0 and less than 1", text);
        }
        return {};
      },
      "0<=NUMBER<1");
}

void note_capped_threads(int requested) {
  const int used = effective_threads(requested);
  if (requested <= used) return;
  std::fprintf(stderr,
               "edgetrain: note: --threads %d is more than the %d threads this machine runs at "
               "once; using %d\n",
               requested, hardware_threads(), used);
}

void add_data_options(CLI::App* command, DataRequest& data) {
  command->add_option("--dataset", data.dataset,
                      "mnist, fashion-mnist, a folder of the four IDX files, or a CSV file");
  command->add_option("--data-dir", data.data_dir,
                      "where to look for mnist / fashion-mnist (also $EDGETRAIN_DATA)");
  command->add_option("--test-csv", data.test_csv, "test set in CSV, with a CSV --dataset");
}

}  // namespace edgetrain::cli
