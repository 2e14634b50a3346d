#include "cli/option_checks.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

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

CLI::Validator number_at_least_zero() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const std::optional<double> value = parse<double>(text);
        if (!value || !std::isfinite(*value) || !(*value >= 0)) {
          return got("a number at least 0", text);
        }
        return {};
      },
      "NUMBER>=0");
}

namespace {

std::vector<std::string> split_text(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t begin = 0;
  for (;;) {
    const size_t end = text.find(separator, begin);
    parts.push_back(text.substr(begin, end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

// "" or what is wrong with `part` as the named field: "FACTOR must be above 0 and less than 1,
// got 2".
std::string read_fraction(const std::string& part, const std::string& name, bool one_allowed,
                          double& value) {
  const std::optional<double> number = parse<double>(part);
  if (!number || !(*number > 0 && (*number < 1 || (one_allowed && *number == 1)))) {
    return name + " " +
           got(one_allowed ? "above 0 and at most 1" : "above 0 and less than 1", part);
  }
  value = *number;
  return {};
}
std::string read_at_least_zero(const std::string& part, const std::string& name, double& value) {
  const std::optional<double> number = parse<double>(part);
  if (!number || !std::isfinite(*number) || !(*number >= 0)) {
    return name + " " + got("a number at least 0", part);
  }
  value = *number;
  return {};
}
template <typename Whole>
std::string read_whole(const std::string& part, const std::string& name, int64_t minimum,
                       int64_t maximum, Whole& value) {
  const std::optional<int64_t> number = parse<int64_t>(part);
  if (!number || *number < minimum || *number > maximum) {
    return name + " " +
           got("a whole number from " + std::to_string(minimum) + " to " + std::to_string(maximum),
               part);
  }
  value = Whole(*number);
  return {};
}

}  // namespace

std::string parse_plateau(const std::string& text, PlateauReduction& plateau) {
  const std::vector<std::string> parts = split_text(text, ':');
  if (parts.size() > 3) return "expected PATIENCE[:FACTOR[:MIN_RATE]], got " + text;
  std::string error = read_whole(parts[0], "PATIENCE (epochs)", 1, 1000000, plateau.patience);
  if (error.empty() && parts.size() > 1)
    error = read_fraction(parts[1], "FACTOR", false, plateau.factor);
  if (error.empty() && parts.size() > 2) {
    error = read_at_least_zero(parts[2], "MIN_RATE", plateau.learning_rate_min);
  }
  return error;
}

std::string parse_schedule(const std::string& text, LearningRateSchedule& schedule) {
  const std::vector<std::string> parts = split_text(text, ':');
  if (parts[0] == "step" && parts.size() == 3) {
    StepSchedule step;
    std::string error = read_whole(parts[1], "EVERY (epochs)", 1, 1000000, step.every_epochs);
    if (error.empty()) error = read_fraction(parts[2], "FACTOR", true, step.factor);
    schedule = step;
    return error;
  }
  if (parts[0] == "cosine" && parts.size() <= 2) {
    CosineSchedule cosine;
    std::string error;
    if (parts.size() == 2)
      error = read_at_least_zero(parts[1], "MIN_RATE", cosine.learning_rate_min);
    schedule = cosine;
    return error;
  }
  return "expected step:EVERY:FACTOR or cosine[:MIN_RATE], got " + text;
}

std::string parse_augment(const std::string& text, Augmentation& augment) {
  for (const std::string& part : split_text(text, ',')) {
    const size_t equals = part.find('=');
    const std::string name = part.substr(0, equals);
    const std::string value = equals == std::string::npos ? "" : part.substr(equals + 1);
    std::string error;
    if (name == "flip" && equals == std::string::npos) {
      augment.flip = true;
    } else if (name == "shift" && equals != std::string::npos) {
      error = read_whole(value, "shift (pixels)", 0, 1000, augment.shift);
    } else if (name == "rotate" && equals != std::string::npos) {
      const std::optional<double> degrees = parse<double>(value);
      if (!degrees || !(*degrees >= 0 && *degrees <= 180)) {
        error = "rotate (degrees) " + got("at least 0 and at most 180", value);
      } else {
        augment.rotate_degrees = *degrees;
      }
    } else {
      error = "expected shift=PIXELS, rotate=DEGREES or flip, comma-separated; got " + part;
    }
    if (!error.empty()) return error;
  }
  return {};
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
