#pragma once
// Tells systemd what the daemon is doing, for a unit with Type=notify: READY=1 once it is subscribed
// and loaded, STATUS= one line, RELOADING=1 around a reload, STOPPING=1 on SIGTERM, and WATCHDOG=1
// while the main loop turns when the unit sets WatchdogSec=.
//
// This is the sd_notify(3) protocol: one datagram of "KEY=VALUE" lines to the unix socket named by
// $NOTIFY_SOCKET ("@..." for the abstract namespace). It is a documented, stable interface; speaking
// it directly keeps libsystemd (and a systemd upgrade to get its -dev package) off the gateway.
// Without $NOTIFY_SOCKET (started by hand, or by a test) every call does nothing.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace archer::daemon {

class ServiceManager {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
  ServiceManager();
  ~ServiceManager();
  ServiceManager(const ServiceManager&) = delete;
  ServiceManager& operator=(const ServiceManager&) = delete;

  void ready(std::string_view status);
  void reloading();
  void stopping();
  void status(std::string_view line);
  void watchdog();

  // How often watchdog() must be called: half of WatchdogSec=, or nothing when the unit sets none
  // (or the watchdog is meant for another process: WATCHDOG_PID).
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_interval_; }

 private:
  void send(const std::string& message);

  int socket_ = -1;
  std::string address_;  // the socket's path; a leading '\0' for the abstract namespace
  std::optional<std::chrono::microseconds> watchdog_interval_;
  bool warned_ = false;
};

}  // namespace archer::daemon
