// What the C API's handles hold, and the guard every entry point runs its body in: it turns each
// C++ exception into a status code and a thread-local message, so none crosses into C.
#pragma once

#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "edgetrain/data.h"
#include "edgetrain/edgetrain_c.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/model.h"

struct edgetrain_model {
  edgetrain::Model model;
  // Made on the first prediction from a copy of the model; every entry point that changes the
  // model's values (parameters, initialisation, training) drops it.
  std::unique_ptr<edgetrain::Predictor> predictor;
  int predict_threads = 1;  // edgetrain_model_set_predict_threads(); the predictor is made with it
  // The tensor names edgetrain_model_tensor() hands out (stable while the model lives).
  mutable std::vector<std::string> tensor_names;
};

struct edgetrain_data {
  std::unique_ptr<edgetrain::BatchProvider> samples;
};

namespace edgetrain::capi {

// A caller's mistake the C API detects itself (a NULL pointer, a size that does not fit).
class InvalidArgument : public std::invalid_argument {
 public:
  explicit InvalidArgument(const std::string& message) : std::invalid_argument(message) {}
};

// Records `message` as this thread's last error and returns `status`; never throws.
edgetrain_status fail(edgetrain_status status, const char* message) noexcept;

// Runs body(); maps edgetrain::Error, InvalidArgument, std::bad_alloc (and length_error) and
// everything else to a status, keeping the message for edgetrain_last_error().
template <typename Body>
edgetrain_status guarded(Body&& body) noexcept {
  try {
    body();
    return EDGETRAIN_OK;
  } catch (const InvalidArgument& e) {
    return fail(EDGETRAIN_INVALID_ARGUMENT, e.what());
  } catch (const Error& e) {
    return fail(EDGETRAIN_ERROR, e.what());
  } catch (const std::bad_alloc&) {
    return fail(EDGETRAIN_OUT_OF_MEMORY, "out of memory");
  } catch (const std::length_error& e) {  // a size no container can hold
    return fail(EDGETRAIN_OUT_OF_MEMORY, e.what());
  } catch (const std::exception& e) {
    return fail(EDGETRAIN_INTERNAL_ERROR, e.what());
  } catch (...) {
    return fail(EDGETRAIN_INTERNAL_ERROR, "unknown exception");
  }
}

// Throws InvalidArgument naming `what` when `pointer` is NULL.
inline void require(const void* pointer, const char* what) {
  if (pointer == nullptr) throw InvalidArgument(std::string(what) + " is NULL");
}

// a * b, or InvalidArgument naming `what` when it overflows size_t.
size_t checked_product(size_t a, size_t b, const char* what);

}  // namespace edgetrain::capi
