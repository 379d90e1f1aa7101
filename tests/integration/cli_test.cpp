// The programs' command lines, as an operator uses them: exit codes and the words of the messages.
#include <gtest/gtest.h>

#include <fstream>

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
  EXPECT_NE(result.stderr_text.find(fmt::format("gw.toml:{}:1: actuator[0].colour: unknown key", line)), std::string::npos)
      << result.stderr_text;
}

TEST(Cli, ABadDurationExitsTwoNamingTheKey) {
  TempDir dir("cli");
  const std::string text = with_value(quickstart_config(), "timeout", "5 seconds");
  std::ofstream(dir / "gw.toml") << text;
  const Outcome result = run(dir, {kBridge, "--check-config", (dir / "gw.toml").string()});
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.stderr_text.find("actuator[0].timeout: '5 seconds' has an unknown unit ' seconds'"), std::string::npos)
      << result.stderr_text;
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
