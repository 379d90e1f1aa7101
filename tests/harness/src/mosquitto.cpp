#include "archer/testing/mosquitto.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "archer/testing/wait.h"

namespace archer::testing {
namespace {

constexpr const char* kMosquitto = "/usr/sbin/mosquitto";

std::string current_user() {
  if (const passwd* pw = getpwuid(geteuid()); pw != nullptr) return pw->pw_name;
  return "root";
}

}  // namespace

Mosquitto::Mosquitto() : Mosquitto(MosquittoOptions{}) {}

Mosquitto::Mosquitto(MosquittoOptions options) : options_(std::move(options)) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (start_on(free_port())) return;
  }
  throw std::runtime_error("mosquitto did not start; log:\n" + read_file(log_file()) +
                           read_file(dir_ / "mosquitto.stderr"));
}

Mosquitto::~Mosquitto() { stop(); }

std::string Mosquitto::uri() const { return fmt::format("tcp://127.0.0.1:{}", port_); }

std::string Mosquitto::tls_uri(const std::string& host) const { return fmt::format("ssl://{}:{}", host, tls_port_); }

bool Mosquitto::start_on(std::uint16_t port) {
  const auto conf = dir_ / "mosquitto.conf";
  const std::uint16_t tls_port = !options_.tls ? 0 : tls_port_ != 0 ? tls_port_ : free_port();
  {
    std::ofstream out(conf, std::ios::trunc);
    // Running as root, mosquitto would switch to the `mosquitto` user, which cannot write into our
    // temp dir; naming the current user keeps it as is.
    out << "user " << current_user() << "\n"
        << "listener " << port << " 127.0.0.1\n"
        << "allow_anonymous " << (options_.allow_anonymous ? "true" : "false") << "\n"
        << "persistence true\n"
        << "persistence_location " << dir_.path().string() << "/\n"
        << "persistence_file mosquitto.db\n"
        << "autosave_interval 0\n"
        << "max_queued_messages 0\n"
        << "max_queued_bytes 0\n"
        << "max_inflight_messages 0\n"
        << "message_size_limit 0\n"
        << "log_dest file " << log_file().string() << "\n"
        << "log_type all\n"
        << "log_timestamp_format %Y-%m-%dT%H:%M:%S\n"
        << "connection_messages true\n"
        << options_.extra_config << "\n";
    if (const auto& tls = options_.tls) {
      // Last, so that the lines above stay the plain listener's.
      out << "listener " << tls_port << " 127.0.0.1\n"
          << "cafile " << tls->cafile.string() << "\n"
          << "certfile " << tls->certfile.string() << "\n"
          << "keyfile " << tls->keyfile.string() << "\n"
          << "tls_version " << tls->tls_version << "\n"
          << "require_certificate " << (tls->require_certificate ? "true" : "false") << "\n";
    }
    if (!out) throw std::runtime_error("cannot write " + conf.string());
  }
  ProcessOptions popts;
  popts.capture_stdout = false;
  popts.stderr_file = dir_ / "mosquitto.stderr";
  auto process = std::make_unique<Process>(std::vector<std::string>{kMosquitto, "-c", conf.string()}, popts);
  const bool up = wait_until(
      [&] { return !process->running() || (tcp_port_open(port) && (tls_port == 0 || tcp_port_open(tls_port))); },
      std::chrono::seconds(10));
  if (!up || !process->running()) {
    process->terminate();
    return false;
  }
  port_ = port;
  tls_port_ = tls_port;
  process_ = std::move(process);
  return true;
}

void Mosquitto::stop() {
  if (!process_) return;
  const int status = process_->terminate(std::chrono::seconds(10));
  process_.reset();
  if (status != 0) {
    ADD_FAILURE() << "mosquitto exited with status " << status << "; log " << log_file();
  }
}

void Mosquitto::start() {
  if (process_) return;
  // The old listening socket is gone and mosquitto sets SO_REUSEADDR, so the port is normally free at
  // once; retry briefly in case another process grabbed it in between.
  const bool started = wait_until([&] { return start_on(port_); }, std::chrono::seconds(10), std::chrono::milliseconds(200));
  if (!started) {
    throw std::runtime_error(fmt::format("mosquitto did not start again on port {}; log:\n{}", port_,
                                         read_file(log_file())));
  }
}

void Mosquitto::restart() {
  stop();
  start();
}

}  // namespace archer::testing
