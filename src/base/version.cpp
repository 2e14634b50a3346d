// The library's own version, fixed when it is compiled (include/edgetrain/version.h).
#include "edgetrain/version.h"

namespace edgetrain {

const char* version() noexcept {
  return EDGETRAIN_VERSION_STRING;
}

}  // namespace edgetrain
