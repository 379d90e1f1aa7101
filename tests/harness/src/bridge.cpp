#include "archer/testing/bridge.h"

#include <csignal>
#include <fstream>
#include <optional>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "archer/testing/http.h"
#include "archer/testing/wait.h"

namespace archer::testing {

namespace {

// The port of an [http] table in `sections`, when they have one (a test that sets its own listen).
std::optional<std::uint16_t> own_http_port(const std::string& sections) {
  static const std::regex kHttp(R"re((^|\n)\[http\][^\[]*\nlisten\s*=\s*"[^"]*:([0-9]+)")re");
  std::smatch found;
  if (!std::regex_search(sections, found, kHttp)) return std::nullopt;
  return static_cast<std::uint16_t>(std::stoi(found[2].str()));
}

}  // namespace

Bridge::Bridge(const std::string& mqtt_uri, const std::string& bootstrap, const std::string& sections,
               const std::string& client_id, const std::string& kafka_properties, const std::string& gateway_id,
               const std::string& mqtt_properties)
    : config_file_(dir_ / "gateway.toml") {
  const auto own_port = own_http_port(sections);
  http_port_ = own_port.value_or(free_port());
  const std::string http = own_port ? "" : fmt::format("[http]\nlisten = \"127.0.0.1:{}\"\n\n", http_port_);
  std::ofstream(config_file_) << fmt::format(R"([gateway]
id = "{}"

[mqtt]
uri = "{}"
client_id = "{}"
session_expiry = "1h"
{}

[kafka]
"bootstrap.servers" = "{}"
"topic.metadata.refresh.interval.ms" = 1000
"reconnect.backoff.max.ms" = 500
{}

{}[spool]
dir = "{}"

{})",
                                             gateway_id, mqtt_uri, client_id, mqtt_properties, bootstrap,
                                             kafka_properties, http, (dir_ / "spool").string(), sections);
}

Bridge::~Bridge() {
  if (process_ && process_->running()) process_->terminate(std::chrono::seconds(30));
}

void Bridge::start() { wait_for_readyz(true); }

void Bridge::launch() { wait_for_readyz(false); }

void Bridge::wait_for_readyz(bool until_ready) {
  ProcessOptions options =
      ProcessOptions{}.without_stdout_capture().with_stderr_file(log_file()).with_env("ARCHER_LOG_TIMESTAMPS=1");
  for (const std::string& entry : env_) options.with_env(entry);
  std::vector<std::string> argv = wrapper_;
  argv.insert(argv.end(), {std::string(ARCHER_BIN_DIR) + "/archer-bridge", "--config", config_file_.string()});
  process_ = std::make_unique<Process>(argv, options);
  // The endpoint answers once the bridge's loop runs, that is after every part has started; 200
  // once every part says it is ready.
  std::string last = "no answer";
  const bool answered = wait_until(
      [&] {
        if (!process_->running()) return true;
        const auto reply = http_get(http_port_, "/readyz", std::chrono::seconds(1));
        last = reply ? fmt::format("{} {}", reply->status, reply->body) : "no answer";
        return reply && (reply->status == 200 || !until_ready);
      },
      std::chrono::seconds(wrapper_.empty() ? 20 : 60), std::chrono::milliseconds(20));
  ASSERT_TRUE(answered && process_->running()) << "archer-bridge did not " << (until_ready ? "become ready" : "answer")
                                               << " (GET /readyz on port " << http_port_ << ": " << last << "):\n"
                                               << log();
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
