// Devices written by someone else, from the published schemas and docs alone: a Python device whose
// FlatBuffers code flatc generates here, from schemas/device_command.fbs and device_response.fbs,
// speaking MQTT 5 or 3.1.1 through Debian's paho-mqtt. The gateway must get every answer through.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "archer/schemas/event_generated.h"
#include "archer/testing/bridge.h"
#include "archer/testing/command_writer.h"
#include "archer/testing/testing.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Bridge;
using archer::testing::CommandWriter;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::KafkaConsumerForTest;
using archer::testing::Mosquitto;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::TempDir;
namespace evt = archer::event;

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, with python3-paho-mqtt and python3-flatbuffers

class OutsideDeviceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string generate = fmt::format("{} --python -o {} {}/schemas/device_command.fbs {}/schemas/device_response.fbs",
                                             FLATC, generated_.path().string(), ARCHER_SOURCE_DIR, ARCHER_SOURCE_DIR);
    ASSERT_EQ(std::system(generate.c_str()), 0) << generate;
  }

  // Starts the device; returns once it has subscribed.
  std::unique_ptr<Process> start_device(const std::string& mqtt_version) {
    auto device = std::make_unique<Process>(
        std::vector<std::string>{kPython, std::string(ARCHER_SOURCE_DIR) + "/tests/integration/outside_device/device.py",
                                 "--uri", mqtt_.uri(), "--generated", generated_.path().string(), "--mqtt",
                                 mqtt_version},
        ProcessOptions{}.with_stderr_file(generated_.path() / "device.err"));
    const auto line = device->read_line(15s);
    EXPECT_EQ(line.value_or("(nothing)"), "ready") << "the Python device did not start";
    return device;
  }

  DevKafka kafka_{DevKafkaOptions().with_topic("cmd.valves:2").with_topic("tx.valves:2").with_topic("evt.valves:2")};
  Mosquitto mqtt_;
  TempDir generated_{"archer-outside-device"};
};

TEST_P(OutsideDeviceTest, EveryCommandSucceedsAndEachDeviceActsOncePerCommand) {
  auto device = start_device(GetParam());
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), R"([[actuator]]
name = "valves"
commands = "cmd.valves"
transactions = "tx.valves"
events = "evt.valves"
timeout = "2s"
)");
  bridge.start();
  CommandWriter writer(kafka_.bootstrap());
  std::set<std::string> ids;
  for (int n = 0; n < 20; ++n) ids.insert(writer.write(fmt::format("ext-{}", n % 5), n % 2 == 0 ? "open" : "close"));
  const std::string unknown = writer.write("ext-0", "dance");
  writer.flush();

  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  const auto outcomes = events.consume_until(21, 60s);
  ASSERT_EQ(outcomes.size(), 21u) << bridge.log();
  std::map<std::string, evt::OutcomeStatus> status;
  for (const auto& record : outcomes) {
    const auto* outcome = evt::GetCommandOutcome(record.value.data());
    status[outcome->command_id()->str()] = outcome->status();
  }
  for (const std::string& id : ids) EXPECT_EQ(status.at(id), evt::OutcomeStatus::SUCCEEDED) << id << "\n" << bridge.log();
  EXPECT_EQ(status.at(unknown), evt::OutcomeStatus::REJECTED);

  std::set<std::string> interactions;
  for (auto line = device->read_line(1s); line; line = device->read_line(1s)) {
    if (line->rfind("acted ", 0) == 0) {
      EXPECT_TRUE(interactions.insert(*line).second) << "acted twice: " << *line;
    }
  }
  EXPECT_EQ(interactions.size(), 20u);
  EXPECT_EQ(bridge.stop(), 0);
}

std::string version_name(const ::testing::TestParamInfo<std::string>& param) {
  return param.param == "5" ? "Mqtt5" : "Mqtt311";
}

INSTANTIATE_TEST_SUITE_P(Mqtt, OutsideDeviceTest, ::testing::Values("5", "3"), version_name);

}  // namespace
