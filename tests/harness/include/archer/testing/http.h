#pragma once
// A minimal HTTP/1.1 client for the bridge's endpoint on loopback (/readyz, /metrics, /status.json).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace archer::testing {

struct HttpReply {
  int status = 0;
  std::string body;
  std::string headers;  // the header lines as sent, "Name: value\r\n" each
};

// GET http://127.0.0.1:<port><path>; nullopt when nothing complete answered within `timeout`
// (connection refused, no listener loop yet, a cut answer).
std::optional<HttpReply> http_get(std::uint16_t port, const std::string& path,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(2));
// The same with another method (HEAD, POST: no request body).
std::optional<HttpReply> http_request(std::uint16_t port, const std::string& method, const std::string& path,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace archer::testing
