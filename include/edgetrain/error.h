// The one exception type the library throws. Its message names the file, layer, field or value at
// fault and, where possible, the fix. The library never exits or aborts on bad input.
#pragma once

#include <stdexcept>
#include <string>

namespace edgetrain {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace edgetrain
