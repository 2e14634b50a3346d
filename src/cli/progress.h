// A one-line progress bar for a terminal: redrawn in place on stderr, at most ~10 times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace edgetrain::cli {

class ProgressBar {
 public:
  // Draws only when stderr is a terminal and `enabled`.
  explicit ProgressBar(bool enabled);
  // done/total units of work; `detail` follows the bar (e.g. "loss 0.1234").
  void update(uint64_t done, uint64_t total, double rate_per_second, const std::string& detail);
  // Erases the bar so ordinary output can follow.
  void clear();
  bool active() const { return active_; }

 private:
  bool active_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

std::string format_duration(double seconds);  // "1m05s", "12.3s"

}  // namespace edgetrain::cli
