// The server's side of the Join streams: one Connection (a gRPC callback reactor over raw bytes)
// per client, and the Hub that keeps them and lets the round loop exchange messages with them.
//
// Every byte from a client is untrusted. A message longer than the cap is refused by its length
// before it is parsed; bytes that are not a ClientMessage, or a message nobody asked for, close
// the stream; each refusal is logged with its reason. (gRPC itself drops anything over twice the
// cap before it reaches us, so memory stays bounded.)
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "flower/flower_transport.pb.h"

namespace edgetrain::flower {

class Hub;

class Connection : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  Connection(Hub& hub, uint64_t id, std::string peer, grpc::CallbackServerContext* context);
  uint64_t id() const { return id_; }
  const std::string& peer() const { return peer_; }
  // Queues one message; false when the stream is already closing.
  bool send(std::string bytes);
  // Ends the stream with this status (once; later calls do nothing).
  void close(const grpc::Status& status);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void start_next_write_locked(std::unique_lock<std::mutex>& lock);

  Hub& hub_;
  const uint64_t id_;
  const std::string peer_;
  grpc::CallbackServerContext* const context_;  // valid until OnDone
  std::mutex mutex_;
  grpc::ByteBuffer incoming_;
  grpc::ByteBuffer outgoing_;
  std::vector<std::string> queue_;  // messages waiting for the current write to finish
  bool writing_ = false;
  bool finished_ = false;  // Finish called
};

// One reply to an exchange: the message, or why there is none.
struct Reply {
  uint64_t client = 0;
  bool ok = false;
  flwr::proto::ClientMessage message;
  std::string failure;
};

class Hub {
 public:
  Hub(size_t max_message_bytes, std::function<void(const std::string&)> log);

  // gRPC's entry point for each new Join stream.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* accept(
      grpc::CallbackServerContext* context);

  // Sends each client its message and waits until every one has answered, failed or (with a
  // deadline) timed out; a client that times out is disconnected. Replies in request order.
  std::vector<Reply> exchange(
      const std::vector<std::pair<uint64_t, flwr::proto::ServerMessage>>& requests,
      std::optional<std::chrono::steady_clock::time_point> deadline);

  struct ClientInfo {
    uint64_t id = 0;
    std::string peer;
    bool identified = false;
    int64_t partition_index = -1;
  };
  std::vector<ClientInfo> clients() const;  // connected ones, in join order
  void set_identity(uint64_t id, int64_t partition_index);
  // Blocks until a client joins or leaves after `seen` (see generation()).
  void wait_for_change(uint64_t seen) const;
  uint64_t generation() const;
  void disconnect(uint64_t id, const grpc::Status& status);
  void disconnect_all(const grpc::Status& status);
  uint64_t bytes_sent() const;
  uint64_t bytes_received() const;

  // Called by connections.
  void on_message(Connection& connection, const grpc::ByteBuffer& bytes);
  void on_closed(Connection& connection, const std::string& reason);
  void on_done(Connection& connection);
  void on_sent(size_t bytes);
  void log(const std::string& line) const { log_(line); }

 private:
  struct Client {
    std::shared_ptr<Connection> connection;
    ClientInfo info;
    bool alive = true;
    bool awaiting = false;
    std::optional<Reply> reply;
  };

  const size_t max_message_bytes_;
  const std::function<void(const std::string&)> log_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<uint64_t, Client> clients_;
  uint64_t next_id_ = 1;
  uint64_t generation_ = 0;
  uint64_t bytes_sent_ = 0, bytes_received_ = 0;
};

}  // namespace edgetrain::flower
