// The programs' command lines, as an operator uses them: exit codes and the words of the messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "archer/testing/testing.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::TempDir;

struct Outcome {
  int status;
  std::string stdout_text;
  std::string stderr_text;
};

Outcome run(const TempDir& dir, std::vector<std::string> argv) {
  const auto err = dir / "stderr.txt";
  std::filesystem::remove(err);
  Process process(std::move(argv), ProcessOptions{}.with_stderr_file(err));
  std::string out = process.read_all(30s);
  const auto status = process.wait_exit(30s);
  EXPECT_TRUE(status) << "did not exit";
  return {status.value_or(-1), out, archer::testing::read_file(err)};
}

// Replaces the value of the first `key = "..."` line.
std::string with_value(std::string text, const std::string& key, const std::string& value) {
  const auto at = text.find("\n" + key + " = \"");
  EXPECT_NE(at, std::string::npos) << key;
  const auto begin = at + key.size() + 5;
  text.replace(begin, text.find('"', begin) - begin, value);
  return text;
}

// config/quickstart.toml, with its schema path pointed at this build's schemas.
std::string quickstart_config() {
  std::ifstream in(std::string(ARCHER_SOURCE_DIR) + "/config/quickstart.toml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return with_value(text, "schema", std::string(ARCHER_SCHEMA_DIR) + "/telemetry.bfbs");
}

const std::string kBridge = std::string(ARCHER_BIN_DIR) + "/archer-bridge";

// "line:col" of the first character of `needle` in `text`.
std::string position_of(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  const auto line_start = text.rfind('\n', at);
  const auto column = line_start == std::string::npos ? at + 1 : at - line_start;
  return fmt::format("{}:{}", std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n') + 1,
                     column);
}

// Inserts `lines` after the line that contains `anchor`.
std::string insert_after(std::string text, const std::string& anchor, const std::string& lines) {
  const auto at = text.find(anchor);
  EXPECT_NE(at, std::string::npos) << anchor;
  text.insert(text.find('\n', at) + 1, lines);
  return text;
}

// The problems of a config that --check-config and a plain start both report, exactly.
void expect_problems(const TempDir& dir, const std::vector<std::string>& problems) {
  const std::string file = (dir / "gw.toml").string();
  std::string expected;
  for (const std::string& problem : problems) expected += file + ":" + problem + "\n";
  expected += fmt::format("archer-bridge: {}: {} problem{}\n", file, problems.size(), problems.size() == 1 ? "" : "s");
  const Outcome checked = run(dir, {kBridge, "--check-config", file});
  EXPECT_EQ(checked.status, 2);
  EXPECT_EQ(checked.stderr_text, expected);
  const Outcome started = run(dir, {kBridge, "--config", file});
  EXPECT_EQ(started.status, 2);
  EXPECT_EQ(started.stderr_text, expected);
}

TEST(Cli, QuickstartConfigIsValid) {
  TempDir dir("cli");
  std::ofstream(dir / "gw.toml") << quickstart_config();
  const Outcome result = run(dir, {kBridge, "--check-config", (dir / "gw.toml").string()});
  EXPECT_EQ(result.status, 0) << result.stderr_text;
  EXPECT_NE(result.stdout_text.find("ok"), std::string::npos);
  EXPECT_EQ(run(dir, {kBridge, "--config", (dir / "gw.toml").string(), "--check-config"}).status, 0);
}

TEST(Cli, AnUnknownKeyExitsTwoNamingTheKeyAndItsLine) {
  TempDir dir("cli");
  const std::string text = quickstart_config() + "colour = \"blue\"\n";
  std::ofstream(dir / "gw.toml") << text;
  const auto line = std::count(text.begin(), text.end(), '\n');
  const Outcome result = run(dir, {kBridge, "--check-config", (dir / "gw.toml").string()});
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.stderr_text.find(fmt::format("gw.toml:{}:1: actuator[0].colour: unknown key", line)),
            std::string::npos)
      << result.stderr_text;
}

TEST(Cli, ABadDurationExitsTwoNamingTheKey) {
  TempDir dir("cli");
  const std::string text = with_value(quickstart_config(), "timeout", "5 seconds");
  std::ofstream(dir / "gw.toml") << text;
  const Outcome result = run(dir, {kBridge, "--check-config", (dir / "gw.toml").string()});
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.stderr_text.find("actuator[0].timeout: '5 seconds' has an unknown unit ' seconds'"),
            std::string::npos)
      << result.stderr_text;
}

TEST(Cli, ABindFieldNotInTheSchemaExitsTwo) {
  TempDir dir("cli");
  std::string text = quickstart_config();
  text.replace(text.find("bind = { device = \"device\" }"), 28, "bind = { device = \"device\", serial = \"device\" }");
  std::ofstream(dir / "gw.toml") << text;
  expect_problems(dir, {position_of(text, "\"device\" }") +
                        ": ingest[0].bind.serial: archer.telemetry.Telemetry has no "
                        "field \"serial\" (schema " +
                        std::string(ARCHER_SCHEMA_DIR) + "/telemetry.bfbs)"});
}

TEST(Cli, AMissingSchemaExitsTwo) {
  TempDir dir("cli");
  const std::string text = with_value(quickstart_config(), "schema", "schemas/nope.bfbs");
  std::ofstream(dir / "gw.toml") << text;
  expect_problems(dir, {position_of(text, "\"schemas/nope.bfbs\"") + ": ingest[0].schema: file '" +
                        (dir / "schemas/nope.bfbs").string() + "' does not exist"});
}

TEST(Cli, ACorruptSchemaExitsTwo) {
  TempDir dir("cli");
  std::mt19937 random(7);
  std::string bytes(512, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  std::ofstream(dir / "corrupt.bfbs", std::ios::binary) << bytes;
  const std::string text = with_value(quickstart_config(), "schema", "corrupt.bfbs");
  std::ofstream(dir / "gw.toml") << text;
  expect_problems(dir,
                  {position_of(text, "\"corrupt.bfbs\"") + ": ingest[0].schema: " + (dir / "corrupt.bfbs").string() +
                   ": not a binary schema (no \"BFBS\" file identifier; compile it with `flatc -b --schema`)"});
}

TEST(Cli, AnUnknownLibrdkafkaPropertyExitsTwo) {
  TempDir dir("cli");
  const std::string text = insert_after(quickstart_config(), "\"bootstrap.servers\"", "\"bogus.property\" = \"on\"\n");
  std::ofstream(dir / "gw.toml") << text;
  expect_problems(dir, {position_of(text, "\"on\"") + ": kafka.\"bogus.property\": refused by librdkafka: No such "
                                                      "configuration property: \"bogus.property\""});
}

TEST(Cli, EveryProblemAfterParsingIsReportedInOneRun) {
  TempDir dir("cli");
  std::string text = with_value(quickstart_config(), "listen", "localhost:9464");
  text = insert_after(text, "\"bootstrap.servers\"", "\"acks\" = \"maybe\"\n");
  text.replace(text.find("bind = { device = \"device\" }"), 28, "bind = { seq = \"device\" }");
  std::ofstream(dir / "gw.toml") << text;
  expect_problems(dir, {
                           position_of(text, "\"maybe\"") +
                               ": kafka.\"acks\": refused by librdkafka: Invalid value for configuration property "
                               "\"request.required.acks\"",
                           position_of(text, "\"localhost:9464\"") +
                               ": http.listen: 'localhost' is not an IP address (Invalid argument): e.g. "
                               "\"127.0.0.1:9464\" or \"[::1]:9464\"",
                       });
  // A property librdkafka takes alone but not with the producer's defaults.
  text = with_value(quickstart_config(), "listen", "127.0.0.1:9464");
  text = insert_after(text, "\"bootstrap.servers\"", "\"acks\" = \"1\"\n");
  std::ofstream(dir / "gw.toml") << text;
  expect_problems(dir, {position_of(text, "[kafka]") +
                        ": kafka: librdkafka cannot make a producer with these properties: `acks` must be set to "
                        "`all` when `enable.idempotence` is true"});
}

TEST(Cli, ArcherCtlFlagErrorsExitTwoWithOneLine) {
  TempDir dir("cli");
  std::ofstream(dir / "gw.toml") << quickstart_config();
  const std::string ctl = std::string(ARCHER_BIN_DIR) + "/archer-ctl";
  const std::string config = (dir / "gw.toml").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{ctl, "tail", "raw.telemetry", "--config", config, "--count", "x"},
       "archer-ctl tail: --count: 'x' is not a whole number\n"},
      {{ctl, "tail", "raw.telemetry", "--config", config, "--count"}, "archer-ctl tail: --count needs a value\n"},
      {{ctl, "command", "--config", config, "--device", "valve-0001", "--action", "open", "--wait", "forever"},
       "archer-ctl command: --wait: 'forever' is not a duration: expected a whole number with a unit, e.g. ms, s, m or "
       "h (\"5s\")\n"},
      {{ctl, "command", "--config", config, "--device", "valve-0001"}, "archer-ctl command: --action is required\n"},
      {{ctl, "command", "--config", config, "--device", "valve-0001/commands", "--action", "open"},
       "archer-ctl command: --device: 'valve-0001/commands' contains '/' (a topic level separator); a device id is "
       "[A-Za-z0-9._:-]{1,128}\n"},
      {{ctl, "tx", "--config", config, "--colour", "red"}, "archer-ctl tx: unknown flag '--colour'\n"},
      {{ctl, "tx", "--config", config}, "archer-ctl tx: --device ID or --command ID is required\n"},
      {{ctl, "frobnicate"}, "archer-ctl: unknown command 'frobnicate' (archer-ctl --help lists them)\n"},
  };
  for (const auto& [argv, message] : cases) {
    const Outcome result = run(dir, argv);
    EXPECT_EQ(result.status, 2) << argv[1];
    EXPECT_EQ(result.stderr_text, message);
  }
}

TEST(Cli, VersionAndUsage) {
  TempDir dir("cli");
  const Outcome version = run(dir, {kBridge, "--version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.stdout_text.rfind("archer-bridge ", 0), 0u);
  const Outcome unknown = run(dir, {kBridge, "--frobnicate"});
  EXPECT_EQ(unknown.status, 64);
  EXPECT_NE(unknown.stderr_text.find("unknown argument '--frobnicate'"), std::string::npos);
}

}  // namespace
