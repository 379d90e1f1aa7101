#pragma once
// Runs the real archer-bridge binary against a test's Mosquitto and archer-devkafka, with a config
// written by the test. Ready when its GET /readyz answers 200: the HTTP endpoint listens on a free
// loopback port the harness picks (or on the one of the test's own [http] table, when `sections`
// has one), which http_port() gives for tests that read /metrics.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "archer/testing/process.h"
#include "archer/testing/temp_dir.h"

namespace archer::testing {

class Bridge {
 public:
  // `sections` is appended to a generated [gateway]/[mqtt]/[kafka]/[http]/[spool] head: keys before
  // its first table header land in [spool]. `kafka_properties` are lines added to the [kafka] table.
  // `gateway_id` is [gateway] id: tests that share one Kafka cluster give each bridge its own, so that
  // consumer groups and the snapshot.<gateway> topic are not shared between tests. `mqtt_properties`
  // are lines added to the [mqtt] table (username, password_file).
  Bridge(const std::string& mqtt_uri, const std::string& bootstrap, const std::string& sections,
         const std::string& client_id = "archer-test-gw", const std::string& kafka_properties = "",
         const std::string& gateway_id = "gw-test", const std::string& mqtt_properties = "");
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // "NAME=value" in the bridge's environment from the next start() on (test hooks).
  void add_env(std::string name_value) { env_.push_back(std::move(name_value)); }
  // From the next start() on, runs the bridge behind `wrapper` (e.g. valgrind and its options), with
  // a minute to become ready instead of 20 s.
  void run_under(std::vector<std::string> wrapper) { wrapper_ = std::move(wrapper); }
  void start();  // and wait until GET /readyz answers 200 (fails the test after 20 s, with the log)
  // Starts it and waits only until GET /readyz answers at all: for a bridge that is not ready on
  // purpose (Kafka away).
  void launch();
  // SIGTERM and wait for the exit; returns the exit code.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void kill9();

  const std::filesystem::path& config_file() const { return config_file_; }
  std::filesystem::path log_file() const { return dir_ / "bridge.log"; }
  std::string log() const;
  Process* process() { return process_.get(); }
  std::uint16_t http_port() const { return http_port_; }

 private:
  TempDir dir_{"archer-bridge"};
  std::filesystem::path config_file_;
  std::uint16_t http_port_ = 0;
  std::unique_ptr<Process> process_;
  std::vector<std::string> env_;
  std::vector<std::string> wrapper_;

  void wait_for_readyz(bool until_ready);
};

}  // namespace archer::testing
