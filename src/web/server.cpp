#include "web/server.h"

#include <sys/socket.h>

#include <csignal>
#include <filesystem>
#include <random>

#include "edgetrain/error.h"
#include "edgetrain/io.h"
#include "web/assets.h"
#include "web/http_util.h"
#include "web/routes.h"

namespace edgetrain::web {
namespace {

// The seed's LeNet as the page trains it: its update defaults (Adam 1e-3, batch 128, 10 epochs),
// but any epoch count from 1 to 100 and batch size from 1 to 1024 allowed, so a short run can be
// tried (lenet() allows exactly its defaults, as the seed declares them).
Model serve_lenet() {
  Model model = lenet();
  model.update->epochs.set.clear();
  model.update->epochs.range = std::array<int64_t, 2>{1, 100};
  Adam& adam = std::get<Adam>(model.update->optimizer);
  adam.mini_batch_size.set.clear();
  adam.mini_batch_size.range = std::array<int64_t, 2>{1, 1024};
  return model;
}

std::shared_ptr<const ModelSnapshot> first_model(const ServerOptions& options) {
  if (!options.model.empty()) {
    return std::make_shared<const ModelSnapshot>(load_model(options.model), 1, options.model);
  }
  std::error_code error;
  if (std::filesystem::is_regular_file(options.default_model, error)) {
    return std::make_shared<const ModelSnapshot>(load_model(options.default_model), 1,
                                                 options.default_model);
  }
  return std::make_shared<const ModelSnapshot>(serve_lenet(), 1, "LeNet, untrained");
}

std::string made_up_token() {
  std::random_device random;
  std::string token;
  for (int i = 0; i < 8; ++i) {
    char part[9];
    std::snprintf(part, sizeof part, "%08x", unsigned(random()));
    token += part;
  }
  return token;
}

ServerOptions with_token(ServerOptions options) {
  if (options.token.empty() && !is_loopback_host(options.host)) options.token = made_up_token();
  return options;
}

// A loopback server without a token must not be reachable from other sites' pages: a Host that is
// not a loopback name (DNS rebinding) or a foreign Origin (a cross-site form post) is refused.
bool trusted_browser_request(const httplib::Request& req) {
  const std::string host = req.get_header_value("Host");
  std::string name = host;
  if (!name.empty() && name.front() == '[') {
    name = name.substr(1, name.find(']') == std::string::npos ? 0 : name.find(']') - 1);
  } else if (name.find(':') != std::string::npos) {
    name = name.substr(0, name.find(':'));
  }
  if (!host.empty() && !is_loopback_host(name)) return false;
  const std::string origin = req.get_header_value("Origin");
  return origin.empty() || origin == "http://" + host;
}

// Messages for the refusals httplib makes before any route runs.
std::string status_text(int status) {
  switch (status) {
    case 400:
      return "the request is malformed";
    case 404:
      return "no such route";
    case 413:
      return "the request body is too large";
    case 414:
      return "the request line is too long";
    case 416:
      return "the requested range is malformed";
    default:
      return "HTTP status " + std::to_string(status);
  }
}

}  // namespace

ServerState::ServerState(ServerOptions opts)
    : options(with_token(std::move(opts))),
      model_file(options.model.empty() ? options.default_model : options.model),
      models(first_model(options)),
      samples(options.samples_dir),
      data(options.data, options.train_limit, options.test_limit),
      trainer(models, events, options.trainer) {}

Server::Server(ServerOptions options) : state_(std::make_unique<ServerState>(std::move(options))) {
  const int threads = std::max(4, state_->options.http_threads);
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  http_.set_payload_max_length(kMaxModelBytes);
  http_.set_tcp_nodelay(true);  // else small answers wait for the client's delayed ACK (40 ms)
  // SO_REUSEADDR only: httplib's default, SO_REUSEPORT, would let a second server share the port.
  http_.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  add_routes();
}

Server::~Server() {
  stop();
}

void Server::add_routes() {
  ServerState& state = *state_;
  http_.set_pre_routing_handler([&state](const httplib::Request& req, httplib::Response& res) {
    // A request without Content-Length or chunked encoding has no body (RFC 9112 6.3); httplib
    // would read one until the connection closes (curl's DELETE, say), so say it is empty.
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
      const_cast<httplib::Request&>(req).set_header("Content-Length", "0");
    }
    const bool api = req.path.rfind("/api/", 0) == 0;
    if (!state.options.token.empty()) {
      if (api && !constant_time_equal(request_token(req), state.options.token)) {
        send_error(res, 401, "this server needs its token: ?token=... or Authorization: Bearer");
        return httplib::Server::HandlerResponse::Handled;
      }
    } else if (!trusted_browser_request(req)) {
      send_error(res, 403,
                 "requests from other sites are refused (start the server with a token "
                 "to use it from elsewhere)");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // httplib's own refusals (a bad request line, a body past its limit) get a JSON body too.
  http_.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty() || res.content_provider_) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        send_error(res, res.status, status_text(res.status));
        return httplib::Server::HandlerResponse::Handled;
      }));
  http_.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr exception) {
        try {
          std::rethrow_exception(exception);
        } catch (const HttpError& e) {
          send_error(res, e.status, e.what());
        } catch (const Error& e) {
          send_error(res, 400, e.what());
        } catch (const std::bad_alloc&) {
          send_error(res, 500, "out of memory");
        } catch (const std::exception& e) {
          send_error(res, 500, std::string("internal error: ") + e.what());
        } catch (...) {
          send_error(res, 500, "internal error");
        }
      });

  add_model_routes(http_, state);
  add_training_routes(http_, state);
  add_sample_routes(http_, state);

  // The page, then a JSON 404 for everything else, whatever the method (bodies read within limits).
  http_.Get("(/.*)", [](const httplib::Request& req, httplib::Response& res) {
    const Asset* asset = req.path.rfind("/api/", 0) == 0 ? nullptr : find_asset(req.path);
    if (!asset) throw HttpError(404, "no such page or route: GET " + req.path);
    res.set_content(asset->bytes.data(), asset->bytes.size(), std::string(asset->content_type));
  });
  auto not_found = with_body(
      kMaxRequestBytes, [](const httplib::Request& req, httplib::Response&, const std::string&) {
        throw HttpError(404, "no such route: " + req.method + " " + req.path);
      });
  http_.Post("(/.*)", not_found);
  http_.Put("(/.*)", not_found);
  http_.Patch("(/.*)", not_found);
  http_.Delete("(/.*)", not_found);
}

int Server::start() {
  // A client closing its connection mid-answer must not end the process.
  std::signal(SIGPIPE, SIG_IGN);
  const ServerOptions& options = state_->options;
  if (options.port == 0) {
    port_ = http_.bind_to_any_port(options.host);
  } else {
    port_ = http_.bind_to_port(options.host, options.port) ? options.port : -1;
  }
  if (port_ <= 0) {
    throw Error("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                " (in use, or not an address of this machine)");
  }
  ::listen(http_.listening_socket(), SOMAXCONN);  // a longer queue of connections to accept
  listener_ = std::thread([this] {
    http_.listen_after_bind();
    listener_done_ = true;
  });
  // stop() only reaches a server that is running: wait for its accept loop to begin.
  while (!http_.is_running() && !listener_done_) std::this_thread::yield();
  return port_;
}

void Server::stop() {
  std::call_once(stopped_, [this] {
    ServerState& state = *state_;
    state.stopping = true;
    state.events.close();  // event streams end, so their threads are free to join
    if (listener_.joinable()) {
      http_.stop();  // waits for the requests in flight
      listener_.join();
    }
    state.trainer.stop();  // after the current mini-batch
  });
}

std::string Server::url() const {
  const std::string& host = state_->options.host;
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string url = "http://" + shown + ":" + std::to_string(port_) + "/";
  if (!state_->options.token.empty()) url += "?token=" + state_->options.token;
  return url;
}

}  // namespace edgetrain::web
