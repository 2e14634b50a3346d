// The HTTP plumbing every route shares: JSON answers and errors, bodies read within a limit, the
// access token.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace edgetrain::web {

// A request the server refuses with a 4xx status and a JSON error; route handlers throw it and
// the exception handler answers it (edgetrain::Error from the library becomes 400).
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

void send_json(httplib::Response& res, const nlohmann::json& body, int status = 200);
// {"error": message} with `status`.
void send_error(httplib::Response& res, int status, const std::string& message);

// The largest bodies the routes take: JSON and PNG drawings, and model uploads.
constexpr size_t kMaxRequestBytes = size_t(4) << 20;
constexpr size_t kMaxModelBytes = size_t(64) << 20;

// A route that reads its request body itself, so that no body (Content-Length or chunked) is
// held beyond `max_bytes`: a longer one is answered 413 without calling `handler`.
using BodyHandler =
    std::function<void(const httplib::Request&, httplib::Response&, const std::string& body)>;
httplib::Server::HandlerWithContentReader with_body(size_t max_bytes, BodyHandler handler);

// The body parsed as JSON (an object), else HttpError 400 naming the parse error.
nlohmann::json parse_json_object(const std::string& body);
// True when the body is a PNG file (by its signature, or a Content-Type of image/png).
bool is_png(const httplib::Request& req, const std::string& body);

// Compares in time independent of where the strings differ (token checks).
bool constant_time_equal(const std::string& a, const std::string& b);
// 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);
// The token a request carries: "Authorization: Bearer T", "X-Edgetrain-Token: T" or "?token=T".
std::string request_token(const httplib::Request& req);

}  // namespace edgetrain::web
