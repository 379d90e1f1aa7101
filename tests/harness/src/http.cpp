#include "archer/testing/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

namespace archer::testing {

std::optional<HttpReply> http_get(std::uint16_t port, const std::string& path, std::chrono::milliseconds timeout) {
  return http_request(port, "GET", path, timeout);
}

std::optional<HttpReply> http_request(std::uint16_t port, const std::string& method, const std::string& path,
                                      std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (ok) {
    const std::string request =
        fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", method, path);
    ok = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
  }
  // The server closes the connection after its answer: read to EOF or the deadline.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ok) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ok = false;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[16384];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0) ok = false;
    if (n <= 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const std::size_t body = response.find("\r\n\r\n");
  if (!ok || response.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) return std::nullopt;
  // "HTTP/1.1 200 OK"
  const std::size_t space = response.find(' ');
  const std::size_t headers = response.find("\r\n") + 2;
  return HttpReply{std::atoi(response.c_str() + space + 1), response.substr(body + 4),
                   response.substr(headers, body + 2 - headers)};
}

}  // namespace archer::testing
