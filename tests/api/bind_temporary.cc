// Compile-fail check (cmake/api_checks.cmake): an UpdateTask keeps references to its model and
// data, so binding a temporary must not compile. Built three ways: a temporary data set and a
// temporary model must each be refused as a "deleted" constructor; with -DEDGETRAIN_BIND_LVALUES
// the same call on named objects must compile, so the refusal is about the temporary alone.
#include <string>

#include "edgetrain/data.h"
#include "edgetrain/model.h"
#include "edgetrain/train.h"

void train_on(const std::string& folder) {
#ifdef EDGETRAIN_BIND_LVALUES
  edgetrain::Model model = edgetrain::lenet();
  const edgetrain::Dataset data = edgetrain::read_idx_folder(folder, "train");
  edgetrain::UpdateTask task(model, data);
#elif defined(EDGETRAIN_TEMPORARY_MODEL)
  const edgetrain::Dataset data = edgetrain::read_idx_folder(folder, "train");
  edgetrain::UpdateTask task(edgetrain::lenet(), data);
#else
  edgetrain::Model model = edgetrain::lenet();
  edgetrain::UpdateTask task(model, edgetrain::read_idx_folder(folder, "train"));
#endif
  task.run();
}
