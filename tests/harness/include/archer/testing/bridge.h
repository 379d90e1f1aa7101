#pragma once
// Runs the real archer-bridge binary against a test's Mosquitto and archer-devkafka, with a config
// written by the test. Ready when its log says every MQTT subscription was granted.
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
  // `sections` is appended to a generated [gateway]/[mqtt]/[kafka]/[spool] head.
  // `kafka_properties` are lines added to the [kafka] table.
  Bridge(const std::string& mqtt_uri, const std::string& bootstrap, const std::string& sections,
         const std::string& client_id = "archer-test-gw", const std::string& kafka_properties = "");
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // "NAME=value" in the bridge's environment from the next start() on (test hooks).
  void add_env(std::string name_value) { env_.push_back(std::move(name_value)); }
  void start();  // and wait until ready (fails the test after 20 s)
  // SIGTERM and wait for the exit; returns the exit code.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void kill9();

  const std::filesystem::path& config_file() const { return config_file_; }
  std::filesystem::path log_file() const { return dir_ / "bridge.log"; }
  std::string log() const;
  Process* process() { return process_.get(); }

 private:
  TempDir dir_{"archer-bridge"};
  std::filesystem::path config_file_;
  std::unique_ptr<Process> process_;
  int starts_ = 0;
  std::vector<std::string> env_;
};

}  // namespace archer::testing
