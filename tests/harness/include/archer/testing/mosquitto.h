#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "archer/testing/process.h"
#include "archer/testing/temp_dir.h"

namespace archer::testing {

// A second listener, with TLS, on its own free 127.0.0.1 port (Mosquitto::tls_port()); the plain one
// stays for test devices. The files must be readable by mosquitto.
struct MosquittoTlsListener {
  std::filesystem::path cafile;    // CA of the client certificates it accepts
  std::filesystem::path certfile;  // the broker's certificate and key
  std::filesystem::path keyfile;
  bool require_certificate = false;
  std::string tls_version = "tlsv1.2";  // the minimum it accepts
};

struct MosquittoOptions {
  std::string extra_config;  // appended verbatim to the generated mosquitto.conf
  // false: every client must authenticate (give password_file, acl_file in extra_config).
  bool allow_anonymous = true;
  std::optional<MosquittoTlsListener> tls = std::nullopt;
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
  // The TLS listener's (MosquittoOptions::tls; 0 without): "ssl://HOST:TLS_PORT".
  std::uint16_t tls_port() const { return tls_port_; }
  std::string tls_uri(const std::string& host = "127.0.0.1") const;
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
  std::uint16_t tls_port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace archer::testing
