#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "archer/testing/process.h"
#include "archer/testing/temp_dir.h"

namespace archer::testing {

struct MosquittoOptions {
  std::string extra_config;  // appended verbatim to the generated mosquitto.conf
  // false: every client must authenticate (give password_file, acl_file in extra_config).
  bool allow_anonymous = true;
};

// A real /usr/sbin/mosquitto on a free 127.0.0.1 port with anonymous access, persistence in its temp dir,
// no queue limits and a log file (log_file()). The constructor returns once the port accepts
// connections (10 s deadline; another port is tried if the broker could not bind).
class Mosquitto {
 public:
  Mosquitto();
  explicit Mosquitto(MosquittoOptions options);
  ~Mosquitto();
  Mosquitto(const Mosquitto&) = delete;
  Mosquitto& operator=(const Mosquitto&) = delete;

  std::string uri() const;  // "tcp://127.0.0.1:PORT"
  std::uint16_t port() const { return port_; }
  // SIGTERM (mosquitto saves its persistent state), wait, start again on the same port.
  void restart();
  void stop();   // SIGTERM and wait; start() brings it back on the same port
  void start();
  bool running() const { return process_ != nullptr; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path log_file() const { return dir_ / "mosquitto.log"; }

 private:
  bool start_on(std::uint16_t port);

  MosquittoOptions options_;
  TempDir dir_{"archer-mosquitto"};
  std::uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace archer::testing
