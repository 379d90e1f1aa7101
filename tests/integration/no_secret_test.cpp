// No secret appears in any output. One unique MQTT password (Mosquitto with a password file and no
// anonymous access) and one unique Kafka SASL password, each in a 0600 file named by the config;
// then every output an operator sees is searched for both: the bridge's log (librdkafka's debug
// output included), --check-config on a good and on broken configs, /metrics, /status.json, the
// status page, archer-ctl (topics, command, tail) and what the bridge prints when it crashes.
// archer-devkafka has no SASL: the Kafka password is configured but unused on its plaintext
// listener, which is enough to show where it travels; tests/kafka/security_test.cpp uses it for real.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "archer/testing/bridge.h"
#include "archer/testing/testing.h"
#include "archer/testing/valves_section.h"
#include "figures.h"

namespace {

using namespace std::chrono_literals;
using namespace archer::testing;
using archer::faults::http_request;

std::string random_secret(const std::string& prefix) {
  std::random_device device;
  return fmt::format("{}-{:08x}{:08x}", prefix, device(), device());
}

void write_file(const std::filesystem::path& file, const std::string& text, mode_t mode) {
  std::ofstream(file, std::ios::trunc) << text;
  ::chmod(file.c_str(), mode);
}

struct Outcome {
  int status = -1;
  std::string output;  // stdout and stderr
};

Outcome run(const TempDir& dir, std::vector<std::string> argv) {
  const auto err = dir / "run.stderr";
  std::filesystem::remove(err);
  Process process(std::move(argv), ProcessOptions{}.with_stderr_file(err));
  std::string out = process.read_all(60s);
  const auto status = process.wait_exit(60s);
  EXPECT_TRUE(status) << "did not exit";
  return {status.value_or(-1), out + read_file(err)};
}

const std::string kBridge = std::string(ARCHER_BIN_DIR) + "/archer-bridge";
const std::string kCtl = std::string(ARCHER_BIN_DIR) + "/archer-ctl";

// The secrets and the Mosquitto that needs one of them, made before the broker starts.
struct Secrets {
  TempDir dir{"archer-no-secret"};
  std::string mqtt = random_secret("s3cr3t-mqtt");
  std::string kafka = random_secret("s3cr3t-kafka");
  std::filesystem::path mqtt_file = dir / "mqtt.pass";
  std::filesystem::path kafka_file = dir / "kafka.pass";

  Secrets() {
    write_file(mqtt_file, mqtt + "\n", 0600);
    write_file(kafka_file, kafka + "\n", 0600);
    const Outcome made = run(dir, {"mosquitto_passwd", "-b", "-c", (dir / "passwd").string(), "archer", mqtt});
    EXPECT_EQ(made.status, 0) << made.output;
  }
  MosquittoOptions broker() const {
    return {fmt::format("allow_anonymous false\npassword_file {}\n", (dir / "passwd").string())};
  }
};

class NoSecretInAnyOutput : public ::testing::Test {
 protected:
  // Every place `text` (from `where`) shows either secret fails the test.
  void expect_no_secret(const std::string& where, const std::string& text) {
    for (const std::string& secret : {secrets_.mqtt, secrets_.kafka}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << where << " shows a secret:\n" << text;
    }
    ++outputs_checked_;
  }

  Secrets secrets_;
  Mosquitto mqtt_{secrets_.broker()};
  DevKafka kafka_;
  int outputs_checked_ = 0;
};

TEST_F(NoSecretInAnyOutput, LogsCheckConfigHttpArcherCtlAndACrashShowNeitherPassword) {
  for (const char* topic : {"raw.telemetry", "dlq.telemetry", "cmd.valves", "tx.valves", "evt.valves", "dlq.valves"}) {
    kafka_.create_topic(topic, 1);
  }
  const std::string mqtt_properties =
      fmt::format("username = \"archer\"\npassword_file = \"{}\"\n", secrets_.mqtt_file.string());
  // librdkafka's own debug output goes to the log too (at debug level).
  const std::string kafka_properties = fmt::format(
      "\"sasl.mechanisms\" = \"SCRAM-SHA-512\"\n\"sasl.username\" = \"archer\"\n\"sasl.password_file\" = \"{}\"\n"
      "\"debug\" = \"conf,security,broker,protocol,generic\"\n",
      secrets_.kafka_file.string());
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(),
                "[log]\nlevel = \"debug\"\n\n" + archer::faults::telemetry_section() + valves_section(),
                "archer-test-gw", kafka_properties, "gw-secret", mqtt_properties);
  const std::string config = bridge.config_file().string();

  // --check-config, good.
  Outcome checked = run(secrets_.dir, {kBridge, "--config", config, "--check-config"});
  EXPECT_EQ(checked.status, 0) << checked.output;
  expect_no_secret("--check-config", checked.output);

  // The bridge connects to Mosquitto with the password (no anonymous access there).
  bridge.start();
  EXPECT_NE(read_file(mqtt_.log_file()).find("u'archer'"), std::string::npos) << "the bridge logged in as archer";
  for (const char* path : {"/metrics", "/status.json", "/", "/readyz", "/healthz", "/devices"}) {
    const auto reply = http_request(bridge.http_port(), path);
    ASSERT_TRUE(reply) << path;
    expect_no_secret(path, reply->body);
  }

  // archer-ctl with the same config.
  Outcome topics = run(secrets_.dir, {kCtl, "topics", "--config", config});
  expect_no_secret("archer-ctl topics", topics.output);
  Outcome command = run(secrets_.dir, {kCtl, "command", "--config", config, "--actuator", "valves", "--device",
                                       "valve-0001", "--action", "ping"});
  EXPECT_EQ(command.status, 0) << command.output;
  expect_no_secret("archer-ctl command", command.output);
  Outcome tail =
      run(secrets_.dir, {kCtl, "tail", "cmd.valves", "--config", config, "--from-beginning", "--count", "1"});
  EXPECT_EQ(tail.status, 0) << tail.output;
  expect_no_secret("archer-ctl tail", tail.output);

  // A crash: what the bridge prints on SIGSEGV ends its log.
  bridge.process()->kill(SIGSEGV);
  EXPECT_TRUE(bridge.process()->wait_exit(30s));
  const std::string log = bridge.log();
  EXPECT_NE(log.find("debug kafka"), std::string::npos) << "librdkafka's debug output is in the log";
  expect_no_secret("the bridge's log", log);

  // --check-config, broken: a password file others may read, and a password written inline.
  std::string text = read_file(bridge.config_file());
  write_file(secrets_.dir / "open.pass", secrets_.mqtt + "\n", 0644);
  const std::string open_config = (secrets_.dir / "open.toml").string();
  std::string open_text = text;
  open_text.replace(open_text.find(secrets_.mqtt_file.string()), secrets_.mqtt_file.string().size(),
                    (secrets_.dir / "open.pass").string());
  write_file(open_config, open_text, 0600);
  Outcome open = run(secrets_.dir, {kBridge, "--config", open_config, "--check-config"});
  EXPECT_EQ(open.status, 2) << open.output;
  EXPECT_NE(open.output.find("is readable by group or others (mode 0644); chmod 600 it"), std::string::npos)
      << open.output;
  expect_no_secret("--check-config with an open password file", open.output);

  const std::string inline_config = (secrets_.dir / "inline.toml").string();
  std::string inline_text = text;
  const std::string file_key = fmt::format("\"sasl.password_file\" = \"{}\"", secrets_.kafka_file.string());
  inline_text.replace(inline_text.find(file_key), file_key.size(),
                      fmt::format("\"sasl.password\" = \"{}\"", secrets_.kafka));
  write_file(inline_config, inline_text, 0600);
  Outcome inline_secret = run(secrets_.dir, {kBridge, "--config", inline_config, "--check-config"});
  EXPECT_EQ(inline_secret.status, 2) << inline_secret.output;
  EXPECT_NE(inline_secret.output.find("use \"sasl.password_file\" = \"/path\""), std::string::npos)
      << inline_secret.output;
  expect_no_secret("--check-config with an inline password", inline_secret.output);
  Outcome ctl_inline = run(secrets_.dir, {kCtl, "topics", "--config", inline_config});
  EXPECT_EQ(ctl_inline.status, 2) << ctl_inline.output;
  expect_no_secret("archer-ctl topics with an inline password", ctl_inline.output);
  std::cout << outputs_checked_ << " outputs searched for both secrets\n";
}

}  // namespace
