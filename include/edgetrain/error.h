/**
 * @file error.h
 * @brief The one exception type the library throws.
 *
 * Its message names the file, layer, field or value at fault and, where possible, the fix. The
 * library never exits or aborts on bad input.
 */
#pragma once

#include <stdexcept>
#include <string>

/** Everything edgetrain declares for C++ users. */
namespace edgetrain {

/** Bad input or settings: a file, a model, data or an override. `what()` says what and where. */
class Error : public std::runtime_error {
 public:
  /** @param message names the file, layer, field or value at fault */
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace edgetrain
