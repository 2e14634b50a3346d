#include "web/event_hub.h"

namespace edgetrain::web {

std::string sse_text(const Event& event) {
  return "id: " + std::to_string(event.id) + "\nevent: " + event.name + "\ndata: " + event.data +
         "\n\n";
}

void EventHub::publish(const std::string& name, const nlohmann::json& data) {
  // dump() escapes newlines inside strings, so the data is one line as SSE needs.
  std::string text = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    recent_.push_back({++last_id_, name, std::move(text)});
    while (recent_.size() > keep_) recent_.pop_front();
  }
  changed_.notify_all();
}

uint64_t EventHub::last_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_id_;
}

EventHub::Wait EventHub::wait_after(uint64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return closed_ || last_id_ > after; });
  Wait wait;
  wait.closed = closed_;
  if (closed_ || last_id_ <= after) return wait;
  wait.lagged = recent_.empty() || recent_.front().id > after + 1;
  for (const Event& event : recent_) {
    if (event.id > after) wait.events.push_back(event);
  }
  return wait;
}

void EventHub::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

}  // namespace edgetrain::web
