// Devices written by someone else, from the published schemas and docs alone: a Python device whose
// FlatBuffers code flatc generates here, from schemas/device_command.fbs and device_response.fbs,
// speaking MQTT 5 or 3.1.1 through Debian's paho-mqtt. The gateway must get every answer through,
// on archer-devkafka and on a real Apache Kafka node.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "archer/schemas/event_generated.h"
#include "archer/testing/bridge.h"
#include "archer/testing/command_writer.h"
#include "archer/testing/on_both_brokers.h"
#include "archer/testing/testing.h"
#include "archer/testing/valves_section.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Bridge;
using archer::testing::CommandWriter;
using archer::testing::KafkaConsumerForTest;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::TempDir;
namespace evt = archer::event;

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, with python3-paho-mqtt and python3-flatbuffers

// On archer-devkafka and on Apache Kafka (OnBothBrokers): two devices at once, one speaking MQTT 5
// (answers on the request's response topic with its correlation data), one MQTT 3.1.1 (answers on
// devices/<id>/responses).
class OutsideDeviceTest : public archer::testing::OnBothBrokers {
 protected:
  void SetUp() override {
    OnBothBrokers::SetUp();
    if (IsSkipped()) return;
    const std::string generate =
        fmt::format("{} --python -o {} {}/schemas/device_command.fbs {}/schemas/device_response.fbs", FLATC,
                    generated_.path().string(), ARCHER_SOURCE_DIR, ARCHER_SOURCE_DIR);
    ASSERT_EQ(std::system(generate.c_str()), 0) << generate;
    topics_ = {topic("cmd.valves", 2), topic("tx.valves", 2), topic("evt.valves", 2), topic("dlq.valves", 1)};
  }

  // Starts a device for `devices` (comma-separated ids); returns once it has subscribed.
  std::unique_ptr<Process> start_device(const std::string& mqtt_version, const std::string& devices) {
    auto device = std::make_unique<Process>(
        std::vector<std::string>{
            kPython, std::string(ARCHER_SOURCE_DIR) + "/tests/integration/outside_device/device.py", "--uri",
            mqtt_.uri(), "--generated", generated_.path().string(), "--mqtt", mqtt_version, "--devices", devices},
        ProcessOptions{}.with_stderr_file(generated_.path() / fmt::format("device-{}.err", mqtt_version)));
    const auto line = device->read_line(15s);
    EXPECT_EQ(line.value_or("(nothing)"), "ready") << "the Python device did not start";
    return device;
  }

  TempDir generated_{"archer-outside-device"};
  archer::testing::ValveTopics topics_;
};

TEST_P(OutsideDeviceTest, EveryCommandSucceedsAndEachDeviceActsOncePerCommand) {
  const std::map<std::string, std::string> prefix_of{{"5", "ext5-"}, {"3", "ext3-"}};
  std::map<std::string, std::unique_ptr<Process>> devices;
  for (const auto& [version, prefix] : prefix_of) {
    std::string ids;
    for (int d = 0; d < 5; ++d) ids += fmt::format("{}{}{}", ids.empty() ? "" : ",", prefix, d);
    devices[version] = start_device(version, ids);
  }
  auto gateway = bridge(archer::testing::valves_section(topics_));
  gateway->start();
  CommandWriter writer(bootstrap(), topics_.commands);
  std::set<std::string> ids;
  for (const auto& [version, prefix] : prefix_of) {
    for (int n = 0; n < 20; ++n) {
      ids.insert(writer.write(fmt::format("{}{}", prefix, n % 5), n % 2 == 0 ? "open" : "close"));
    }
  }
  const std::string unknown = writer.write("ext5-0", "dance");
  writer.flush();

  KafkaConsumerForTest events(bootstrap(), {topics_.events});
  const auto outcomes = events.consume_until(41, 60s);
  ASSERT_EQ(outcomes.size(), 41u) << gateway->log();
  std::map<std::string, evt::OutcomeStatus> status;
  for (const auto& record : outcomes) {
    const auto* outcome = evt::GetCommandOutcome(record.value.data());
    status[outcome->command_id()->str()] = outcome->status();
  }
  for (const std::string& id : ids) {
    EXPECT_EQ(status.at(id), evt::OutcomeStatus::SUCCEEDED) << id << "\n" << gateway->log();
  }
  EXPECT_EQ(status.at(unknown), evt::OutcomeStatus::REJECTED);

  for (const auto& [version, device] : devices) {
    std::set<std::string> interactions;
    for (auto line = device->read_line(1s); line; line = device->read_line(1s)) {
      if (line->rfind("acted ", 0) == 0) {
        EXPECT_TRUE(interactions.insert(*line).second) << "acted twice: " << *line;
      }
    }
    EXPECT_EQ(interactions.size(), 20u) << "the MQTT " << version << " device";
  }
  EXPECT_EQ(gateway->stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Brokers, OutsideDeviceTest, ::testing::ValuesIn(archer::testing::all_kafka_kinds()),
                         archer::testing::kafka_kind_name);

}  // namespace
