#include "nn/layers/nd_axis.h"

#include <string>

namespace edgetrain {

int nd_axis(const LayerContext& context, int64_t axis, int rank) {
  const bool exact = context.model.exact_array_mapping;
  const int64_t full_rank = exact ? rank : rank + 2;  // Core ML's rank of the tensor
  const std::string named = "axis " + std::to_string(axis);
  if (axis < -full_rank || axis >= full_rank) {
    context.fail(named + " is out of range for a rank-" + std::to_string(full_rank) + " tensor" +
                 (exact ? "" : " (Core ML's (Seq, Batch, ...) under the rank-5 mapping)") +
                 ": expected " + std::to_string(-full_rank) + " to " +
                 std::to_string(full_rank - 1));
  }
  const int64_t from_start = axis < 0 ? axis + full_rank : axis;
  if (!exact && from_start < 2) {
    context.fail(named + " names Core ML's " + (from_start == 0 ? "Seq" : "Batch") +
                 " axis: under the rank-5 mapping a per-sample " + std::to_string(rank) +
                 "-axis blob is (Seq, Batch, ...), and layers work within one sample (use axes 2 "
                 "to " +
                 std::to_string(full_rank - 1) + ", or -" + std::to_string(rank) + " to -1)");
  }
  return int(exact ? from_start : from_start - 2);
}

}  // namespace edgetrain
