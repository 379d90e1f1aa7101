#include "archer/core/tcp_nodelay.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <charconv>
#include <cstdlib>
#include <string>

namespace archer {

int mqtt_uri_port(std::string_view uri) {
  const auto scheme_end = uri.find("://");
  const std::string_view scheme = scheme_end == std::string_view::npos ? "tcp" : uri.substr(0, scheme_end);
  std::string_view rest = scheme_end == std::string_view::npos ? uri : uri.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('/'));
  // The port follows the last ':' outside an IPv6 literal's brackets.
  const auto bracket = rest.rfind(']');
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    int port = 0;
    const std::string_view digits = rest.substr(colon + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    return error == std::errc() && end == digits.data() + digits.size() && port > 0 && port < 65536 ? port : 0;
  }
  if (scheme == "tcp" || scheme == "mqtt") return 1883;
  if (scheme == "ssl" || scheme == "mqtts") return 8883;
  if (scheme == "ws") return 80;
  if (scheme == "wss") return 443;
  return 0;
}

int disable_nagle_to_port(int port) {
  if (port <= 0) return 0;
  DIR* fds = ::opendir("/proc/self/fd");
  if (fds == nullptr) return 0;
  int changed = 0;
  const int own = ::dirfd(fds);
  while (const dirent* entry = ::readdir(fds)) {
    const int fd = std::atoi(entry->d_name);
    if (entry->d_name[0] == '.' || fd == own) continue;
    int type = 0;
    socklen_t length = sizeof(type);
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM) continue;
    sockaddr_storage peer{};
    length = sizeof(peer);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) continue;
    int peer_port = 0;
    if (peer.ss_family == AF_INET) {
      peer_port = ntohs(reinterpret_cast<const sockaddr_in&>(peer).sin_port);
    } else if (peer.ss_family == AF_INET6) {
      peer_port = ntohs(reinterpret_cast<const sockaddr_in6&>(peer).sin6_port);
    } else {
      continue;  // a Unix socket: no Nagle
    }
    if (peer_port != port) continue;
    int on = 0;
    length = sizeof(on);
    if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &length) == 0 && on != 0) continue;
    on = 1;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == 0) ++changed;
  }
  ::closedir(fds);
  return changed;
}

}  // namespace archer
