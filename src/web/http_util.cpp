#include "web/http_util.h"

#include <arpa/inet.h>

#include <cstring>

namespace edgetrain::web {

void send_json(httplib::Response& res, const nlohmann::json& body, int status) {
  res.status = status;
  // Replaces invalid UTF-8 (an error message quoting a client's bytes) instead of throwing.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, {{"error", message}}, status);
}

httplib::Server::HandlerWithContentReader with_body(size_t max_bytes, BodyHandler handler) {
  return
      [max_bytes, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                                const httplib::ContentReader& read) {
        std::string body;
        bool too_long = false;
        const bool complete = read([&](const char* data, size_t size) {
          if (body.size() + size > max_bytes) {
            too_long = true;
            return false;
          }
          body.append(data, size);
          return true;
        });
        // httplib answers 413 itself (without calling the receiver) past its own payload limit.
        if (too_long || res.status == 413) {
          res.set_header("Connection", "close");  // the rest of the body is never read
          send_error(res, 413,
                     "the request body is larger than the " + std::to_string(max_bytes) +
                         " bytes this route takes");
          return;
        }
        if (!complete) {
          send_error(res, 400, "the request body could not be read");
          return;
        }
        handler(req, res, body);
      };
}

nlohmann::json parse_json_object(const std::string& body) {
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw HttpError(400, std::string("invalid JSON: ") + e.what());
  }
  if (!value.is_object()) throw HttpError(400, "the body must be a JSON object");
  return value;
}

bool is_png(const httplib::Request& req, const std::string& body) {
  static const char kSignature[] = "\x89PNG\r\n\x1a\n";
  return body.compare(0, 8, kSignature, 8) == 0 ||
         req.get_header_value("Content-Type").rfind("image/png", 0) == 0;
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Every byte of the longer string is visited, whatever the contents; a length difference fails.
  const size_t length = std::max(a.size(), b.size());
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < length; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= static_cast<unsigned char>(x ^ y);
  }
  return difference == 0;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return std::memcmp(&v6, &in6addr_loopback, sizeof v6) == 0;
  }
  return false;
}

std::string request_token(const httplib::Request& req) {
  const std::string authorization = req.get_header_value("Authorization");
  if (authorization.rfind("Bearer ", 0) == 0) return authorization.substr(7);
  if (req.has_header("X-Edgetrain-Token")) return req.get_header_value("X-Edgetrain-Token");
  return req.get_param_value("token");
}

}  // namespace edgetrain::web
