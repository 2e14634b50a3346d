#include "cli/progress.h"

#include <cstdio>
#include <unistd.h>

namespace edgetrain::cli {

ProgressBar::ProgressBar(bool enabled) : active_(enabled && isatty(STDERR_FILENO)) {}

std::string format_duration(double seconds) {
  char text[32];
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.1fs", seconds);
  } else {
    int whole = int(seconds + 0.5);
    std::snprintf(text, sizeof text, "%dm%02ds", whole / 60, whole % 60);
  }
  return text;
}

void ProgressBar::update(uint64_t done, uint64_t total, double rate, const std::string& detail) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  constexpr int kWidth = 30;
  const double fraction = total ? double(done) / double(total) : 0.0;
  const int filled = int(fraction * kWidth);
  std::string bar(size_t(filled), '#');
  bar.resize(kWidth, '.');
  std::string speed;
  if (rate > 0) {
    char text[64];
    std::snprintf(text, sizeof text, "  %.0f samples/s  ETA %s", rate,
                  format_duration(double(total - done) / rate).c_str());
    speed = text;
  }
  std::fprintf(stderr, "\r[%s] %3d%% %s%s\033[K", bar.c_str(), int(fraction * 100),
               detail.c_str(), speed.c_str());
  std::fflush(stderr);
}

void ProgressBar::clear() {
  if (active_ && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace edgetrain::cli
