// Server-sent events: the training thread publishes, each /api/train/events stream waits for what
// is new. Recent events are kept so a stream that fell behind catches up (or learns it lagged).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace edgetrain::web {

struct Event {
  uint64_t id = 0;  // from 1, consecutive
  std::string name;
  std::string data;  // one line of JSON
};

// "id: 7\nevent: batch\ndata: {...}\n\n"
std::string sse_text(const Event& event);

class EventHub {
 public:
  explicit EventHub(size_t keep = 4096) : keep_(keep) {}
  void publish(const std::string& name, const nlohmann::json& data);
  uint64_t last_id() const;

  struct Wait {
    std::vector<Event> events;  // those after `after`, oldest first
    bool lagged = false;        // some events after `after` were already dropped
    bool closed = false;        // the server is stopping: end the stream
  };
  // Returns at once when events after `after` are kept, else waits for one, for close(), or for
  // `timeout` (then nothing: the caller sends a keep-alive comment).
  Wait wait_after(uint64_t after, std::chrono::milliseconds timeout) const;
  // Wakes every waiting stream for good.
  void close();

 private:
  const size_t keep_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<Event> recent_;
  uint64_t last_id_ = 0;
  bool closed_ = false;
};

}  // namespace edgetrain::web
