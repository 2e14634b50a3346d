#include "flower/hub.h"

#include <algorithm>

#include "flower/messages.h"

namespace edgetrain::flower {
namespace {

std::string join_label(uint64_t id, const std::string& peer) {
  return "client #" + std::to_string(id) + " (" + peer + ")";
}

}  // namespace

// ---- Connection ---------------------------------------------------------------------------------

Connection::Connection(Hub& hub, uint64_t id, std::string peer,
                       grpc::CallbackServerContext* context)
    : hub_(hub), id_(id), peer_(std::move(peer)), context_(context) {
  StartRead(&incoming_);  // one read always outstanding: a departure is noticed at once
}

bool Connection::send(std::string bytes) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (finished_) return false;
  queue_.push_back(std::move(bytes));
  if (!writing_) start_next_write_locked(lock);
  return true;
}

void Connection::start_next_write_locked(std::unique_lock<std::mutex>& lock) {
  grpc::Slice slice(queue_.front());
  queue_.erase(queue_.begin());
  outgoing_ = grpc::ByteBuffer(&slice, 1);
  writing_ = true;
  const size_t size = outgoing_.Length();
  lock.unlock();
  hub_.on_sent(size);
  StartWrite(&outgoing_);
}

void Connection::close(const grpc::Status& status) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  queue_.clear();
  const bool busy = writing_;
  lock.unlock();
  // A write stuck behind a client that stopped reading would hold the stream open: cancel it.
  if (busy) context_->TryCancel();
  Finish(status);
}

void Connection::OnReadDone(bool ok) {
  if (!ok) {
    hub_.on_closed(*this, "the client closed the stream");
    close(grpc::Status::OK);
    return;
  }
  hub_.on_message(*this, incoming_);
  incoming_.Clear();
  std::unique_lock<std::mutex> lock(mutex_);
  if (finished_) return;
  lock.unlock();
  StartRead(&incoming_);
}

void Connection::OnWriteDone(bool ok) {
  std::unique_lock<std::mutex> lock(mutex_);
  writing_ = false;
  if (!ok) {
    queue_.clear();
    lock.unlock();
    hub_.on_closed(*this, "the connection broke while sending");
    close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
    return;
  }
  if (!finished_ && !queue_.empty()) start_next_write_locked(lock);
}

void Connection::OnCancel() {
  hub_.on_closed(*this, "the connection was lost");
  close(grpc::Status::CANCELLED);
}

void Connection::OnDone() {
  hub_.on_done(*this);  // may delete this: the last statement
}

// ---- Hub ----------------------------------------------------------------------------------------

Hub::Hub(size_t max_message_bytes, std::function<void(const std::string&)> log)
    : max_message_bytes_(max_message_bytes), log_(std::move(log)) {}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Hub::accept(
    grpc::CallbackServerContext* context) {
  std::unique_lock<std::mutex> lock(mutex_);
  const uint64_t id = next_id_++;
  auto connection = std::make_shared<Connection>(*this, id, context->peer(), context);
  Client& client = clients_[id];
  client.connection = connection;
  client.info.id = id;
  client.info.peer = connection->peer();
  ++generation_;
  changed_.notify_all();
  lock.unlock();
  log_(join_label(id, connection->peer()) + " joined");
  return connection.get();
}

void Hub::on_message(Connection& connection, const grpc::ByteBuffer& bytes) {
  const size_t size = bytes.Length();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    bytes_received_ += size;
  }
  auto refuse = [&](const std::string& reason, grpc::StatusCode code) {
    log_("refused " + join_label(connection.id(), connection.peer()) + ": " + reason);
    on_closed(connection, "refused: " + reason);
    connection.close(grpc::Status(code, reason));
  };
  if (size > max_message_bytes_) {
    refuse("a message of " + std::to_string(size) + " bytes is over the cap of " +
               std::to_string(max_message_bytes_) + " bytes",
           grpc::StatusCode::RESOURCE_EXHAUSTED);
    return;
  }
  std::vector<grpc::Slice> slices;
  std::string data;
  if (!bytes.Dump(&slices).ok()) {
    refuse("its message could not be read", grpc::StatusCode::INTERNAL);
    return;
  }
  data.reserve(size);
  for (const grpc::Slice& slice : slices) {
    data.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  flwr::proto::ClientMessage message;
  if (!message.ParseFromString(data)) {
    refuse(std::to_string(size) + " bytes that are not a ClientMessage (protobuf does not parse)",
           grpc::StatusCode::INVALID_ARGUMENT);
    return;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  auto found = clients_.find(connection.id());
  if (found == clients_.end() || !found->second.awaiting) {
    lock.unlock();
    refuse("it sent " + message_name(message) + " unasked (the server speaks first)",
           grpc::StatusCode::FAILED_PRECONDITION);
    return;
  }
  found->second.awaiting = false;
  found->second.reply = Reply{connection.id(), true, std::move(message), ""};
  changed_.notify_all();
}

void Hub::on_closed(Connection& connection, const std::string& reason) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto found = clients_.find(connection.id());
  if (found == clients_.end() || !found->second.alive) return;
  Client& client = found->second;
  client.alive = false;
  if (client.awaiting) {
    client.awaiting = false;
    client.reply = Reply{connection.id(), false, {}, reason};
  }
  ++generation_;
  changed_.notify_all();
  lock.unlock();
  log_(join_label(connection.id(), connection.peer()) + " left: " + reason);
}

void Hub::on_done(Connection& connection) {
  std::shared_ptr<Connection> last;
  std::unique_lock<std::mutex> lock(mutex_);
  auto found = clients_.find(connection.id());
  if (found == clients_.end()) return;
  Client& client = found->second;
  last = std::move(client.connection);
  if (client.alive) {
    client.alive = false;
    if (client.awaiting) {
      client.awaiting = false;
      client.reply = Reply{connection.id(), false, {}, "the stream ended"};
    }
    ++generation_;
  }
  changed_.notify_all();
  lock.unlock();
  // `last` may hold the final reference: the connection is deleted on return.
}

void Hub::on_sent(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  bytes_sent_ += bytes;
}

std::vector<Reply> Hub::exchange(
    const std::vector<std::pair<uint64_t, flwr::proto::ServerMessage>>& requests,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  std::vector<Reply> replies(requests.size());
  std::vector<std::shared_ptr<Connection>> targets(requests.size());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Forget clients whose streams are over and whose replies nobody waits for.
    for (auto it = clients_.begin(); it != clients_.end();) {
      const bool over = !it->second.connection && !it->second.awaiting;
      it = over ? clients_.erase(it) : std::next(it);
    }
    for (size_t i = 0; i < requests.size(); ++i) {
      replies[i] = Reply{requests[i].first, false, {}, "not connected"};
      auto found = clients_.find(requests[i].first);
      if (found == clients_.end() || !found->second.alive || !found->second.connection) continue;
      found->second.awaiting = true;
      found->second.reply.reset();
      targets[i] = found->second.connection;
    }
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    if (targets[i] && !targets[i]->send(requests[i].second.SerializeAsString())) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = clients_.find(requests[i].first);
      if (found != clients_.end() && found->second.awaiting) {
        found->second.awaiting = false;
        found->second.reply = Reply{requests[i].first, false, {}, "the stream is closing"};
      }
    }
  }
  std::vector<std::shared_ptr<Connection>> stragglers;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    auto all_answered = [&] {
      for (size_t i = 0; i < requests.size(); ++i) {
        auto found = clients_.find(requests[i].first);
        if (targets[i] && found != clients_.end() && found->second.awaiting) return false;
      }
      return true;
    };
    if (deadline) {
      changed_.wait_until(lock, *deadline, all_answered);
    } else {
      changed_.wait(lock, all_answered);
    }
    for (size_t i = 0; i < requests.size(); ++i) {
      auto found = clients_.find(requests[i].first);
      if (!targets[i] || found == clients_.end()) continue;
      Client& client = found->second;
      if (client.awaiting) {
        client.awaiting = false;
        client.alive = false;
        client.reply = Reply{client.info.id, false, {}, "no reply before the round timeout"};
        stragglers.push_back(targets[i]);
        ++generation_;
      }
      if (client.reply) replies[i] = std::move(*client.reply);
      client.reply.reset();
    }
  }
  for (const auto& straggler : stragglers) {
    log_(join_label(straggler->id(), straggler->peer()) + " timed out; disconnecting it");
    straggler->close(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "round timeout exceeded"));
  }
  return replies;
}

std::vector<Hub::ClientInfo> Hub::clients() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<ClientInfo> list;
  for (const auto& [id, client] : clients_) {
    if (client.alive && client.connection) list.push_back(client.info);
  }
  return list;
}

void Hub::set_identity(uint64_t id, int64_t partition_index) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = clients_.find(id);
  if (found == clients_.end()) return;
  found->second.info.identified = true;
  found->second.info.partition_index = partition_index;
}

uint64_t Hub::generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

void Hub::wait_for_change(uint64_t seen) const {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return generation_ != seen; });
}

void Hub::disconnect(uint64_t id, const grpc::Status& status) {
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = clients_.find(id);
    if (found == clients_.end()) return;
    connection = found->second.connection;
    if (found->second.alive) {
      found->second.alive = false;
      ++generation_;
      changed_.notify_all();
    }
  }
  if (connection) connection->close(status);
}

void Hub::disconnect_all(const grpc::Status& status) {
  std::vector<std::shared_ptr<Connection>> connections;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, client] : clients_) {
      if (client.connection) connections.push_back(client.connection);
      client.alive = false;
    }
    ++generation_;
    changed_.notify_all();
  }
  for (const auto& connection : connections) connection->close(status);
}

uint64_t Hub::bytes_sent() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_sent_;
}

uint64_t Hub::bytes_received() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_received_;
}

}  // namespace edgetrain::flower
