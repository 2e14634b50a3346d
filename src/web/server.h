// `edgetrain serve`: a local web app (draw digits and see predictions, watch training live,
// personalise the model with one's own handwriting) and its JSON API, on cpp-httplib.
//
//   web::Server server({.port = 0});  // loads the model; 0: any free port
//   int port = server.start();         // serves on background threads
//   ...
//   server.stop();                     // stops training, finishes requests in flight
//
// Routes: web/routes_*.cpp; the page: web/static/ (embedded at build time, see assets.h).
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cli/datasets.h"
#include "web/event_hub.h"
#include "web/model_host.h"
#include "web/samples.h"
#include "web/training.h"

namespace edgetrain::web {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;    // 0: any free port
  std::string token;  // checked on every API call when set; made up for a non-loopback host
  std::string model;  // --model; empty: default_model if that file exists, else the LeNet
  std::string default_model = "data/lenet.mlmodel";
  cli::DataRequest data;
  std::string samples_dir = "samples";
  size_t train_limit = 0, test_limit = 0;  // 0: every image
  int http_threads = 32;                   // each event stream holds one
  TrainerOptions trainer;
};

// Everything the routes share.
struct ServerState {
  explicit ServerState(ServerOptions options);  // loads the model; throws Error
  ServerOptions options;
  std::string model_file;  // where POST /api/model/save writes (--model, else default_model)
  ModelHost models;
  EventHub events;
  SampleStore samples;
  DataHolder data;
  Trainer trainer;
  std::mutex save_mutex;  // one model save at a time
  std::atomic<bool> stopping{false};
};

class Server {
 public:
  explicit Server(ServerOptions options);  // loads the model; throws Error
  ~Server();                               // stop()
  // Binds and serves on background threads; returns the port. Throws Error when it cannot bind.
  int start();
  // Stops any training (after its current mini-batch), ends the event streams, waits for the
  // requests in flight (a sample or model being written is finished) and closes the socket.
  void stop();
  int port() const { return port_; }
  // http://host:port/ with ?token=... when a token is set.
  std::string url() const;
  ServerState& state() { return *state_; }

 private:
  void add_routes();
  std::unique_ptr<ServerState> state_;
  // httplib's server, with a way to its listening socket: Debian's build listens with a backlog
  // of 5, too few for a handful of clients connecting at once (a dropped SYN waits a second).
  struct Http : httplib::Server {
    socket_t listening_socket() const { return svr_sock_; }
  };
  Http http_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  int port_ = 0;
  std::once_flag stopped_;
};

}  // namespace edgetrain::web
