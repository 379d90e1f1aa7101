#include "archer/testing/bridge.h"

#include <csignal>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "archer/testing/wait.h"

namespace archer::testing {

Bridge::Bridge(const std::string& mqtt_uri, const std::string& bootstrap, const std::string& sections,
               const std::string& client_id, const std::string& kafka_properties)
    : config_file_(dir_ / "gateway.toml") {
  std::ofstream(config_file_) << fmt::format(R"([gateway]
id = "gw-test"

[mqtt]
uri = "{}"
client_id = "{}"
session_expiry = "1h"

[kafka]
"bootstrap.servers" = "{}"
"topic.metadata.refresh.interval.ms" = 1000
"reconnect.backoff.max.ms" = 500
{}

[spool]
dir = "{}"

{})",
                                             mqtt_uri, client_id, bootstrap, kafka_properties,
                                             (dir_ / "spool").string(), sections);
}

Bridge::~Bridge() {
  if (process_ && process_->running()) process_->terminate(std::chrono::seconds(30));
}

void Bridge::start() {
  // Each start appends to the same log, so "subscribed" is counted per start.
  ++starts_;
  ProcessOptions options =
      ProcessOptions{}.without_stdout_capture().with_stderr_file(log_file()).with_env("ARCHER_LOG_TIMESTAMPS=1");
  for (const std::string& entry : env_) options.with_env(entry);
  process_ = std::make_unique<Process>(
      std::vector<std::string>{std::string(ARCHER_BIN_DIR) + "/archer-bridge", "--config", config_file_.string()},
      options);
  const bool ready = wait_until(
      [&] {
        const std::string text = log();
        std::size_t count = 0;
        for (std::size_t at = text.find("subscribed to"); at != std::string::npos; at = text.find("subscribed to", at + 1)) ++count;
        return count >= static_cast<std::size_t>(starts_) || !process_->running();
      },
      std::chrono::seconds(20), std::chrono::milliseconds(20));
  ASSERT_TRUE(ready && process_->running()) << "archer-bridge did not become ready:\n" << log();
}

int Bridge::stop(std::chrono::milliseconds timeout) {
  if (!process_) return -1;
  process_->kill(SIGTERM);
  const auto status = process_->wait_exit(timeout);
  EXPECT_TRUE(status) << "archer-bridge did not exit within the drain timeout:\n" << log();
  if (!status) {
    process_->kill(SIGKILL);
    process_->wait_exit(std::chrono::seconds(5));
    return -1;
  }
  return *status;
}

void Bridge::kill9() {
  if (!process_) return;
  process_->kill(SIGKILL);
  process_->wait_exit(std::chrono::seconds(10));
}

std::string Bridge::log() const { return read_file(log_file()); }

}  // namespace archer::testing
