#include "archer/daemon/service_manager.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "archer/core/log.h"

namespace archer::daemon {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// The sd_notify(3) rule: a positive number, and, when WATCHDOG_PID is set, meant for this process.
std::optional<std::chrono::microseconds> watchdog_from_environment() {
  const std::string usec = env("WATCHDOG_USEC");
  if (usec.empty()) return std::nullopt;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(usec.c_str(), &end, 10);
  if (*end != '\0' || value == 0) return std::nullopt;
  if (const std::string pid = env("WATCHDOG_PID"); !pid.empty() && pid != std::to_string(::getpid())) {
    return std::nullopt;
  }
  return std::chrono::microseconds(value / 2);
}

// CLOCK_MONOTONIC in microseconds: RELOADING=1 carries it (MONOTONIC_USEC=), as systemd 253's
// Type=notify-reload requires; earlier systemd ignores the field.
unsigned long long monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
         static_cast<unsigned long long>(now.tv_nsec) / 1000;
}

}  // namespace

ServiceManager::ServiceManager() {
  address_ = env("NOTIFY_SOCKET");
  if (address_.empty()) return;
  if (address_.front() == '@') address_.front() = '\0';
  if (address_.front() != '/' && address_.front() != '\0') {
    log::warn("systemd", "NOTIFY_SOCKET '{}' is neither a path nor an abstract socket: not notifying", address_);
    address_.clear();
    return;
  }
  if (address_.size() >= sizeof(sockaddr_un::sun_path)) {
    log::warn("systemd", "NOTIFY_SOCKET is longer than a unix socket address: not notifying");
    address_.clear();
    return;
  }
  socket_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (socket_ < 0) {
    log::warn("systemd", "cannot open a socket to notify systemd: {}", std::strerror(errno));
    address_.clear();
    return;
  }
  watchdog_interval_ = watchdog_from_environment();
}

ServiceManager::~ServiceManager() {
  if (socket_ >= 0) ::close(socket_);
}

void ServiceManager::ready(std::string_view status) { send("READY=1\nSTATUS=" + std::string(status)); }

void ServiceManager::reloading() { send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec())); }

void ServiceManager::stopping() { send("STOPPING=1"); }

void ServiceManager::status(std::string_view line) { send("STATUS=" + std::string(line)); }

void ServiceManager::watchdog() { send("WATCHDOG=1"); }

void ServiceManager::send(const std::string& message) {
  if (socket_ < 0) return;
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::memcpy(to.sun_path, address_.data(), address_.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  if (::sendto(socket_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&to), length) <
          0 &&
      !warned_) {
    // Once: systemd that is gone or restarting must not fill the journal.
    warned_ = true;
    log::warn("systemd", "cannot notify systemd through NOTIFY_SOCKET: {}", std::strerror(errno));
  }
}

}  // namespace archer::daemon
